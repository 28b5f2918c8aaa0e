// SPDX-License-Identifier: GPL-2.0
/*
 * Private memory benchmark: how KVM maps guest memory, by backing store.
 *
 * One row per backing, each a fresh VM of one vCPU with a data memslot of
 * the same size at GPA 4G: shared anonymous 4K, shared hugetlb 2M and 1G
 * (the hva path), private guest_memfd (upstream, 4K), private inaccessible
 * memfd on shmem, on hugetlb 2M and on hugetlb 1G.  For each row:
 *
 *  - populate: the guest touches every 4K page once; wall time, KVM page
 *    faults (pf_taken) and mappings (pages_4k/2m/1g) for the data slot;
 *  - steady: time of N more passes;
 *  - conversion (private rows): 4K, 2M and 1G ranges converted
 *    private->shared (latency of KVM_SET_MEMORY_ATTRIBUTES, mappings it
 *    destroyed, mappings while the guest touches the now mixed range) and
 *    back (latency, mappings after the guest re-touches the range);
 *  - memory: hugetlb bytes in use per guest byte at the end, with a VMM
 *    that seals its shared memfd with F_SEAL_AUTO_ALLOCATE, allocates the
 *    shared side of a conversion by fallocate() and punches what each
 *    conversion frees (1.00: no double allocation).
 *
 * The table goes to stdout, then the same figures as CSV between "CSV:"
 * lines, then PASS/FAIL for the targets, computed from this run's numbers.
 * Times under emulation are not hardware times; counts and the ratios
 * within one run are what to read.
 *
 * -d runs the demo instead: a VM whose RAM is private memory on 1G hugetlb
 * pages, with the pool before, the mapping table after population, a
 * conversion round trip and the pool after teardown.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/falloc.h>
#include <linux/memfd.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "private_mem_util.h"
#include "processor.h"
#include "test_util.h"

#define DATA_SLOT	10
/* 1G aligned: every backing can be mapped at its largest level. */
#define DATA_GPA	(4ULL << 30)

enum kind { SHARED, PRIVATE_GMEM, PRIVATE_MEMFD };

#define NR_CONV 3
static const uint64_t conv_sizes[NR_CONV] = { SZ_4K, SZ_2M, SZ_1G };
static const char * const conv_names[NR_CONV] = { "4K", "2M", "1G" };

struct conv {
	bool ran;
	double to_shared, to_private;	/* seconds, the KVM ioctl */
	uint64_t destroyed;		/* mappings zapped by the conversion */
	uint64_t mixed[3];		/* while the range is shared */
	uint64_t after[3];		/* back to private and re-touched */
};

struct row {
	const char *name;
	enum kind kind;
	enum vm_mem_backing_src_type src;	/* SHARED: the hva backing */
	unsigned int mfd_flags;			/* PRIVATE_MEMFD */
	size_t page;
	/* Results. */
	const char *skip;
	double populate, steady;
	uint64_t faults, pages[3];
	struct conv conv[NR_CONV];
	double mem;				/* < 0: not a hugetlb row */
};

static struct row rows[] = {
	{ "shared anon 4K", SHARED, VM_MEM_SRC_ANONYMOUS, 0, SZ_4K },
	{ "shared hugetlb 2M", SHARED, VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB, 0, SZ_2M },
	{ "shared hugetlb 1G", SHARED, VM_MEM_SRC_ANONYMOUS_HUGETLB_1GB, 0, SZ_1G },
	{ "private guest_memfd", PRIVATE_GMEM, VM_MEM_SRC_ANONYMOUS, 0, SZ_4K },
	{ "private memfd shmem", PRIVATE_MEMFD, VM_MEM_SRC_ANONYMOUS, 0, SZ_4K },
	{ "private memfd 2M", PRIVATE_MEMFD, VM_MEM_SRC_ANONYMOUS,
	  MFD_HUGETLB | MFD_HUGE_2MB, SZ_2M },
	{ "private memfd 1G", PRIVATE_MEMFD, VM_MEM_SRC_ANONYMOUS,
	  MFD_HUGETLB | MFD_HUGE_1GB, SZ_1G },
};

enum { SHARED_4K, SHARED_2M, SHARED_1G, GMEM, SHMEM, PRIV_2M, PRIV_1G };

static uint64_t size = 2ULL << 30;
static int passes = 3;
static bool demo;

/* The VM of one row and what its VMM keeps. */
struct vm_state {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int private_fd;			/* PRIVATE_MEMFD */
	int shared_fd;			/* hugetlb PRIVATE_MEMFD: sealed */
	void *shared_hva;
	struct pm_counts base;		/* mappings outside the data slot */
};

static uint64_t pool_used_bytes(void)
{
	return (pm_hugetlb(SZ_2M, "nr_hugepages") -
		pm_hugetlb(SZ_2M, "free_hugepages")) * SZ_2M +
	       (pm_hugetlb(SZ_1G, "nr_hugepages") -
		pm_hugetlb(SZ_1G, "free_hugepages")) * SZ_1G;
}

static void print_pool(const char *when)
{
	printf("%s: 2M pool %lu free / %lu resv of %lu, 1G pool %lu free / %lu resv of %lu\n",
	       when, pm_hugetlb(SZ_2M, "free_hugepages"),
	       pm_hugetlb(SZ_2M, "resv_hugepages"),
	       pm_hugetlb(SZ_2M, "nr_hugepages"),
	       pm_hugetlb(SZ_1G, "free_hugepages"),
	       pm_hugetlb(SZ_1G, "resv_hugepages"),
	       pm_hugetlb(SZ_1G, "nr_hugepages"));
}

/* Data slot mappings per level, less what the rest of the VM maps. */
static void slot_pages(struct vm_state *s, uint64_t pages[3])
{
	struct pm_counts c;
	int i;

	pm_read_counts(s->vcpu, &c);
	for (i = 0; i < 3; i++)
		pages[i] = c.pages[i] - s->base.pages[i];
}

static void setup_vm(struct row *r, struct vm_state *s)
{
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	uint64_t npages = size / PAGE_SIZE;
	int r2;

	memset(s, 0, sizeof(*s));
	s->private_fd = -1;
	s->shared_fd = -1;
	if (r->kind != SHARED)
		shape.type = KVM_X86_SW_PROTECTED_VM;
	s->vm = __vm_create_shape_with_one_vcpu(shape, &s->vcpu, 64,
						pm_guest_code);

	switch (r->kind) {
	case SHARED:
		vm_mem_add(s->vm, r->src, DATA_GPA, DATA_SLOT, npages, 0, -1, 0);
		break;
	case PRIVATE_GMEM:
		vm_mem_add(s->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
			   npages, KVM_MEM_GUEST_MEMFD, -1, 0);
		break;
	case PRIVATE_MEMFD:
		s->private_fd = memfd_create("private",
					     MFD_INACCESSIBLE | r->mfd_flags);
		TEST_ASSERT(s->private_fd >= 0, "memfd_create(MFD_INACCESSIBLE)");
		TEST_ASSERT(!ftruncate(s->private_fd, size), "ftruncate()");
		if (r->page == SZ_4K) {
			vm_mem_add(s->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA,
				   DATA_SLOT, npages, KVM_MEM_GUEST_MEMFD,
				   s->private_fd, 0);
			break;
		}
		/*
		 * The VMM's shared memory: a hugetlb memfd of the same page
		 * size that nothing but fallocate() fills.
		 */
		s->shared_fd = memfd_create("shared", r->mfd_flags |
					    MFD_ALLOW_SEALING);
		TEST_ASSERT(s->shared_fd >= 0, "memfd_create(shared)");
		TEST_ASSERT(!ftruncate(s->shared_fd, size), "ftruncate()");
		s->shared_hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_NORESERVE, s->shared_fd, 0);
		TEST_ASSERT(s->shared_hva != MAP_FAILED, "mmap(shared memfd)");
		r2 = fcntl(s->shared_fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE);
		TEST_ASSERT(!r2, "F_SEAL_AUTO_ALLOCATE");
		vm_set_user_memory_region2(s->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
					   DATA_GPA, size, s->shared_hva,
					   s->private_fd, 0);
		break;
	}
	if (r->kind != SHARED)
		vm_mem_set_private(s->vm, DATA_GPA, size);
	virt_map_level(s->vm, DATA_GPA, DATA_GPA, size, PG_LEVEL_2M);

	pm_guest_start(s->vcpu);
	pm_prefault_page_tables(s->vcpu, DATA_GPA, size);
	pm_read_counts(s->vcpu, &s->base);
}

static void teardown_vm(struct vm_state *s)
{
	kvm_vm_free(s->vm);
	if (s->shared_hva)
		munmap(s->shared_hva, size);
	if (s->shared_fd >= 0)
		close(s->shared_fd);
	if (s->private_fd >= 0)
		close(s->private_fd);
}

static void fallocate_or_die(int fd, int mode, uint64_t off, uint64_t len)
{
	TEST_ASSERT(!fallocate(fd, mode, off, len),
		    "fallocate(%d, 0x%lx, 0x%lx): %s", mode, off, len,
		    strerror(errno));
}

/* Convert [off, off + len) to shared and back, as the VMM does. */
static void convert(struct row *r, struct vm_state *s, uint64_t off,
		    uint64_t len, struct conv *c)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	uint64_t before[3], after[3], touch, touch_off;
	double t;
	int i;

	/* The guest touches the huge page (at least 2M) around the range. */
	touch = max_t(uint64_t, max_t(uint64_t, r->page, SZ_2M), len);
	touch_off = off & ~(touch - 1);

	slot_pages(s, before);
	t = pm_now();
	vm_mem_set_shared(s->vm, DATA_GPA + off, len);
	c->to_shared = pm_now() - t;
	slot_pages(s, after);
	c->destroyed = 0;
	for (i = 0; i < 3; i++)
		if (before[i] > after[i])
			c->destroyed += before[i] - after[i];
	if (s->shared_fd >= 0) {
		fallocate_or_die(s->private_fd, punch, off, len);
		fallocate_or_die(s->shared_fd, FALLOC_FL_KEEP_SIZE, off, len);
	}
	pm_guest_do(s->vcpu, PM_WRITE, DATA_GPA + touch_off, touch, 0x5);
	slot_pages(s, c->mixed);

	t = pm_now();
	vm_mem_set_private(s->vm, DATA_GPA + off, len);
	c->to_private = pm_now() - t;
	/* No shared page is left in the huge pages around: free them. */
	if (s->shared_fd >= 0)
		fallocate_or_die(s->shared_fd, punch, align_down(off, r->page),
				 align_up(off + len, r->page) -
				 align_down(off, r->page));
	pm_guest_do(s->vcpu, PM_WRITE, DATA_GPA + touch_off, touch, 0x6);
	slot_pages(s, c->after);
	c->ran = true;
}

static void print_pages(const char *what, const uint64_t p[3])
{
	printf("  %-34s pages_4k %7lu  pages_2m %4lu  pages_1g %lu\n", what,
	       p[0], p[1], p[2]);
}

static void run_row(struct row *r)
{
	uint64_t used0 = pool_used_bytes(), pool_need = 0;
	struct pm_counts c0, c1;
	struct vm_state s;
	double t;
	int i;

	if (r->page > SZ_4K) {
		/* The memfd rows' conversions need one more shared page. */
		pool_need = size / r->page + (r->kind == PRIVATE_MEMFD);
		if (pm_hugetlb(r->page, "free_hugepages") < pool_need) {
			r->skip = "hugetlb pool too small";
			return;
		}
	}
	if (r->kind != SHARED &&
	    !(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM))) {
		r->skip = "no KVM_X86_SW_PROTECTED_VM";
		return;
	}
	if (r->kind == PRIVATE_MEMFD && !kvm_check_cap(KVM_CAP_INACCESSIBLE_MEMFD)) {
		r->skip = "no KVM_CAP_INACCESSIBLE_MEMFD";
		return;
	}

	setup_vm(r, &s);
	pm_read_counts(s.vcpu, &c0);
	t = pm_now();
	pm_guest_do(s.vcpu, PM_WRITE, DATA_GPA, size, 0x1);
	r->populate = pm_now() - t;
	pm_read_counts(s.vcpu, &c1);
	r->faults = c1.faults - c0.faults;
	for (i = 0; i < 3; i++)
		r->pages[i] = c1.pages[i] - c0.pages[i];
	if (demo) {
		printf("\nThe guest touched each 4K page of its %lu GiB RAM once:",
		       size >> 30);
		printf(" %lu KVM page faults\n", r->faults);
		print_pages("NPT mappings of the RAM:", r->pages);
		print_pool("pool with the guest running");
	}

	t = pm_now();
	for (i = 0; i < passes; i++)
		pm_guest_do(s.vcpu, PM_WRITE, DATA_GPA, size, 0x2 + i);
	r->steady = pm_now() - t;

	for (i = 0; r->kind != SHARED && i < NR_CONV; i++) {
		if (conv_sizes[i] > size / 2 || (demo && conv_sizes[i] != SZ_4K))
			continue;
		convert(r, &s, size / 2, conv_sizes[i], &r->conv[i]);
		if (demo) {
			printf("\nConverting 4K at GPA 0x%llx to shared zapped %lu mapping(s)\n",
			       DATA_GPA + size / 2, r->conv[i].destroyed);
			print_pages("while the 1G page is mixed:", r->conv[i].mixed);
			print_pages("back to private, re-touched:", r->conv[i].after);
		}
	}

	r->mem = r->page > SZ_4K ? (double)(pool_used_bytes() - used0) / size : -1;
	teardown_vm(&s);
}

static const char * const csv_columns[] = {
	"backing", "size_mb", "faults", "pages_4k", "pages_2m", "pages_1g",
	"populate_s", "steady_s", "passes", "conv_kb", "to_shared_us",
	"to_private_us", "destroyed", "mixed_4k", "mixed_2m", "mixed_1g",
	"after_4k", "after_2m", "after_1g", "mem_ratio",
};

static void print_table(void)
{
	const struct row *ref;
	int i, j;

	printf("\n%-20s %6s %8s %7s %9s %9s %9s %8s %8s %6s\n", "backing",
	       "size", "faults", "fault/x", "pages_4k", "pages_2m", "pages_1g",
	       "populate", "time/x", "steady");
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];

		if (r->skip) {
			printf("%-20s SKIP: %s\n", r->name, r->skip);
			continue;
		}
		/* Ratios against the shared row of the same page size. */
		ref = &rows[r->page == SZ_1G ? SHARED_1G :
			    r->page == SZ_2M ? SHARED_2M : SHARED_4K];
		printf("%-20s %5luM %8lu %7.2f %9lu %9lu %9lu %7.2fs %8.2f %5.2fs\n",
		       r->name, size >> 20, r->faults,
		       ref->skip ? 0 : (double)r->faults / ref->faults,
		       r->pages[0], r->pages[1], r->pages[2], r->populate,
		       ref->skip ? 0 : r->populate / ref->populate, r->steady);
	}
	printf("limit: one mapping per huge page: %lu x 2M, %lu x 1G\n",
	       size / SZ_2M, size / SZ_1G);

	printf("\n%-20s %5s %10s %10s %9s %-22s %-22s %6s\n", "conversion",
	       "range", "to shared", "to private", "destroyed",
	       "mixed (4k/2m/1g)", "after (4k/2m/1g)", "mem");
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];

		for (j = 0; j < NR_CONV; j++) {
			const struct conv *c = &r->conv[j];
			char mixed[32], after[32];

			if (!c->ran)
				continue;
			snprintf(mixed, sizeof(mixed), "%lu/%lu/%lu", c->mixed[0],
				 c->mixed[1], c->mixed[2]);
			snprintf(after, sizeof(after), "%lu/%lu/%lu", c->after[0],
				 c->after[1], c->after[2]);
			printf("%-20s %5s %8.1fus %8.1fus %9lu %-22s %-22s",
			       r->name, conv_names[j], c->to_shared * 1e6,
			       c->to_private * 1e6, c->destroyed, mixed, after);
			if (r->mem >= 0)
				printf(" %6.2f\n", r->mem);
			else
				printf(" %6s\n", "-");
		}
	}

	printf("\nCSV:\n");
	for (i = 0; i < ARRAY_SIZE(csv_columns); i++)
		printf("%s%c", csv_columns[i],
		       i + 1 < ARRAY_SIZE(csv_columns) ? ',' : '\n');
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];

		if (r->skip)
			continue;
		for (j = 0; j < NR_CONV; j++) {
			const struct conv *c = &r->conv[j];

			if (j && !c->ran)
				continue;
			printf("%s,%lu,%lu,%lu,%lu,%lu,%.3f,%.3f,%d,", r->name,
			       size >> 20, r->faults, r->pages[0], r->pages[1],
			       r->pages[2], r->populate, r->steady, passes);
			if (c->ran)
				printf("%lu,%.1f,%.1f,%lu,%lu,%lu,%lu,%lu,%lu,%lu,",
				       conv_sizes[j] >> 10, c->to_shared * 1e6,
				       c->to_private * 1e6, c->destroyed,
				       c->mixed[0], c->mixed[1], c->mixed[2],
				       c->after[0], c->after[1], c->after[2]);
			else
				printf(",,,,,,,,,,");
			if (r->mem >= 0)
				printf("%.2f\n", r->mem);
			else
				printf("\n");
		}
	}
	printf("CSV:\n");
}

static int failed;

static void target(bool ok, bool ran, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", !ran ? "SKIP" : ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed += ran && !ok;
}

static void check_targets(void)
{
	const struct row *g = &rows[PRIV_1G], *m = &rows[PRIV_2M];
	const struct row *gm = &rows[GMEM];
	const struct conv *c = &g->conv[0];
	bool ran;

	printf("\n");
	target(g->faults == size / SZ_1G && g->pages[2] == size / SZ_1G, !g->skip,
	       "private hugetlb 1G: %lu faults and %lu 1G mappings on populate, want %lu",
	       g->faults, g->pages[2], size / SZ_1G);
	target(m->faults == size / SZ_2M && m->pages[1] == size / SZ_2M, !m->skip,
	       "private hugetlb 2M: %lu faults and %lu 2M mappings on populate, want %lu",
	       m->faults, m->pages[1], size / SZ_2M);
	ran = !m->skip && !rows[SHARED_2M].skip;
	target(ran && m->populate <= 1.2 * rows[SHARED_2M].populate, ran,
	       "private hugetlb 2M populate %.2fs within 1.2x of shared hugetlb 2M %.2fs",
	       m->populate, rows[SHARED_2M].populate);
	ran = !g->skip && !rows[SHARED_1G].skip;
	target(ran && g->populate <= 1.2 * rows[SHARED_1G].populate, ran,
	       "private hugetlb 1G populate %.2fs within 1.2x of shared hugetlb 1G %.2fs",
	       g->populate, rows[SHARED_1G].populate);
	ran = !m->skip && !gm->skip;
	target(ran && m->faults * 50 <= gm->faults, ran,
	       "private hugetlb 2M: %lu faults, >= 50x fewer than guest_memfd's %lu",
	       m->faults, gm->faults);
	ran = !g->skip && c->ran;
	target(ran && c->mixed[0] <= SZ_2M / SZ_4K &&
	       c->mixed[1] == SZ_1G / SZ_2M - 1, ran,
	       "1G: one 4K page shared leaves %lu 4K and %lu 2M mappings in its 1G page, want <= 512 and 511",
	       c->mixed[0], c->mixed[1]);
	target(ran && c->after[2] == size / SZ_1G && !c->after[0] && !c->after[1], ran,
	       "1G: converted back and re-touched: %lu 1G mappings (and %lu/%lu 4K/2M), want %lu",
	       c->after[2], c->after[0], c->after[1], size / SZ_1G);
	ran = !g->skip && !m->skip;
	target(ran && g->mem == 1.0 && m->mem == 1.0, ran,
	       "no double allocation: %.2f (2M) and %.2f (1G) hugetlb bytes per guest byte, want 1.00",
	       m->mem, g->mem);
}

static void run_demo(void)
{
	struct row *r = &rows[PRIV_1G];
	uint64_t free0 = pm_hugetlb(SZ_1G, "free_hugepages");
	uint64_t resv0 = pm_hugetlb(SZ_1G, "resv_hugepages");

	printf("A VM whose %lu GiB of RAM (at GPA 4 GiB) is private memory on 1G hugetlb pages:\n"
	       "an inaccessible memfd the VMM cannot read, write or map.  Its code, page tables\n"
	       "and I/O (ucalls) are in a small shared memslot.\n\n", size >> 30);
	print_pool("pool before");
	run_row(r);
	TEST_ASSERT(!r->skip, "%s: %s", r->name, r->skip);
	printf("\n");
	print_pool("pool after teardown");
	TEST_ASSERT(pm_hugetlb(SZ_1G, "free_hugepages") == free0 &&
		    pm_hugetlb(SZ_1G, "resv_hugepages") == resv0,
		    "the 1G pool did not come back");
	TEST_ASSERT(r->pages[2] == size / SZ_1G && r->conv[0].after[2] == size / SZ_1G,
		    "RAM not mapped with 1G pages");
	printf("PASS: one 1G NPT entry per 1G page, before and after the conversion;");
	printf(" pool back\n");
}

static uint64_t parse_bytes(const char *s)
{
	char *end;
	uint64_t n = strtoull(s, &end, 0);

	switch (*end) {
	case 'G': case 'g':
		return n << 30;
	case 'M': case 'm':
		return n << 20;
	default:
		return n;
	}
}

int main(int argc, char *argv[])
{
	int opt, i;

	while ((opt = getopt(argc, argv, "s:n:dh")) != -1) {
		switch (opt) {
		case 's':
			size = parse_bytes(optarg);
			break;
		case 'n':
			passes = atoi_positive("passes", optarg);
			break;
		case 'd':
			demo = true;
			break;
		default:
			printf("usage: %s [-s size (default 2G)] [-n passes (default 3)] [-d]\n",
			       argv[0]);
			exit(opt == 'h' ? 0 : 1);
		}
	}
	TEST_ASSERT(size >= SZ_2G && !(size % SZ_1G),
		    "size must be a multiple of 1G, at least 2G");

	if (demo) {
		run_demo();
		return 0;
	}

	printf("private memory benchmark: %lu MiB guest memory, %d steady passes\n",
	       size >> 20, passes);
	print_pool("pool before");
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		run_row(&rows[i]);
		printf("%-20s %s\n", rows[i].name, rows[i].skip ? rows[i].skip : "done");
		fflush(stdout);
	}
	print_pool("pool after");
	print_table();
	check_targets();
	return failed ? 1 : 0;
}
