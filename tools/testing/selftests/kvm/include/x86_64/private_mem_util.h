/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the private memory tests, benchmark and demo: a guest that
 * touches or checks a range of its data memory on command, one qword per 4K
 * page, the counters they read (KVM stats, the hugetlb pool), and a VM with
 * one data memslot on a chosen backing, converted as a VMM does.
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

/*
 * The benchmark's and the demo's VMs: one vCPU and one data memslot at
 * PM_DATA_GPA on one of the backings below.
 */
#define PM_DATA_SLOT	10
/* 1G aligned: every backing can be mapped at its largest level. */
#define PM_DATA_GPA	(4ULL << 30)

enum pm_kind { PM_SHARED, PM_GMEM, PM_MEMFD };

struct pm_backing {
	const char *name;
	enum pm_kind kind;
	enum vm_mem_backing_src_type src;	/* PM_SHARED: the hva backing */
	unsigned int mfd_flags;			/* PM_MEMFD */
	size_t page;
};

/* Shared (the hva path), upstream's guest_memfd, inaccessible memfds. */
static const struct pm_backing pm_backings[] = {
	{ "shared-anon-4K", PM_SHARED, VM_MEM_SRC_ANONYMOUS, 0, SZ_4K },
	{ "shared-hugetlb-2M", PM_SHARED, VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB, 0, SZ_2M },
	{ "shared-hugetlb-1G", PM_SHARED, VM_MEM_SRC_ANONYMOUS_HUGETLB_1GB, 0, SZ_1G },
	{ "private-guest_memfd", PM_GMEM, VM_MEM_SRC_ANONYMOUS, 0, SZ_4K },
	{ "private-memfd-shmem", PM_MEMFD, VM_MEM_SRC_ANONYMOUS, 0, SZ_4K },
	{ "private-memfd-2M", PM_MEMFD, VM_MEM_SRC_ANONYMOUS,
	  MFD_HUGETLB | MFD_HUGE_2MB, SZ_2M },
	{ "private-memfd-1G", PM_MEMFD, VM_MEM_SRC_ANONYMOUS,
	  MFD_HUGETLB | MFD_HUGE_1GB, SZ_1G },
};

static inline const struct pm_backing *pm_backing_find(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(pm_backings); i++)
		if (!strcmp(pm_backings[i].name, name))
			return &pm_backings[i];
	return NULL;
}

/*
 * Why @b cannot back @size bytes here, or NULL.  A hugetlb memfd needs one
 * more huge page for the shared side of a conversion.
 */
static inline const char *pm_backing_unsupported(const struct pm_backing *b,
						 uint64_t size)
{
	uint64_t need = size / b->page + (b->kind == PM_MEMFD);
	static char reason[96];

	if (b->kind != PM_SHARED &&
	    !(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		return "KVM_X86_SW_PROTECTED_VM not supported";
	if (b->kind == PM_MEMFD && !kvm_check_cap(KVM_CAP_INACCESSIBLE_MEMFD))
		return "KVM_CAP_INACCESSIBLE_MEMFD not supported";
	if (b->page > SZ_4K && pm_hugetlb(b->page, "free_hugepages") < need) {
		snprintf(reason, sizeof(reason),
			 "needs %lu free %zuM huge pages, the pool has %lu",
			 need, b->page >> 20, pm_hugetlb(b->page, "free_hugepages"));
		return reason;
	}
	return NULL;
}

/* The VM of one backing and what its VMM keeps. */
struct pm_vm {
	const struct pm_backing *b;
	uint64_t size;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int private_fd;			/* PM_MEMFD */
	int shared_fd;			/* PM_MEMFD on hugetlb: sealed */
	void *shared_hva;
	struct pm_counts base;		/* mappings outside the data slot */
};

/*
 * A VM whose data memslot of @size bytes is on @b, private (with
 * KVM_MEMORY_ATTRIBUTE_PRIVATE set) unless @b is shared, the guest started
 * and its page tables mapped.  A hugetlb memfd's shared side is a hugetlb
 * memfd of the same page size sealed with F_SEAL_AUTO_ALLOCATE: nothing but
 * fallocate() fills it.
 */
static inline void pm_vm_create(struct pm_vm *s, const struct pm_backing *b,
				uint64_t size)
{
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	uint64_t npages = size / PAGE_SIZE;
	int r;

	memset(s, 0, sizeof(*s));
	s->b = b;
	s->size = size;
	s->private_fd = -1;
	s->shared_fd = -1;
	if (b->kind != PM_SHARED)
		shape.type = KVM_X86_SW_PROTECTED_VM;
	s->vm = __vm_create_shape_with_one_vcpu(shape, &s->vcpu, 64,
						pm_guest_code);

	switch (b->kind) {
	case PM_SHARED:
		vm_mem_add(s->vm, b->src, PM_DATA_GPA, PM_DATA_SLOT, npages, 0,
			   -1, 0);
		break;
	case PM_GMEM:
		vm_mem_add(s->vm, VM_MEM_SRC_ANONYMOUS, PM_DATA_GPA,
			   PM_DATA_SLOT, npages, KVM_MEM_GUEST_MEMFD, -1, 0);
		break;
	case PM_MEMFD:
		s->private_fd = memfd_create("private",
					     MFD_INACCESSIBLE | b->mfd_flags);
		TEST_ASSERT(s->private_fd >= 0, "memfd_create(MFD_INACCESSIBLE)");
		TEST_ASSERT(!ftruncate(s->private_fd, size), "ftruncate()");
		if (b->page == SZ_4K) {
			vm_mem_add(s->vm, VM_MEM_SRC_ANONYMOUS, PM_DATA_GPA,
				   PM_DATA_SLOT, npages, KVM_MEM_GUEST_MEMFD,
				   s->private_fd, 0);
			break;
		}
		s->shared_fd = memfd_create("shared", b->mfd_flags |
					    MFD_ALLOW_SEALING);
		TEST_ASSERT(s->shared_fd >= 0, "memfd_create(shared)");
		TEST_ASSERT(!ftruncate(s->shared_fd, size), "ftruncate()");
		s->shared_hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_NORESERVE, s->shared_fd, 0);
		TEST_ASSERT(s->shared_hva != MAP_FAILED, "mmap(shared memfd)");
		r = fcntl(s->shared_fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE);
		TEST_ASSERT(!r, "F_SEAL_AUTO_ALLOCATE");
		vm_set_user_memory_region2(s->vm, PM_DATA_SLOT,
					   KVM_MEM_GUEST_MEMFD, PM_DATA_GPA,
					   size, s->shared_hva, s->private_fd, 0);
		break;
	}
	if (b->kind != PM_SHARED)
		vm_mem_set_private(s->vm, PM_DATA_GPA, size);
	/*
	 * The guest maps the data with 2M pages of its own: the level of its
	 * page tables does not limit the level of KVM's NPT/EPT mappings.
	 */
	virt_map_level(s->vm, PM_DATA_GPA, PM_DATA_GPA, size, PG_LEVEL_2M);

	pm_guest_start(s->vcpu);
	pm_prefault_page_tables(s->vcpu, PM_DATA_GPA, size);
	pm_read_counts(s->vcpu, &s->base);
}

static inline void pm_vm_destroy(struct pm_vm *s)
{
	kvm_vm_free(s->vm);
	if (s->shared_hva)
		munmap(s->shared_hva, s->size);
	if (s->shared_fd >= 0)
		close(s->shared_fd);
	if (s->private_fd >= 0)
		close(s->private_fd);
}

/* Data slot mappings per level (4K, 2M, 1G), less the rest of the VM's. */
static inline void pm_slot_pages(struct pm_vm *s, uint64_t pages[3])
{
	struct pm_counts c;
	int i;

	pm_read_counts(s->vcpu, &c);
	for (i = 0; i < 3; i++)
		pages[i] = c.pages[i] - s->base.pages[i];
}

/* One conversion round trip of a range of the data slot. */
struct pm_conversion {
	double to_shared, to_private;	/* seconds, the KVM ioctl */
	uint64_t destroyed;		/* mappings zapped by the conversion */
	uint64_t mixed[3];		/* while the range is shared */
	uint64_t after[3];		/* back to private and re-touched */
};

static inline void pm_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	TEST_ASSERT(!fallocate(fd, mode, off, len),
		    "fallocate(%d, 0x%x, 0x%lx, 0x%lx): %s", fd, mode, off, len,
		    strerror(errno));
}

/*
 * Convert [@off, @off + @len) of the data slot to shared and back, as a VMM
 * does: a hugetlb memfd's VMM fallocates the shared side and punches the
 * private side of the range, and punches the shared huge pages around it
 * once they hold no shared page.  The guest touches the huge page (at least
 * 2M) around the range after each step.
 */
static inline void pm_convert(struct pm_vm *s, uint64_t off, uint64_t len,
			      struct pm_conversion *c)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	uint64_t page = s->b->page, before[3], after[3], touch, touch_off;
	double t;
	int i;

	touch = max_t(uint64_t, max_t(uint64_t, page, SZ_2M), len);
	touch_off = off & ~(touch - 1);

	pm_slot_pages(s, before);
	t = pm_now();
	vm_mem_set_shared(s->vm, PM_DATA_GPA + off, len);
	c->to_shared = pm_now() - t;
	pm_slot_pages(s, after);
	c->destroyed = 0;
	for (i = 0; i < 3; i++)
		if (before[i] > after[i])
			c->destroyed += before[i] - after[i];
	if (s->shared_fd >= 0) {
		pm_fallocate(s->private_fd, punch, off, len);
		pm_fallocate(s->shared_fd, FALLOC_FL_KEEP_SIZE, off, len);
	}
	pm_guest_do(s->vcpu, PM_WRITE, PM_DATA_GPA + touch_off, touch, 0x5);
	pm_slot_pages(s, c->mixed);

	t = pm_now();
	vm_mem_set_private(s->vm, PM_DATA_GPA + off, len);
	c->to_private = pm_now() - t;
	if (s->shared_fd >= 0)
		pm_fallocate(s->shared_fd, punch, align_down(off, page),
			     align_up(off + len, page) - align_down(off, page));
	pm_guest_do(s->vcpu, PM_WRITE, PM_DATA_GPA + touch_off, touch, 0x6);
	pm_slot_pages(s, c->after);
}

/* Bytes of both hugetlb pools in use. */
static inline uint64_t pm_pool_used_bytes(void)
{
	return (pm_hugetlb(SZ_2M, "nr_hugepages") -
		pm_hugetlb(SZ_2M, "free_hugepages")) * SZ_2M +
	       (pm_hugetlb(SZ_1G, "nr_hugepages") -
		pm_hugetlb(SZ_1G, "free_hugepages")) * SZ_1G;
}

static inline void pm_print_pool(const char *when)
{
	printf("%s: 2M pool %lu free / %lu resv of %lu, 1G pool %lu free / %lu resv of %lu\n",
	       when, pm_hugetlb(SZ_2M, "free_hugepages"),
	       pm_hugetlb(SZ_2M, "resv_hugepages"),
	       pm_hugetlb(SZ_2M, "nr_hugepages"),
	       pm_hugetlb(SZ_1G, "free_hugepages"),
	       pm_hugetlb(SZ_1G, "resv_hugepages"),
	       pm_hugetlb(SZ_1G, "nr_hugepages"));
}

/* "2G", "256M", "4096": bytes. */
static inline uint64_t pm_parse_size(const char *s)
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

#endif /* SELFTEST_KVM_PRIVATE_MEM_UTIL_H */
