// SPDX-License-Identifier: GPL-2.0
/*
 * Inaccessible memfds (shmem, hugetlbfs 2M and 1G) as the private memory of
 * KVM memslots: the memfd counterpart of guest_memfd_test.
 *
 * Binding rules and bad input of KVM_SET_USER_MEMORY_REGION2 and of the
 * legacy uAPI forms; private mappings at the level of the backing page (KVM
 * stats), and never a large mapping across a range that mixes private and
 * shared; punch hole and truncate while the guest runs; and the hugetlb
 * pool back where it was when the VM and the memfd go away.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <linux/falloc.h>
#include <linux/kvm_para.h>
#include <linux/memfd.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "private_mem_util.h"
#include "processor.h"
#include "test_util.h"
#include "../kselftest_harness.h"

/* 1G rows under emulation, on debug kernels, take more than 30 s. */
#define PM_TIMEOUT	180

#define DATA_SLOT	10
/* 1G aligned: every backing can be mapped at its largest level. */
#define DATA_GPA	(4ULL << 30)

/* The guest's commands take offsets into the data slot. */
#define OP_WRITE	PM_WRITE
#define OP_CHECK	PM_CHECK
#define OP_CHECK_ZERO	PM_CHECK_ZERO

static int guest_do_ret(struct kvm_vcpu *vcpu, uint64_t op, uint64_t offset,
			uint64_t size, uint64_t pattern)
{
	return pm_guest_do_ret(vcpu, op, DATA_GPA + offset, size, pattern);
}

static void guest_do(struct kvm_vcpu *vcpu, uint64_t op, uint64_t offset,
		     uint64_t size, uint64_t pattern)
{
	pm_guest_do(vcpu, op, DATA_GPA + offset, size, pattern);
}

FIXTURE(memfd) {
	int fd;
	uint64_t free0;
	uint64_t resv0;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	/* KVM's mappings of memory other than the data slot. */
	uint64_t base[3];
};

FIXTURE_VARIANT(memfd) {
	unsigned int mfd_flags;
	size_t page;
	size_t size;
	/* Stat of the mapping level of one backing page. */
	const char *stat;
};

FIXTURE_VARIANT_ADD(memfd, shmem) {
	.mfd_flags = 0,
	.page = SZ_4K,
	.size = SZ_8M,
	.stat = "pages_4k",
};

FIXTURE_VARIANT_ADD(memfd, hugetlb_2M) {
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_2MB,
	.page = SZ_2M,
	.size = SZ_8M,
	.stat = "pages_2m",
};

FIXTURE_VARIANT_ADD(memfd, hugetlb_1G) {
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_1GB,
	.page = SZ_1G,
	.size = SZ_1G,
	.stat = "pages_1g",
};

/*
 * Helpers name the harness's structs (FIXTURE_DATA(memfd) and
 * FIXTURE_VARIANT(memfd)) directly.
 */
static bool is_hugetlb(const struct _fixture_variant_memfd *variant)
{
	return variant->page > SZ_4K;
}

FIXTURE_SETUP(memfd)
{
	const char *reason;

	self->vm = NULL;
	self->fd = -1;
	reason = pm_unsupported(variant->page, variant->size);
	if (reason)
		SKIP(return, "%s", reason);

	if (is_hugetlb(variant)) {
		self->free0 = pm_hugetlb(variant->page, "free_hugepages");
		self->resv0 = pm_hugetlb(variant->page, "resv_hugepages");
	}
	self->fd = memfd_create("private", MFD_INACCESSIBLE | variant->mfd_flags);
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(ftruncate(self->fd, variant->size), 0);
}

FIXTURE_TEARDOWN(memfd)
{
	if (self->vm)
		kvm_vm_free(self->vm);
	if (self->fd >= 0)
		close(self->fd);
	/* Every huge page and reservation is back once VM and fd are gone. */
	if (self->fd >= 0 && is_hugetlb(variant)) {
		EXPECT_EQ(pm_hugetlb(variant->page, "free_hugepages"),
			  self->free0);
		EXPECT_EQ(pm_hugetlb(variant->page, "resv_hugepages"),
			  self->resv0);
	}
}

/*
 * Where the data slot lies: @gpa_off and @file_off from DATA_GPA and from the
 * start of self->fd, @size bytes (0: the whole file), its shared memory
 * @hva_off bytes into a 1G aligned mapping (0 aligns it with the GPA).
 */
struct layout {
	uint64_t gpa_off;
	uint64_t file_off;
	uint64_t size;
	uint64_t hva_off;
};

/* A private VM with one vCPU whose data slot is backed by self->fd. */
static void __create_vm(struct _test_data_memfd *self,
			const struct _fixture_variant_memfd *variant,
			const struct layout *l)
{
	struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	uint64_t size = l->size ? l->size : variant->size;

	self->vm = __vm_create_shape_with_one_vcpu(shape, &self->vcpu, 64,
						   pm_guest_code);
	__vm_mem_add(self->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA + l->gpa_off,
		     DATA_SLOT, size / PAGE_SIZE, KVM_MEM_GUEST_MEMFD, self->fd,
		     l->file_off, SZ_1G, l->hva_off);

	virt_map_level(self->vm, DATA_GPA, DATA_GPA, variant->size, PG_LEVEL_2M);
	pm_guest_start(self->vcpu);
	pm_prefault_page_tables(self->vcpu, DATA_GPA, variant->size);
	self->base[0] = vm_get_stat(self->vm, "pages_4k");
	self->base[1] = vm_get_stat(self->vm, "pages_2m");
	self->base[2] = vm_get_stat(self->vm, "pages_1g");
}

static void create_vm(struct _test_data_memfd *self,
		      const struct _fixture_variant_memfd *variant)
{
	/* Everything aligned: nothing but the backing limits the level. */
	static const struct layout aligned;

	__create_vm(self, variant, &aligned);
}

static const char * const stat_names[] = { "pages_4k", "pages_2m", "pages_1g" };

/* Mappings of the data slot at one level: the VM's, less the rest's. */
static uint64_t mapped(struct _test_data_memfd *self, const char *stat)
{
	int i;

	for (i = 0; i < 3; i++)
		if (!strcmp(stat, stat_names[i]))
			return vm_get_stat(self->vm, stat) - self->base[i];
	TEST_FAIL("no stat %s", stat);
	return 0;
}

/*
 * The data slot has @n mappings at the level of a backing page: exactly for
 * 2M and 1G; at least for 4K, where the rest of the VM may map more pages.
 */
#define EXPECT_MAPPED(n) do {						\
	uint64_t __n = (n);						\
									\
	if (variant->page == SZ_4K) {					\
		EXPECT_GE(mapped(self, variant->stat), __n);		\
	} else {							\
		EXPECT_EQ(mapped(self, variant->stat), __n);		\
	}								\
} while (0)

TEST_F_TIMEOUT(memfd, capability, PM_TIMEOUT)
{
	struct kvm_vm *vm = vm_create_barebones();

	/* Not for VMs without private memory. */
	EXPECT_EQ(vm_check_cap(vm, KVM_CAP_INACCESSIBLE_MEMFD), 0);
	kvm_vm_free(vm);

	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	EXPECT_EQ(vm_check_cap(vm, KVM_CAP_INACCESSIBLE_MEMFD), 1);
	kvm_vm_free(vm);
}

static int bind(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		void *hva, int fd, uint64_t offset)
{
	int r = __vm_set_user_memory_region2(vm, slot, KVM_MEM_GUEST_MEMFD, gpa,
					     size, hva, fd, offset);

	return r ? -errno : 0;
}

TEST_F_TIMEOUT(memfd, bind_rules, PM_TIMEOUT)
{
	size_t size = variant->size, page = variant->page;
	struct kvm_vm *vm, *vm2, *vm3;
	int fd, efd, closed;
	void *hva;

	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	vm2 = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	hva = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(hva, MAP_FAILED);

	/* An accessible memfd, another kind of file, a closed fd. */
	fd = memfd_create("shared", variant->mfd_flags);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ftruncate(fd, size), 0);
	EXPECT_EQ(bind(vm, 1, DATA_GPA, size, hva, fd, 0), -EINVAL);
	close(fd);
	efd = eventfd(0, 0);
	ASSERT_GE(efd, 0);
	EXPECT_EQ(bind(vm, 1, DATA_GPA, size, hva, efd, 0), -EINVAL);
	closed = dup(efd);
	close(closed);
	close(efd);
	EXPECT_EQ(bind(vm, 1, DATA_GPA, size, hva, closed, 0), -EBADF);

	/* Unaligned offset, a range beyond the file, overflow. */
	EXPECT_EQ(bind(vm, 1, DATA_GPA, page, hva, self->fd, 1), -EINVAL);
	EXPECT_EQ(bind(vm, 1, DATA_GPA, page, hva, self->fd, PAGE_SIZE / 2),
		  -EINVAL);
	EXPECT_EQ(bind(vm, 1, DATA_GPA, size, hva, self->fd, PAGE_SIZE),
		  -EINVAL);
	EXPECT_EQ(bind(vm, 1, DATA_GPA, 2 * size, hva, self->fd, 0), -EINVAL);
	EXPECT_EQ(bind(vm, 1, DATA_GPA, page, hva, self->fd, -PAGE_SIZE),
		  -EINVAL);

	/* A VM without private memory takes no guest_memfd at all. */
	vm3 = vm_create_barebones();
	EXPECT_EQ(bind(vm3, 1, DATA_GPA, size, hva, self->fd, 0), -EINVAL);
	kvm_vm_free(vm3);

	/* None of that left state behind: slot 1 binds the whole file. */
	EXPECT_EQ(bind(vm, 1, DATA_GPA, size, hva, self->fd, 0), 0);

	/* A file range backs one memslot at a time. */
	EXPECT_EQ(bind(vm, 2, DATA_GPA + size, size, hva, self->fd, 0), -EEXIST);
	EXPECT_EQ(bind(vm, 2, DATA_GPA + size, page, hva,
		       self->fd, size - page), -EEXIST);
	/* The file belongs to the first VM that bound it. */
	EXPECT_EQ(bind(vm2, 1, DATA_GPA, page, hva, self->fd, 0), -EINVAL);

	/* guest_memfd memslots cannot change; delete frees the range. */
	EXPECT_EQ(bind(vm, 1, DATA_GPA + size, size, hva, self->fd, 0),
		  -EINVAL);
	vm_set_user_memory_region2(vm, 1, KVM_MEM_GUEST_MEMFD, DATA_GPA, 0,
				   NULL, self->fd, 0);
	/* Freed, the range is still the first VM's, not another's. */
	EXPECT_EQ(bind(vm2, 1, DATA_GPA, size, hva, self->fd, 0), -EINVAL);
	EXPECT_EQ(bind(vm, 1, DATA_GPA, size, hva, self->fd, 0), 0);

	/* The memslot holds the file: closing the fd changes nothing. */
	fd = dup(self->fd);
	close(self->fd);
	self->fd = fd;
	EXPECT_EQ(bind(vm, 2, DATA_GPA + size, size, hva, self->fd, 0), -EEXIST);

	/* Not even once the first VM is gone. */
	kvm_vm_free(vm);
	EXPECT_EQ(bind(vm2, 1, DATA_GPA, size, hva, self->fd, 0), -EINVAL);
	kvm_vm_free(vm2);
	munmap(hva, 2 * size);
}

/*
 * The legacy uAPI forms: the legacy extended form of
 * KVM_SET_USER_MEMORY_REGION (KVM_MEM_PRIVATE, struct
 * kvm_userspace_memory_region_ext) and the KVM_MEMORY_ENCRYPT_(UN)REG_REGION
 * conversion aliases.
 */
TEST_F_TIMEOUT(memfd, legacy_uapi_forms, PM_TIMEOUT)
{
	struct kvm_userspace_memory_region_ext ext = {
		.region = {
			.slot = DATA_SLOT + 1,
			.flags = KVM_MEM_PRIVATE,
			.guest_phys_addr = DATA_GPA + variant->size,
			.memory_size = variant->size,
		},
		.private_offset = 0,
	};
	struct kvm_enc_region region = {
		.addr = DATA_GPA,
		.size = PAGE_SIZE,
	};
	struct kvm_vm *vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	uint64_t *hva;
	int fd;

	fd = memfd_create("private2", MFD_INACCESSIBLE | variant->mfd_flags);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ftruncate(fd, variant->size), 0);

	hva = mmap(NULL, variant->size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(hva, MAP_FAILED);
	ext.region.userspace_addr = (uintptr_t)hva;
	/*
	 * A second file: self->fd stays free for create_vm() below, as a file
	 * belongs to the first VM that binds it.
	 */
	ext.private_fd = fd;
	EXPECT_EQ(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &ext), 0);
	/* A range in use is refused the same way as with region2. */
	ext.region.slot++;
	ext.region.guest_phys_addr += variant->size;
	EXPECT_EQ(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &ext), -1);
	EXPECT_EQ(errno, EEXIST);
	/* Deleting the first memslot frees the range for the second. */
	ext.region.slot--;
	ext.region.guest_phys_addr -= variant->size;
	ext.region.memory_size = 0;
	EXPECT_EQ(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &ext), 0);
	ext.region.slot++;
	ext.region.guest_phys_addr += variant->size;
	ext.region.memory_size = variant->size;
	EXPECT_EQ(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &ext), 0);
	close(fd);
	kvm_vm_free(vm);
	munmap(hva, variant->size);

	/* Conversions: REG_REGION makes private, UNREG_REGION shared. */
	create_vm(self, variant);
	hva = addr_gpa2hva(self->vm, DATA_GPA);
	region.size = variant->page;
	ASSERT_EQ(ioctl(self->vm->fd, KVM_MEMORY_ENCRYPT_REG_REGION, &region), 0);
	guest_do(self->vcpu, OP_WRITE, 0, variant->page, 0x1111);
	/* The guest wrote private memory: the shared side is untouched. */
	EXPECT_EQ(hva[0], 0);
	ASSERT_EQ(ioctl(self->vm->fd, KVM_MEMORY_ENCRYPT_UNREG_REGION, &region), 0);
	guest_do(self->vcpu, OP_WRITE, 0, PAGE_SIZE, 0x2222);
	EXPECT_EQ(hva[0], 0x2222 ^ DATA_GPA);
	/* Bad ranges: the errors of KVM_SET_MEMORY_ATTRIBUTES. */
	region.size = 0;
	EXPECT_EQ(ioctl(self->vm->fd, KVM_MEMORY_ENCRYPT_REG_REGION, &region), -1);
	EXPECT_EQ(errno, EINVAL);
	region.size = PAGE_SIZE / 2;
	EXPECT_EQ(ioctl(self->vm->fd, KVM_MEMORY_ENCRYPT_UNREG_REGION, &region), -1);
	EXPECT_EQ(errno, EINVAL);
}

/* Number of backing pages in [0, size) of the variant. */
static uint64_t nr_pages(const struct _fixture_variant_memfd *variant)
{
	return variant->size / variant->page;
}

TEST_F_TIMEOUT(memfd, large_mappings, PM_TIMEOUT)
{
	uint64_t size = variant->size, off = SZ_2M + PAGE_SIZE;
	struct kvm_vm *vm;

	create_vm(self, variant);
	vm = self->vm;
	vm_mem_set_private(vm, DATA_GPA, size);
	guest_do(self->vcpu, OP_WRITE, 0, size, 0x5a);
	guest_do(self->vcpu, OP_CHECK, 0, size, 0x5a);
	/* One mapping per backing page, at its level. */
	EXPECT_MAPPED(nr_pages(variant));
	if (is_hugetlb(variant))
		EXPECT_EQ(pm_hugetlb(variant->page, "free_hugepages"),
			  self->free0 - nr_pages(variant));

	/*
	 * One shared 4K page: no large mapping may cover it.  The private
	 * data around it survives the conversion.
	 */
	vm_mem_set_shared(vm, DATA_GPA + off, PAGE_SIZE);
	guest_do(self->vcpu, OP_WRITE, off, PAGE_SIZE, 0xa5);
	guest_do(self->vcpu, OP_CHECK, 0, off, 0x5a);
	guest_do(self->vcpu, OP_CHECK, off + PAGE_SIZE,
		 size - off - PAGE_SIZE, 0x5a);
	EXPECT_EQ(*(uint64_t *)addr_gpa2hva(vm, DATA_GPA + off),
		  0xa5 ^ (DATA_GPA + off));
	if (variant->page == SZ_2M) {
		EXPECT_EQ(mapped(self, "pages_2m"), nr_pages(variant) - 1);
	} else if (variant->page == SZ_1G) {
		EXPECT_EQ(mapped(self, "pages_1g"), 0);
		/* The uniform 2M ranges of the 1G page stay large. */
		EXPECT_EQ(mapped(self, "pages_2m"), SZ_1G / SZ_2M - 1);
	}
	/* Exactly the mixed 2M range is mapped at 4K. */
	if (is_hugetlb(variant))
		EXPECT_EQ(mapped(self, "pages_4k"), SZ_2M / PAGE_SIZE);

	/*
	 * Uniform again: the next fault in the range maps it large again,
	 * and the small mappings it replaces are gone.  The private data
	 * never moved.
	 */
	vm_mem_set_private(vm, DATA_GPA + off, PAGE_SIZE);
	guest_do(self->vcpu, OP_CHECK, 0, off, 0x5a);
	guest_do(self->vcpu, OP_WRITE, off, PAGE_SIZE, 0x5a);
	guest_do(self->vcpu, OP_CHECK, 0, size, 0x5a);
	EXPECT_MAPPED(nr_pages(variant));
	if (is_hugetlb(variant)) {
		EXPECT_EQ(mapped(self, "pages_4k"), 0);
		if (variant->page == SZ_1G)
			EXPECT_EQ(mapped(self, "pages_2m"), 0);
	}
}

/*
 * A memslot that starts and ends inside huge pages maps the partial huge
 * pages smaller, and the whole ones at their level.
 */
TEST_F_TIMEOUT(memfd, slot_edges, PM_TIMEOUT)
{
	/* 1M (2M of a 1G page) cut from each end, congruent. */
	uint64_t cut = variant->page == SZ_1G ? SZ_2M : SZ_1M;
	const struct layout edges = {
		.gpa_off = cut,
		.file_off = cut,
		.size = variant->size - 2 * cut,
	};

	__create_vm(self, variant, &edges);
	vm_mem_set_private(self->vm, DATA_GPA + cut, edges.size);
	guest_do(self->vcpu, OP_WRITE, cut, edges.size, 0x21);
	guest_do(self->vcpu, OP_CHECK, cut, edges.size, 0x21);
	if (variant->page == SZ_2M) {
		EXPECT_EQ(mapped(self, "pages_2m"), nr_pages(variant) - 2);
		EXPECT_EQ(mapped(self, "pages_4k"), 2 * cut / PAGE_SIZE);
	} else if (variant->page == SZ_1G) {
		/* The 1G page is cut in two: 2M mappings, no 1G one. */
		EXPECT_EQ(mapped(self, "pages_1g"), 0);
		EXPECT_EQ(mapped(self, "pages_2m"), edges.size / SZ_2M);
		EXPECT_EQ(mapped(self, "pages_4k"), 0);
	} else {
		EXPECT_GE(mapped(self, "pages_4k"), edges.size / PAGE_SIZE);
	}
}

/*
 * GPA and file offset not congruent modulo the huge page size: KVM takes
 * the memslot and maps at the largest size they agree on.
 */
TEST_F_TIMEOUT(memfd, incongruent_offset, PM_TIMEOUT)
{
	/* The file offset is 2M + 4K ahead of the GPA. */
	const struct layout skew = {
		.file_off = SZ_2M + PAGE_SIZE,
		.size = min_t(uint64_t, variant->size - SZ_4M, SZ_16M),
	};

	__create_vm(self, variant, &skew);
	vm_mem_set_private(self->vm, DATA_GPA, skew.size);
	guest_do(self->vcpu, OP_WRITE, 0, skew.size, 0x31);
	guest_do(self->vcpu, OP_CHECK, 0, skew.size, 0x31);
	EXPECT_EQ(mapped(self, "pages_2m"), 0);
	EXPECT_EQ(mapped(self, "pages_1g"), 0);
	EXPECT_GE(mapped(self, "pages_4k"), skew.size / PAGE_SIZE);
}

TEST_F_TIMEOUT(memfd, punch_hole, PM_TIMEOUT)
{
	uint64_t size = variant->size, off = SZ_2M;
	struct kvm_vm *vm;

	create_vm(self, variant);
	vm = self->vm;
	vm_mem_set_private(vm, DATA_GPA, size);
	guest_do(self->vcpu, OP_WRITE, 0, size, 0x77);
	EXPECT_MAPPED(nr_pages(variant));

	/*
	 * Punch 2M while the guest has it mapped: a whole 2M page goes back
	 * to the pool, part of a 1G page is zeroed.  Either way the mapping
	 * covering it is zapped and the next access sees zeroes.
	 */
	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    off, SZ_2M), 0);
	if (variant->page == SZ_2M)
		EXPECT_EQ(pm_hugetlb(SZ_2M, "free_hugepages"),
			  self->free0 - nr_pages(variant) + 1);
	if (is_hugetlb(variant))
		EXPECT_EQ(mapped(self, variant->stat), nr_pages(variant) - 1);
	guest_do(self->vcpu, OP_CHECK_ZERO, off, SZ_2M, 0);
	guest_do(self->vcpu, OP_CHECK, 0, off, 0x77);
	guest_do(self->vcpu, OP_CHECK, off + SZ_2M, size - off - SZ_2M, 0x77);
	/* Refaulted: large again, the pool as before the punch. */
	EXPECT_MAPPED(nr_pages(variant));
	if (is_hugetlb(variant))
		EXPECT_EQ(pm_hugetlb(variant->page, "free_hugepages"),
			  self->free0 - nr_pages(variant));

	/*
	 * 4K punched out of a huge page: the page stays, that 4K reads zero,
	 * and only the mapping covering it goes.
	 */
	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    off + PAGE_SIZE, PAGE_SIZE), 0);
	if (is_hugetlb(variant))
		EXPECT_EQ(mapped(self, variant->stat), nr_pages(variant) - 1);
	guest_do(self->vcpu, OP_CHECK_ZERO, off + PAGE_SIZE, PAGE_SIZE, 0);
	guest_do(self->vcpu, OP_CHECK, 0, off, 0x77);
	EXPECT_MAPPED(nr_pages(variant));
}

/*
 * An hva misaligned with the GPA disables large shared mappings of the slot
 * (6.12's rule), not large private mappings: no hva maps private memory.
 */
TEST_F_TIMEOUT(memfd, misaligned_hva, PM_TIMEOUT)
{
	const struct layout misaligned = { .hva_off = PAGE_SIZE };
	uint64_t size = variant->size;

	__create_vm(self, variant, &misaligned);
	vm_mem_set_private(self->vm, DATA_GPA, size);
	guest_do(self->vcpu, OP_WRITE, 0, size, 0x66);
	guest_do(self->vcpu, OP_CHECK, 0, size, 0x66);
	EXPECT_MAPPED(nr_pages(variant));

	/* The first 2M shared: its hva is misaligned, so 512 4K mappings. */
	vm_mem_set_shared(self->vm, DATA_GPA, SZ_2M);
	guest_do(self->vcpu, OP_WRITE, 0, SZ_2M, 0x67);
	guest_do(self->vcpu, OP_CHECK, SZ_2M, size - SZ_2M, 0x66);
	EXPECT_EQ(*(uint64_t *)addr_gpa2hva(self->vm, DATA_GPA + SZ_2M -
					    PAGE_SIZE), 0x67 ^ (DATA_GPA + SZ_2M - PAGE_SIZE));
	EXPECT_GE(mapped(self, "pages_4k"), SZ_2M / PAGE_SIZE);
	if (variant->page == SZ_2M)
		EXPECT_EQ(mapped(self, "pages_2m"), nr_pages(variant) - 1);
	if (variant->page == SZ_1G)
		EXPECT_EQ(mapped(self, "pages_2m"), SZ_1G / SZ_2M - 1);
}

/*
 * Two vCPUs: one converts single pages to shared and back (hypercalls the
 * host turns into KVM_SET_MEMORY_ATTRIBUTES) while the other faults over
 * the whole range.  Once the range is uniformly private again, the mappings
 * are back at the level of the backing page.
 */
#define CONVERT_ROUNDS	100

static void guest_converter(uint64_t gpa, uint64_t npages)
{
	uint64_t i, page;

	for (i = 0; i < CONVERT_ROUNDS; i++) {
		page = gpa + (i * 7919 % npages) * PAGE_SIZE;
		kvm_hypercall_map_gpa_range(page, PAGE_SIZE, 1);
		WRITE_ONCE(*(uint64_t *)page, i);
		kvm_hypercall_map_gpa_range(page, PAGE_SIZE, 0);
	}
	GUEST_DONE();
}

static bool converter_done;

static void *converter_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct kvm_run *run = vcpu->run;
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_HYPERCALL) {
			vm_set_memory_attributes(vcpu->vm, run->hypercall.args[0],
						 run->hypercall.args[1] * PAGE_SIZE,
						 run->hypercall.args[2] ? 0 :
						 KVM_MEMORY_ATTRIBUTE_PRIVATE);
			run->hypercall.ret = 0;
			continue;
		}
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		case UCALL_DONE:
			return NULL;
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
	}
}

static void *converter_thread_done(void *arg)
{
	converter_thread(arg);
	WRITE_ONCE(converter_done, true);
	return NULL;
}

TEST_F_TIMEOUT(memfd, convert_while_faulting, PM_TIMEOUT)
{
	uint64_t size = variant->size, pass, memory_faults = 0;
	struct kvm_vcpu *converter;
	pthread_t thread;
	int r;

	create_vm(self, variant);
	vm_enable_cap(self->vm, KVM_CAP_EXIT_HYPERCALL,
		      BIT(KVM_HC_MAP_GPA_RANGE));
	converter = vm_vcpu_add(self->vm, 1, guest_converter);
	vcpu_args_set(converter, 2, DATA_GPA, size / PAGE_SIZE);
	vm_mem_set_private(self->vm, DATA_GPA, size);
	guest_do(self->vcpu, OP_WRITE, 0, size, 0x10);

	converter_done = false;
	pthread_create(&thread, NULL, converter_thread_done, converter);
	for (pass = 0; pass < 1000 && !READ_ONCE(converter_done); pass++) {
		r = guest_do_ret(self->vcpu, OP_WRITE, 0, size, 0x11 + pass);
		/* An access that raced with a conversion: run it again. */
		while (r == -EFAULT &&
		       self->vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
			memory_faults++;
			r = pm_guest_resume(self->vcpu);
		}
		ASSERT_EQ(r, 0);
	}
	pthread_join(thread, NULL);
	EXPECT_TRUE(converter_done);
	TH_LOG("%lu passes, %lu memory-fault exits", pass, memory_faults);

	/* Uniformly private: one more pass maps it all large again. */
	guest_do(self->vcpu, OP_WRITE, 0, size, 0x12);
	guest_do(self->vcpu, OP_CHECK, 0, size, 0x12);
	EXPECT_MAPPED(nr_pages(variant));
	/* vCPU 1's own pages are 4K: count only the large mappings. */
	if (variant->page == SZ_1G)
		EXPECT_EQ(mapped(self, "pages_2m"), 0);
}

/* A file truncated under a memslot: KVM_RUN fails, then recovers. */
TEST_F_TIMEOUT(memfd, truncate, PM_TIMEOUT)
{
	struct kvm_run *run;

	create_vm(self, variant);
	run = self->vcpu->run;
	vm_mem_set_private(self->vm, DATA_GPA, variant->size);
	guest_do(self->vcpu, OP_WRITE, 0, variant->size, 0x33);
	ASSERT_EQ(ftruncate(self->fd, 0), 0);
	if (is_hugetlb(variant))
		EXPECT_EQ(mapped(self, variant->stat), 0);
	EXPECT_EQ(guest_do_ret(self->vcpu, OP_CHECK_ZERO, 0, PAGE_SIZE, 0),
		  -EFAULT);
	EXPECT_EQ(run->exit_reason, KVM_EXIT_MEMORY_FAULT);
	EXPECT_EQ(run->memory_fault.gpa, DATA_GPA);
	EXPECT_EQ(run->memory_fault.flags, KVM_MEMORY_EXIT_FLAG_PRIVATE);

	/* Memory is back: the guest goes on, on new zeroed pages. */
	ASSERT_EQ(ftruncate(self->fd, variant->size), 0);
	guest_do(self->vcpu, OP_CHECK_ZERO, 0, variant->size, 0);
}

/* VM destroy with live private mappings, the memfd closed first. */
TEST_F_TIMEOUT(memfd, vm_destroy, PM_TIMEOUT)
{
	struct userspace_mem_region *region;

	create_vm(self, variant);
	vm_mem_set_private(self->vm, DATA_GPA, variant->size);
	guest_do(self->vcpu, OP_WRITE, 0, variant->size, 0x44);
	/* The test's fd and the library's copy: only the memslot is left. */
	region = memslot2region(self->vm, DATA_SLOT);
	close(region->region.guest_memfd);
	region->region.guest_memfd = -1;
	close(self->fd);
	self->fd = INT_MAX;
	if (is_hugetlb(variant))
		EXPECT_EQ(pm_hugetlb(variant->page, "free_hugepages"),
			  self->free0 - nr_pages(variant));
	kvm_vm_free(self->vm);
	self->vm = NULL;
}

TEST_HARNESS_MAIN
