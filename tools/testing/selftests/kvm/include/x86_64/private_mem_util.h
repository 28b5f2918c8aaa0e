/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the private memory tests and benchmark: a guest that touches or
 * checks a range of its data memory on command, one qword per 4K page, and
 * the counters they read (KVM stats, the hugetlb pool).
 *
 * Include it once per program: it defines the guest's command mailbox.
 */
#ifndef SELFTEST_KVM_PRIVATE_MEM_UTIL_H
#define SELFTEST_KVM_PRIVATE_MEM_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/falloc.h>
#include <linux/memfd.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

/*
 * F_SEAL_AUTO_ALLOCATE is in <linux/fcntl.h>, which cannot be included
 * together with the C library's <fcntl.h> (struct flock and f_owner_ex are
 * defined by both), so it is spelled out here as upstream's memfd selftests
 * do for F_SEAL_EXEC.  MFD_INACCESSIBLE comes from <linux/memfd.h>.
 */
#define F_SEAL_AUTO_ALLOCATE	0x0040

/* What the guest does next; 0 does nothing.  PM_READ reads, checks nothing. */
enum { PM_WRITE = 1, PM_CHECK, PM_CHECK_ZERO, PM_READ };

static struct {
	uint64_t op;
	uint64_t gpa;
	uint64_t size;
	uint64_t pattern;
} pm_cmd;

/*
 * The value of the first qword of the page at @gpa: the pattern mixed with
 * the address, so that a page mapped at the wrong place shows.
 */
static inline uint64_t pm_value(uint64_t pattern, uint64_t gpa)
{
	return pattern ^ gpa;
}

/* One qword per 4K page: a fault per page, cheap under emulation. */
static inline void pm_guest_code(void)
{
	uint64_t i, gpa, val, *p;

	for (;;) {
		GUEST_SYNC(0);
		gpa = READ_ONCE(pm_cmd.gpa);
		for (i = 0; i < READ_ONCE(pm_cmd.size); i += PAGE_SIZE) {
			p = (uint64_t *)(gpa + i);
			val = pm_value(READ_ONCE(pm_cmd.pattern), gpa + i);
			switch (READ_ONCE(pm_cmd.op)) {
			case PM_WRITE:
				WRITE_ONCE(*p, val);
				break;
			case PM_CHECK:
				__GUEST_ASSERT(READ_ONCE(*p) == val,
					       "gpa 0x%lx: 0x%lx, want 0x%lx",
					       gpa + i, *p, val);
				break;
			case PM_CHECK_ZERO:
				__GUEST_ASSERT(!READ_ONCE(*p),
					       "gpa 0x%lx: 0x%lx, want 0",
					       gpa + i, *p);
				break;
			case PM_READ:
				READ_ONCE(*p);
				break;
			}
		}
	}
}

/*
 * Run the command in progress on to its end, e.g. after an access that
 * raced with a conversion made KVM_RUN fail with KVM_EXIT_MEMORY_FAULT.
 */
static inline int pm_guest_resume(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	if (__vcpu_run(vcpu))
		return -errno;
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT(uc.cmd == UCALL_SYNC, "want UCALL_SYNC, got %lu", uc.cmd);
	return 0;
}

/*
 * Run one command on [@gpa, @gpa + @size).  Returns 0, or -errno of a
 * failed KVM_RUN (e.g. -EFAULT with KVM_EXIT_MEMORY_FAULT).
 */
static inline int pm_guest_do_ret(struct kvm_vcpu *vcpu, uint64_t op,
				  uint64_t gpa, uint64_t size, uint64_t pattern)
{
	pm_cmd.op = op;
	pm_cmd.gpa = gpa;
	pm_cmd.size = size;
	pm_cmd.pattern = pattern;
	sync_global_to_guest(vcpu->vm, pm_cmd);

	return pm_guest_resume(vcpu);
}

static inline void pm_guest_do(struct kvm_vcpu *vcpu, uint64_t op,
			       uint64_t gpa, uint64_t size, uint64_t pattern)
{
	int r = pm_guest_do_ret(vcpu, op, gpa, size, pattern);

	TEST_ASSERT(!r, "KVM_RUN: %s", strerror(-r));
}

/*
 * Run the guest to its first command and then every command once on a
 * scratch page of its own memory: code, stack and ucall pages are mapped
 * from then on, and KVM's counters move only for the data commands touch.
 */
static inline void pm_guest_start(struct kvm_vcpu *vcpu)
{
	vm_vaddr_t scratch = vm_vaddr_alloc_page(vcpu->vm);

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	pm_guest_do(vcpu, PM_CHECK_ZERO, scratch, PAGE_SIZE, 0);
	pm_guest_do(vcpu, PM_WRITE, scratch, PAGE_SIZE, 1);
	pm_guest_do(vcpu, PM_CHECK, scratch, PAGE_SIZE, 1);
}

/*
 * Map the guest's own page-table pages for [@gva, @gva + @size) (mapped
 * with 2M pages) in KVM ahead of time, so that the guest's first walk of
 * them is not counted as a fault of the data it touches.
 */
static inline void pm_prefault_page_tables(struct kvm_vcpu *vcpu,
					   uint64_t gva, uint64_t size)
{
	struct kvm_pre_fault_memory range = { .size = PAGE_SIZE };
	uint64_t off, *pde;
	int level;

	for (off = 0; off < size; off += 1ULL << 30) {
		level = PG_LEVEL_2M;
		pde = __vm_get_page_table_entry(vcpu->vm, gva + off, &level);
		range.gpa = addr_hva2gpa(vcpu->vm, pde) & ~(PAGE_SIZE - 1);
		range.size = PAGE_SIZE;
		vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range);
	}
}

/* A counter of the hugetlb pool of @page_size, e.g. "free_hugepages". */
static inline uint64_t pm_hugetlb(size_t page_size, const char *name)
{
	char path[128];
	uint64_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/%s",
		 page_size >> 10, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

/*
 * Why a private memory test of @size bytes on pages of @page_size cannot run
 * here, or NULL: no software-protected VMs, no inaccessible memfds in KVM,
 * or too few free huge pages.
 */
static inline const char *pm_unsupported(size_t page_size, size_t size)
{
	static char reason[96];

	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		return "KVM_X86_SW_PROTECTED_VM not supported";
	if (!kvm_check_cap(KVM_CAP_INACCESSIBLE_MEMFD))
		return "KVM_CAP_INACCESSIBLE_MEMFD not supported";
	if (page_size > PAGE_SIZE &&
	    pm_hugetlb(page_size, "free_hugepages") < size / page_size) {
		snprintf(reason, sizeof(reason),
			 "needs %zu free %zuM huge pages, the pool has %lu",
			 size / page_size, page_size >> 20,
			 pm_hugetlb(page_size, "free_hugepages"));
		return reason;
	}
	return NULL;
}

static inline uint64_t pm_vcpu_stat(struct kvm_vcpu *vcpu, const char *name)
{
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs, *desc;
	uint64_t data = 0;
	int fd, i;

	fd = vcpu_get_stats_fd(vcpu);
	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < header.num_desc; i++) {
		desc = get_stats_descriptor(descs, i, &header);
		if (!strcmp(desc->name, name)) {
			read_stat_data(fd, &header, desc, &data, 1);
			break;
		}
	}
	free(descs);
	close(fd);
	return data;
}

/* KVM page faults taken and mappings per level (4K, 2M, 1G). */
struct pm_counts {
	uint64_t faults;
	uint64_t pages[3];
};

static inline void pm_read_counts(struct kvm_vcpu *vcpu, struct pm_counts *c)
{
	c->faults = pm_vcpu_stat(vcpu, "pf_taken");
	c->pages[0] = vm_get_stat(vcpu->vm, "pages_4k");
	c->pages[1] = vm_get_stat(vcpu->vm, "pages_2m");
	c->pages[2] = vm_get_stat(vcpu->vm, "pages_1g");
}

static inline double pm_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

#endif /* SELFTEST_KVM_PRIVATE_MEM_UTIL_H */
