// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile arguments to every call this project adds or extends, table
 * driven: memfd_create(MFD_INACCESSIBLE), seals, KVM_SET_USER_MEMORY_REGION2
 * and the legacy extended form of KVM_SET_USER_MEMORY_REGION with an
 * inaccessible memfd, KVM_SET_MEMORY_ATTRIBUTES and the
 * KVM_MEMORY_ENCRYPT_(UN)REG_REGION conversion aliases.  Each case (a
 * variant named after its call) gets its documented errno; afterwards the
 * VM takes a good memslot at the same id and the hugetlb pool is where it
 * was (no state left behind).  Last, conversions race with memslot
 * deletion.
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

#include <linux/memfd.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "private_mem_util.h"
#include "processor.h"
#include "test_util.h"
#include "../kselftest_harness.h"

#define GPA		(4ULL << 30)
#define SIZE		SZ_4M

/* Everything a case may use, made fresh for each. */
struct env {
	struct kvm_vm *vm;		/* software-protected */
	struct kvm_vm *plain_vm;	/* no private memory */
	struct kvm_vm *other_vm;	/* holds other_fd in slot 1 */
	int fd;				/* inaccessible memfd, SIZE bytes */
	int other_fd;			/* inaccessible memfd of other_vm */
	int shared_fd;			/* ordinary memfd */
	int event_fd;
	int closed_fd;
	void *hva;
};

static int region2(struct kvm_vm *vm, uint64_t gpa, uint64_t size, void *hva,
		   int fd, uint64_t offset)
{
	return __vm_set_user_memory_region2(vm, 1, KVM_MEM_GUEST_MEMFD, gpa,
					    size, hva, fd, offset);
}

static int region2_accessible_memfd(struct env *e)
{
	return region2(e->vm, GPA, SIZE, e->hva, e->shared_fd, 0);
}

static int region2_eventfd(struct env *e)
{
	return region2(e->vm, GPA, SIZE, e->hva, e->event_fd, 0);
}

static int region2_closed_fd(struct env *e)
{
	return region2(e->vm, GPA, SIZE, e->hva, e->closed_fd, 0);
}

static int region2_vm_fd(struct env *e)
{
	return region2(e->vm, GPA, SIZE, e->hva, e->vm->fd, 0);
}

static int region2_unaligned_offset(struct env *e)
{
	return region2(e->vm, GPA, SZ_2M, e->hva, e->fd, 512);
}

static int region2_beyond_file(struct env *e)
{
	return region2(e->vm, GPA, SIZE, e->hva, e->fd, PAGE_SIZE);
}

static int region2_slot_bigger_than_file(struct env *e)
{
	return region2(e->vm, GPA, 2 * SIZE, e->hva, e->fd, 0);
}

static int region2_offset_overflow(struct env *e)
{
	return region2(e->vm, GPA, SIZE, e->hva, e->fd, -(uint64_t)PAGE_SIZE);
}

/* Does not wrap as a u64, but is negative as a file offset. */
static int region2_negative_offset(struct env *e)
{
	return region2(e->vm, GPA, SIZE, e->hva, e->fd, 1ULL << 63);
}

/* A file belongs to the first VM that binds it. */
static int region2_other_vms_file(struct env *e)
{
	return region2(e->vm, GPA, SIZE, e->hva, e->other_fd, 0);
}

/* Slot 1 over the range slot 2 of the same VM holds; slot 2 goes again. */
static int region2_own_slots_range(struct env *e)
{
	int r, err;

	TEST_ASSERT(!__vm_set_user_memory_region2(e->vm, 2, KVM_MEM_GUEST_MEMFD,
						  GPA + 2 * SIZE, SIZE, e->hva,
						  e->fd, 0),
		    "KVM_SET_USER_MEMORY_REGION2 slot 2: %s", strerror(errno));
	r = region2(e->vm, GPA, SZ_2M, e->hva, e->fd, SZ_2M);
	err = errno;
	TEST_ASSERT(!__vm_set_user_memory_region2(e->vm, 2, KVM_MEM_GUEST_MEMFD,
						  GPA + 2 * SIZE, 0, e->hva,
						  e->fd, 0),
		    "deleting slot 2: %s", strerror(errno));
	errno = err;
	return r;
}

static int region2_vm_without_private_memory(struct env *e)
{
	return region2(e->plain_vm, GPA, SIZE, e->hva, e->fd, 0);
}

static int region2_unknown_flag(struct env *e)
{
	return __vm_set_user_memory_region2(e->vm, 1, KVM_MEM_GUEST_MEMFD | BIT(15),
					    GPA, SIZE, e->hva, e->fd, 0);
}

static int legacy_region_beyond_file(struct env *e)
{
	struct kvm_userspace_memory_region_ext ext = {
		.region = {
			.slot = 1,
			.flags = KVM_MEM_PRIVATE,
			.guest_phys_addr = GPA,
			.memory_size = 2 * SIZE,
			.userspace_addr = (uintptr_t)e->hva,
		},
		.private_fd = e->fd,
	};

	return ioctl(e->vm->fd, KVM_SET_USER_MEMORY_REGION, &ext);
}

static int legacy_region_unknown_flag(struct env *e)
{
	/* Without KVM_MEM_PRIVATE, bits beyond the v1 flags stay invalid. */
	struct kvm_userspace_memory_region region = {
		.slot = 1,
		.flags = BIT(3),
		.guest_phys_addr = GPA,
		.memory_size = SIZE,
		.userspace_addr = (uintptr_t)e->hva,
	};

	return ioctl(e->vm->fd, KVM_SET_USER_MEMORY_REGION, &region);
}

static int attrs(struct env *e, uint64_t gpa, uint64_t size, uint64_t attr,
		 uint64_t flags)
{
	struct kvm_memory_attributes a = {
		.address = gpa,
		.size = size,
		.attributes = attr,
		.flags = flags,
	};

	return ioctl(e->vm->fd, KVM_SET_MEMORY_ATTRIBUTES, &a);
}

static int attributes_zero_size(struct env *e)
{
	return attrs(e, GPA, 0, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);
}

static int attributes_unaligned(struct env *e)
{
	return attrs(e, GPA + 1, PAGE_SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);
}

static int attributes_overflow(struct env *e)
{
	return attrs(e, -(uint64_t)PAGE_SIZE, 2 * PAGE_SIZE,
		     KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);
}

static int attributes_unknown(struct env *e)
{
	return attrs(e, GPA, PAGE_SIZE, BIT(0), 0);
}

static int attributes_flags(struct env *e)
{
	return attrs(e, GPA, PAGE_SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 1);
}

static int attributes_outside_memslots(struct env *e)
{
	/* Attributes are per GPA, memslot or not: this one succeeds. */
	return attrs(e, 64ULL << 30, SZ_2M, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);
}

static int enc_region(struct env *e, unsigned long ioctl_nr, uint64_t addr,
		      uint64_t size)
{
	struct kvm_enc_region r = { .addr = addr, .size = size };

	return ioctl(e->vm->fd, ioctl_nr, &r);
}

static int reg_region_zero_size(struct env *e)
{
	return enc_region(e, KVM_MEMORY_ENCRYPT_REG_REGION, GPA, 0);
}

static int reg_region_unaligned_size(struct env *e)
{
	return enc_region(e, KVM_MEMORY_ENCRYPT_REG_REGION, GPA, 100);
}

static int unreg_region_overflow(struct env *e)
{
	return enc_region(e, KVM_MEMORY_ENCRYPT_UNREG_REGION, -(uint64_t)PAGE_SIZE,
			  2 * PAGE_SIZE);
}

static int reg_region_vm_without_private_memory(struct env *e)
{
	struct kvm_enc_region r = { .addr = GPA, .size = PAGE_SIZE };

	/* Not software-protected, not SEV: nothing implements it. */
	return ioctl(e->plain_vm->fd, KVM_MEMORY_ENCRYPT_REG_REGION, &r);
}

static int memfd_flags(unsigned int flags)
{
	int fd = memfd_create("bad", flags);

	if (fd >= 0)
		close(fd);
	return fd;
}

static int memfd_allow_sealing(struct env *e)
{
	return memfd_flags(MFD_INACCESSIBLE | MFD_ALLOW_SEALING);
}

static int memfd_exec(struct env *e)
{
	return memfd_flags(MFD_INACCESSIBLE | MFD_EXEC);
}

static int memfd_unknown_flag(struct env *e)
{
	return memfd_flags(MFD_INACCESSIBLE | 0x80);
}

static int seal_inaccessible_memfd(struct env *e)
{
	/* Inaccessible memfds come sealed with F_SEAL_SEAL. */
	return fcntl(e->fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE);
}

static int ftruncate_unaligned(struct env *e)
{
	return ftruncate(e->fd, SIZE + 100);
}

FIXTURE(bad) {
	struct env e;
	uint64_t free0[2], resv0[2];
};

/* The call, what it tries, and the errno it must fail with (0: succeed). */
FIXTURE_VARIANT(bad) {
	int (*call)(struct env *e);
	const char *what;
	int err;
};

/* The table of cases: one variant each, named after its call. */
FIXTURE_VARIANT_ADD(bad, region2_accessible_memfd)
	{ region2_accessible_memfd, "region2: accessible memfd", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_eventfd)
	{ region2_eventfd, "region2: eventfd", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_closed_fd)
	{ region2_closed_fd, "region2: closed fd", EBADF };
FIXTURE_VARIANT_ADD(bad, region2_vm_fd)
	{ region2_vm_fd, "region2: a VM fd", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_unaligned_offset)
	{ region2_unaligned_offset, "region2: unaligned offset", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_beyond_file)
	{ region2_beyond_file, "region2: range beyond the file", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_slot_bigger_than_file)
	{ region2_slot_bigger_than_file, "region2: memslot bigger than the file", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_offset_overflow)
	{ region2_offset_overflow, "region2: offset + size overflows", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_negative_offset)
	{ region2_negative_offset, "region2: offset 2^63", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_other_vms_file)
	{ region2_other_vms_file, "region2: file another VM bound", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_own_slots_range)
	{ region2_own_slots_range, "region2: range another memslot of the VM holds", EEXIST };
FIXTURE_VARIANT_ADD(bad, region2_vm_without_private_memory)
	{ region2_vm_without_private_memory, "region2: VM without private memory", EINVAL };
FIXTURE_VARIANT_ADD(bad, region2_unknown_flag)
	{ region2_unknown_flag, "region2: unknown flag", EINVAL };
FIXTURE_VARIANT_ADD(bad, legacy_region_beyond_file)
	{ legacy_region_beyond_file, "legacy form: range beyond the file", EINVAL };
FIXTURE_VARIANT_ADD(bad, legacy_region_unknown_flag)
	{ legacy_region_unknown_flag, "legacy form: unknown flag, no KVM_MEM_PRIVATE", EINVAL };
FIXTURE_VARIANT_ADD(bad, attributes_zero_size)
	{ attributes_zero_size, "attributes: zero size", EINVAL };
FIXTURE_VARIANT_ADD(bad, attributes_unaligned)
	{ attributes_unaligned, "attributes: unaligned", EINVAL };
FIXTURE_VARIANT_ADD(bad, attributes_overflow)
	{ attributes_overflow, "attributes: overflow", EINVAL };
FIXTURE_VARIANT_ADD(bad, attributes_unknown)
	{ attributes_unknown, "attributes: unknown attribute", EINVAL };
FIXTURE_VARIANT_ADD(bad, attributes_flags)
	{ attributes_flags, "attributes: flags", EINVAL };
FIXTURE_VARIANT_ADD(bad, attributes_outside_memslots)
	{ attributes_outside_memslots, "attributes: outside any memslot (allowed)", 0 };
FIXTURE_VARIANT_ADD(bad, reg_region_zero_size)
	{ reg_region_zero_size, "REG_REGION: zero size", EINVAL };
FIXTURE_VARIANT_ADD(bad, reg_region_unaligned_size)
	{ reg_region_unaligned_size, "REG_REGION: unaligned size", EINVAL };
FIXTURE_VARIANT_ADD(bad, unreg_region_overflow)
	{ unreg_region_overflow, "UNREG_REGION: overflow", EINVAL };
FIXTURE_VARIANT_ADD(bad, reg_region_vm_without_private_memory)
	{ reg_region_vm_without_private_memory, "REG_REGION: VM without private memory", ENOTTY };
FIXTURE_VARIANT_ADD(bad, memfd_allow_sealing)
	{ memfd_allow_sealing, "memfd: MFD_INACCESSIBLE | MFD_ALLOW_SEALING", EINVAL };
FIXTURE_VARIANT_ADD(bad, memfd_exec)
	{ memfd_exec, "memfd: MFD_INACCESSIBLE | MFD_EXEC", EINVAL };
FIXTURE_VARIANT_ADD(bad, memfd_unknown_flag)
	{ memfd_unknown_flag, "memfd: unknown flag", EINVAL };
FIXTURE_VARIANT_ADD(bad, seal_inaccessible_memfd)
	{ seal_inaccessible_memfd, "seal: any seal on an inaccessible memfd", EPERM };
FIXTURE_VARIANT_ADD(bad, ftruncate_unaligned)
	{ ftruncate_unaligned, "ftruncate: size not page aligned", EINVAL };

static const size_t pools[2] = { SZ_2M, SZ_1G };

FIXTURE_SETUP(bad)
{
	struct env *e = &self->e;
	int i;

	memset(e, 0, sizeof(*e));
	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		SKIP(return, "KVM_X86_SW_PROTECTED_VM not supported");
	if (!kvm_check_cap(KVM_CAP_INACCESSIBLE_MEMFD))
		SKIP(return, "KVM_CAP_INACCESSIBLE_MEMFD not supported");
	if (pm_hugetlb(SZ_2M, "free_hugepages") < 2 * SIZE / SZ_2M)
		SKIP(return, "needs %d free 2M huge pages", 2 * SIZE / SZ_2M);
	/* Checked against with every case's state built. */
	for (i = 0; i < 2; i++) {
		self->free0[i] = pm_hugetlb(pools[i], "free_hugepages");
		self->resv0[i] = pm_hugetlb(pools[i], "resv_hugepages");
	}

	e->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	e->plain_vm = vm_create_barebones();
	e->other_vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	e->hva = mmap(NULL, 2 * SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(e->hva, MAP_FAILED);
	e->fd = memfd_create("private", MFD_INACCESSIBLE | MFD_HUGETLB | MFD_HUGE_2MB);
	ASSERT_GE(e->fd, 0);
	ASSERT_EQ(ftruncate(e->fd, SIZE), 0);
	e->other_fd = memfd_create("other", MFD_INACCESSIBLE);
	ASSERT_GE(e->other_fd, 0);
	ASSERT_EQ(ftruncate(e->other_fd, SIZE), 0);
	e->shared_fd = memfd_create("shared", 0);
	ASSERT_GE(e->shared_fd, 0);
	ASSERT_EQ(ftruncate(e->shared_fd, SIZE), 0);
	e->event_fd = eventfd(0, 0);
	ASSERT_GE(e->event_fd, 0);
	e->closed_fd = dup(e->event_fd);
	close(e->closed_fd);
}

FIXTURE_TEARDOWN(bad)
{
	struct env *e = &self->e;

	if (!e->vm)
		return;
	kvm_vm_free(e->vm);
	kvm_vm_free(e->plain_vm);
	kvm_vm_free(e->other_vm);
	close(e->fd);
	close(e->other_fd);
	close(e->shared_fd);
	close(e->event_fd);
	munmap(e->hva, 2 * SIZE);
}

TEST_F(bad, errno_and_no_state)
{
	struct env *e = &self->e;
	int r, i;

	ASSERT_EQ(region2(e->other_vm, GPA, SIZE, e->hva, e->other_fd, 0), 0);
	r = variant->call(e);
	TH_LOG("%s: %d (%s)", variant->what, r, r ? strerror(errno) : "ok");
	if (variant->err) {
		EXPECT_EQ(r, -1);
		EXPECT_EQ(errno, variant->err);
	} else {
		EXPECT_EQ(r, 0);
	}

	/* Nothing left behind: the file, the slot id and the pool. */
	ASSERT_EQ(region2(e->other_vm, GPA, 0, NULL, e->other_fd, 0), 0);
	EXPECT_EQ(region2(e->vm, GPA, SIZE, e->hva, e->fd, 0), 0);
	for (i = 0; i < 2; i++) {
		/* Only the 2M file's reservation: SIZE. */
		EXPECT_EQ(pm_hugetlb(pools[i], "free_hugepages"), self->free0[i]);
		EXPECT_EQ(pm_hugetlb(pools[i], "resv_hugepages"),
			  self->resv0[i] + (i ? 0 : SIZE / SZ_2M));
	}
}

/*
 * Every VM type KVM offers takes an inaccessible memfd exactly when it says
 * so with KVM_CAP_INACCESSIBLE_MEMFD, and refuses it with EINVAL otherwise
 * (e.g. SEV-SNP, whose private pages must go through the gmem arch hooks).
 */
TEST(vm_types)
{
	uint64_t types = kvm_check_cap(KVM_CAP_VM_TYPES);
	struct kvm_vm *vm;
	int type, fd, r, tried = 0;
	void *hva;

	if (!kvm_check_cap(KVM_CAP_INACCESSIBLE_MEMFD))
		SKIP(return, "KVM_CAP_INACCESSIBLE_MEMFD not supported");
	hva = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(hva, MAP_FAILED);
	for (type = 0; type < 64; type++) {
		if (!(types & BIT_ULL(type)))
			continue;
		fd = memfd_create("private", MFD_INACCESSIBLE);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(ftruncate(fd, SIZE), 0);
		vm = vm_create_barebones_type(type);
		r = region2(vm, GPA, SIZE, hva, fd, 0);
		TH_LOG("VM type %d: cap %d, bind %d (%s)", type,
		       vm_check_cap(vm, KVM_CAP_INACCESSIBLE_MEMFD), r,
		       r ? strerror(errno) : "ok");
		if (vm_check_cap(vm, KVM_CAP_INACCESSIBLE_MEMFD)) {
			EXPECT_EQ(r, 0);
		} else {
			EXPECT_EQ(r, -1);
			EXPECT_EQ(errno, EINVAL);
		}
		kvm_vm_free(vm);
		close(fd);
		tried++;
	}
	EXPECT_GE(tried, 1);
	munmap(hva, SIZE);
}

/* Conversions racing with deleting and re-adding the memslot. */
static void *converter(void *arg)
{
	struct env *e = arg;
	uint64_t i;

	for (i = 0; i < 2000; i++)
		TEST_ASSERT(!attrs(e, GPA + (i % (SIZE / PAGE_SIZE)) * PAGE_SIZE,
				   PAGE_SIZE, i & 1 ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, 0),
			    "KVM_SET_MEMORY_ATTRIBUTES: %s", strerror(errno));
	return NULL;
}

TEST(conversion_races_slot_deletion)
{
	struct env e = {};
	pthread_t t;
	int i;

	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)) ||
	    !kvm_check_cap(KVM_CAP_INACCESSIBLE_MEMFD))
		SKIP(return, "no software-protected VM or inaccessible memfd");
	e.vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	e.hva = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(e.hva, MAP_FAILED);
	e.fd = memfd_create("private", MFD_INACCESSIBLE);
	ASSERT_GE(e.fd, 0);
	ASSERT_EQ(ftruncate(e.fd, SIZE), 0);

	pthread_create(&t, NULL, converter, &e);
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(region2(e.vm, GPA, SIZE, e.hva, e.fd, 0), 0);
		ASSERT_EQ(region2(e.vm, GPA, 0, NULL, e.fd, 0), 0);
	}
	pthread_join(t, NULL);
	kvm_vm_free(e.vm);
	close(e.fd);
	munmap(e.hva, SIZE);
}

TEST_HARNESS_MAIN
