// SPDX-License-Identifier: GPL-2.0
/*
 * How KVM maps guest memory, by backing store.
 *
 * For each backing, a fresh VM gets one data memslot; its vCPU touches every
 * 4K page once and the program prints the KVM page faults that took and the
 * NPT/EPT mappings KVM installed for it (pages_4k/pages_2m/pages_1g, VM stats
 * before and after the pass).  Rows whose hugetlb pool is too small are
 * skipped with the reason.  Each row also checks the mapping level it must
 * reach, so the program fails when KVM maps smaller than the backing allows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/sizes.h>

#include "test_util.h"
#include "kvm_util.h"
#include "private_mem_util.h"
#include "processor.h"

#define DATA_SLOT	10
/* 1G-aligned, so that every backing can be mapped at its largest level. */
#define DATA_GPA	(4ULL << 30)

struct row {
	const char *name;
	enum vm_mem_backing_src_type src;
	bool private;
	uint64_t size;
	/* The level every huge page of the row must be mapped at. */
	int level;
};

static void guest_code(uint64_t gva, uint64_t size)
{
	uint64_t i;

	GUEST_SYNC(0);
	for (i = 0; i < size; i += PAGE_SIZE)
		WRITE_ONCE(*(uint64_t *)(gva + i), i);
	GUEST_DONE();
}

static void run_vcpu(struct kvm_vcpu *vcpu, uint64_t want)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_ASSERT(uc.cmd == want, "Wanted ucall %lu, got %lu",
			    want, uc.cmd);
	}
}

/* Returns false when the row was skipped. */
static bool run_row(const struct row *r)
{
	size_t page = get_backing_src_pagesz(r->src);
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	uint64_t npages = r->size / PAGE_SIZE;
	struct pm_counts before, after;
	struct kvm_vcpu *vcpu;
	struct timespec t0, t1;
	struct kvm_vm *vm;
	uint64_t d[3], huge;
	double secs;

	if (page > PAGE_SIZE && pm_hugetlb(page, "free_hugepages") < r->size / page) {
		printf("%-26s %6luM  SKIP: needs %lu free %zuM huge pages, pool has %lu\n",
		       r->name, r->size >> 20, r->size / page, page >> 20,
		       pm_hugetlb(page, "free_hugepages"));
		return false;
	}
	if (r->private) {
		if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM))) {
			printf("%-26s SKIP: no KVM_X86_SW_PROTECTED_VM\n", r->name);
			return false;
		}
		shape.type = KVM_X86_SW_PROTECTED_VM;
	}

	/*
	 * The guest maps the data with 2M pages of its own: the level of its
	 * page tables does not limit the level of KVM's NPT/EPT mappings.
	 */
	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, 64, guest_code);
	vm_mem_add(vm, r->src, DATA_GPA, DATA_SLOT, npages,
		   r->private ? KVM_MEM_GUEST_MEMFD : 0, -1, 0);
	if (r->private)
		vm_mem_set_private(vm, DATA_GPA, r->size);
	virt_map_level(vm, DATA_GPA, DATA_GPA, r->size, PG_LEVEL_2M);
	vcpu_args_set(vcpu, 2, DATA_GPA, r->size);

	run_vcpu(vcpu, UCALL_SYNC);
	pm_read_counts(vcpu, &before);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_vcpu(vcpu, UCALL_DONE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pm_read_counts(vcpu, &after);
	kvm_vm_free(vm);

	d[0] = after.pages[0] - before.pages[0];
	d[1] = after.pages[1] - before.pages[1];
	d[2] = after.pages[2] - before.pages[2];
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%-26s %6luM %9lu %9lu %9lu %9lu %9.2fs\n", r->name,
	       r->size >> 20, after.faults - before.faults, d[0], d[1], d[2],
	       secs);

	/* Every huge page of the backing must be mapped at its own level. */
	huge = r->size >> (12 + 9 * (r->level - 1));
	TEST_ASSERT(d[r->level - 1] >= huge,
		    "%s: %lu mappings at level %d, want %lu", r->name,
		    d[r->level - 1], r->level, huge);
	return true;
}

int main(int argc, char *argv[])
{
	uint64_t small = 256ULL << 20;
	const struct row rows[] = {
		{ "shared anonymous 4K", VM_MEM_SRC_ANONYMOUS, false, small, 1 },
		{ "shared hugetlb 2M", VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB, false, SZ_1G, 2 },
		{ "shared hugetlb 1G", VM_MEM_SRC_ANONYMOUS_HUGETLB_1GB, false, SZ_1G, 3 },
		{ "private guest_memfd 4K", VM_MEM_SRC_ANONYMOUS, true, small, 1 },
	};
	int i, ran = 0;

	printf("%-26s %7s %9s %9s %9s %9s %10s\n", "backing", "size", "faults",
	       "pages_4k", "pages_2m", "pages_1g", "populate");
	for (i = 0; i < ARRAY_SIZE(rows); i++)
		ran += run_row(&rows[i]);
	TEST_ASSERT(ran, "no row could run");
	return 0;
}
