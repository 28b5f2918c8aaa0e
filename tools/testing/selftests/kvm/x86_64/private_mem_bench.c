// SPDX-License-Identifier: GPL-2.0
/*
 * Private memory benchmark: how KVM maps guest memory, by backing store.
 *
 * One row per backing, each a fresh VM of one vCPU with a data memslot of
 * the same size at GPA 4G: shared anonymous 4K, shared hugetlb 2M and 1G
 * (the hva path), private guest_memfd (upstream, 4K, the baseline), private
 * inaccessible memfd on shmem, on hugetlb 2M and on hugetlb 1G.  For each
 * row:
 *
 *  - populate: the guest touches every 4K page once; wall time, KVM page
 *    faults (pf_taken) and mappings (pages_4k/2m/1g) of the data slot;
 *  - steady: time of N more passes;
 *  - conversion (private rows): 4K, 2M and 1G ranges at the middle
 *    converted private->shared (latency of KVM_SET_MEMORY_ATTRIBUTES,
 *    mappings it destroyed, mappings while the guest touches the now mixed
 *    range) and back (latency, mappings after the guest re-touches it);
 *  - memory: hugetlb bytes in use per guest byte at the end, with a VMM
 *    that seals its shared memfd with F_SEAL_AUTO_ALLOCATE, allocates the
 *    shared side of a conversion by fallocate() and punches what each
 *    conversion frees (1.00: no double allocation).
 *
 * It prints two tables, each under a header line that starts with
 * "backing", one row per line, columns separated by blanks, numbers
 * without units (the unit is in the column's name).  harness/bench.sh
 * turns them into CSV, ratios, a chart and the checks of the targets.
 * Times under emulation are not hardware times; counts and the ratios
 * within one run are what to read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kvm_util.h"
#include "private_mem_util.h"
#include "processor.h"
#include "test_util.h"

#define NR_CONV 3
static const uint64_t conv_sizes[NR_CONV] = { SZ_4K, SZ_2M, SZ_1G };

struct result {
	const char *skip;
	double populate, steady;
	uint64_t faults, pages[3];
	bool conv_ran[NR_CONV];
	struct pm_conversion conv[NR_CONV];
	double mem;			/* < 0: not a hugetlb row */
};

static struct result results[ARRAY_SIZE(pm_backings)];
static uint64_t size = 2ULL << 30;
static int passes = 3;

static void run_row(const struct pm_backing *b, struct result *r)
{
	uint64_t used0 = pm_pool_used_bytes();
	struct pm_counts c0, c1;
	struct pm_vm s;
	double t;
	int i;

	r->skip = pm_backing_unsupported(b, size);
	if (r->skip)
		return;

	pm_vm_create(&s, b, size);
	pm_read_counts(s.vcpu, &c0);
	t = pm_now();
	pm_guest_do(s.vcpu, PM_WRITE, PM_DATA_GPA, size, 0x1);
	r->populate = pm_now() - t;
	pm_read_counts(s.vcpu, &c1);
	r->faults = c1.faults - c0.faults;
	for (i = 0; i < 3; i++)
		r->pages[i] = c1.pages[i] - c0.pages[i];

	t = pm_now();
	for (i = 0; i < passes; i++)
		pm_guest_do(s.vcpu, PM_WRITE, PM_DATA_GPA, size, 0x2 + i);
	r->steady = pm_now() - t;

	for (i = 0; b->kind != PM_SHARED && i < NR_CONV; i++) {
		if (conv_sizes[i] > size / 2)
			continue;
		pm_convert(&s, size / 2, conv_sizes[i], &r->conv[i]);
		r->conv_ran[i] = true;
	}

	r->mem = b->page > SZ_4K ?
		 (double)(pm_pool_used_bytes() - used0) / size : -1;
	pm_vm_destroy(&s);
}

static void print_tables(void)
{
	int i, j;

	printf("\n%-20s %8s %8s %8s %8s %8s %10s %8s\n", "backing",
	       "size_mb", "faults", "pages_4k", "pages_2m", "pages_1g",
	       "populate_s", "steady_s");
	for (i = 0; i < ARRAY_SIZE(pm_backings); i++) {
		const struct result *r = &results[i];

		if (r->skip)
			continue;
		printf("%-20s %8lu %8lu %8lu %8lu %8lu %10.2f %8.2f\n",
		       pm_backings[i].name, size >> 20, r->faults, r->pages[0],
		       r->pages[1], r->pages[2], r->populate, r->steady);
	}

	printf("\n%-20s %8s %12s %13s %9s %8s %8s %8s %8s %8s %8s %9s\n",
	       "backing", "range_kb", "to_shared_us", "to_private_us",
	       "destroyed", "mixed_4k", "mixed_2m", "mixed_1g", "after_4k",
	       "after_2m", "after_1g", "mem_ratio");
	for (i = 0; i < ARRAY_SIZE(pm_backings); i++) {
		const struct result *r = &results[i];

		for (j = 0; !r->skip && j < NR_CONV; j++) {
			const struct pm_conversion *c = &r->conv[j];

			if (!r->conv_ran[j])
				continue;
			printf("%-20s %8lu %12.1f %13.1f %9lu %8lu %8lu %8lu %8lu %8lu %8lu",
			       pm_backings[i].name, conv_sizes[j] >> 10,
			       c->to_shared * 1e6, c->to_private * 1e6,
			       c->destroyed, c->mixed[0], c->mixed[1],
			       c->mixed[2], c->after[0], c->after[1],
			       c->after[2]);
			if (r->mem >= 0)
				printf(" %9.2f\n", r->mem);
			else
				printf(" %9s\n", "-");
		}
	}
}

int main(int argc, char *argv[])
{
	int opt, i;

	while ((opt = getopt(argc, argv, "s:n:h")) != -1) {
		switch (opt) {
		case 's':
			size = pm_parse_size(optarg);
			break;
		case 'n':
			passes = atoi_positive("passes", optarg);
			break;
		default:
			printf("usage: %s [-s size (default 2G)] [-n passes (default 3)]\n",
			       argv[0]);
			exit(opt == 'h' ? 0 : 1);
		}
	}
	TEST_ASSERT(size >= SZ_2G && !(size % SZ_1G),
		    "size must be a multiple of 1G, at least 2G");

	printf("private memory benchmark: %lu MiB guest memory, %d steady passes\n",
	       size >> 20, passes);
	pm_print_pool("pool before");
	for (i = 0; i < ARRAY_SIZE(pm_backings); i++) {
		run_row(&pm_backings[i], &results[i]);
		printf("%-20s %s\n", pm_backings[i].name,
		       results[i].skip ? results[i].skip : "done");
		fflush(stdout);
	}
	pm_print_pool("pool after");
	print_tables();
	return 0;
}
