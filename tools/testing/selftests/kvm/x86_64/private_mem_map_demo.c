// SPDX-License-Identifier: GPL-2.0
/*
 * How KVM maps guest memory, by backing store: a demo that checks what it
 * shows.
 *
 * For each backing, a fresh VM gets one data memslot; its vCPU touches every
 * 4K page once and the program prints the KVM page faults that took and the
 * NPT/EPT mappings KVM installed for it (pages_4k/pages_2m/pages_1g).  A
 * private hugetlb backing then converts one 4K page to shared and back and
 * prints the mappings of the mixed huge page and of the page made private
 * again.  The hugetlb pools are printed before and after each row.
 *
 * It fails when KVM maps a backing below its page size, or when a hugetlb
 * pool does not come back after the VM.  Rows whose pool is too small are
 * skipped with the reason.
 *
 * -b BACKING (repeatable) picks the rows, -s SIZE sets every row's size:
 * "make run" shows a 2 GiB guest whose RAM is private memory on 1G pages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kvm_util.h"
#include "private_mem_util.h"
#include "processor.h"
#include "test_util.h"

/* The rows without -b, with their sizes: quick under emulation. */
static const struct {
	const char *backing;
	uint64_t size;
} default_rows[] = {
	{ "shared-anon-4K", SZ_256M },
	{ "shared-hugetlb-2M", SZ_1G },
	{ "shared-hugetlb-1G", SZ_1G },
	{ "private-guest_memfd", SZ_256M },
	{ "private-memfd-shmem", SZ_256M },
	{ "private-memfd-2M", SZ_256M },
	{ "private-memfd-1G", SZ_1G },
};

static void print_pages(const char *what, const uint64_t p[3])
{
	printf("  %-34s pages_4k %7lu  pages_2m %4lu  pages_1g %lu\n", what,
	       p[0], p[1], p[2]);
}

/* Returns false when the row was skipped. */
static bool run_row(const struct pm_backing *b, uint64_t size)
{
	uint64_t free0 = pm_hugetlb(b->page, "free_hugepages");
	uint64_t resv0 = pm_hugetlb(b->page, "resv_hugepages");
	int level = b->page == SZ_1G ? 2 : b->page == SZ_2M ? 1 : 0;
	const char *skip = pm_backing_unsupported(b, size);
	struct pm_conversion c;
	struct pm_counts c0, c1;
	uint64_t pages[3], off;
	struct pm_vm s;
	int i;

	printf("\n%s, %lu MiB at GPA 4 GiB", b->name, size >> 20);
	if (skip) {
		printf(": SKIP, %s\n", skip);
		return false;
	}
	printf("\n");
	if (b->page > SZ_4K)
		pm_print_pool("  pool before");

	pm_vm_create(&s, b, size);
	pm_read_counts(s.vcpu, &c0);
	pm_guest_do(s.vcpu, PM_WRITE, PM_DATA_GPA, size, 0x1);
	pm_read_counts(s.vcpu, &c1);
	for (i = 0; i < 3; i++)
		pages[i] = c1.pages[i] - c0.pages[i];
	printf("  the guest touched each 4K page once: %lu KVM page faults\n",
	       c1.faults - c0.faults);
	print_pages("mappings of the data slot:", pages);
	if (b->page > SZ_4K)
		pm_print_pool("  pool with the guest running");

	/* Every page of the backing is mapped at its own level. */
	TEST_ASSERT(pages[level] >= size / b->page,
		    "%s: %lu mappings of %zuK, want %lu", b->name, pages[level],
		    b->page >> 10, size / b->page);

	if (b->kind == PM_MEMFD && b->page > SZ_4K) {
		off = size / 2;
		pm_convert(&s, off, SZ_4K, &c);
		printf("  4K at GPA 0x%llx made shared zapped %lu mapping(s)\n",
		       PM_DATA_GPA + off, c.destroyed);
		print_pages("while its huge page is mixed:", c.mixed);
		print_pages("back to private, re-touched:", c.after);
		TEST_ASSERT(c.after[level] == size / b->page,
			    "%s: %lu mappings of %zuK after the conversion, want %lu",
			    b->name, c.after[level], b->page >> 10,
			    size / b->page);
	}
	pm_vm_destroy(&s);

	if (b->page > SZ_4K) {
		pm_print_pool("  pool after teardown");
		TEST_ASSERT(pm_hugetlb(b->page, "free_hugepages") == free0 &&
			    pm_hugetlb(b->page, "resv_hugepages") == resv0,
			    "%s: the %zuM pool did not come back", b->name,
			    b->page >> 20);
	}
	return true;
}

int main(int argc, char *argv[])
{
	const struct pm_backing *picked[ARRAY_SIZE(pm_backings)];
	int opt, i, n = 0, ran = 0;
	uint64_t size = 0;

	while ((opt = getopt(argc, argv, "b:s:h")) != -1) {
		switch (opt) {
		case 'b':
			TEST_ASSERT(n < ARRAY_SIZE(picked), "too many -b");
			picked[n] = pm_backing_find(optarg);
			TEST_ASSERT(picked[n], "no backing %s", optarg);
			n++;
			break;
		case 's':
			size = pm_parse_size(optarg);
			TEST_ASSERT(size && !(size % SZ_1G),
				    "size must be a multiple of 1G");
			break;
		default:
			printf("usage: %s [-b backing]... [-s size]\nbackings:", argv[0]);
			for (i = 0; i < ARRAY_SIZE(pm_backings); i++)
				printf(" %s", pm_backings[i].name);
			printf("\n");
			exit(opt == 'h' ? 0 : 1);
		}
	}

	printf("Each VM has one vCPU and one data memslot; its code, page tables\n"
	       "and I/O (ucalls) are in a small shared memslot.  Private memory\n"
	       "in an inaccessible memfd cannot be read, written or mapped by the VMM.\n");
	if (n) {
		for (i = 0; i < n; i++)
			ran += run_row(picked[i], size ? size : SZ_1G);
	} else {
		for (i = 0; i < ARRAY_SIZE(default_rows); i++)
			ran += run_row(pm_backing_find(default_rows[i].backing),
				       size ? size : default_rows[i].size);
	}
	TEST_ASSERT(ran, "no row could run");
	printf("\nPASS: every backing mapped at its page size%s; pools back\n",
	       ran > 1 ? "s" : "");
	return 0;
}
