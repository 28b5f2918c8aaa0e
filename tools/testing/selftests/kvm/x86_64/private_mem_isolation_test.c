// SPDX-License-Identifier: GPL-2.0
/*
 * Isolation and pool faults of private memory in inaccessible memfds
 * (shmem, hugetlb 2M, hugetlb 1G).
 *
 * With private data live in the guest, host userspace cannot reach it: not
 * through the memfd, not through the slot's shared mapping read by
 * /proc/PID/mem, process_vm_readv() or ptrace() from another process, and
 * not through KVM once the page is converted to shared, and not through a
 * second VM bound to the same open memfd (the file belongs to the first VM).
 * A page a VM freed reads as zeroes in the next VM.  An exhausted or shrunk hugetlb pool gives
 * the VMM a clean error and the VM goes on once memory is back.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/falloc.h>
#include <linux/memfd.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "private_mem_util.h"
#include "processor.h"
#include "test_util.h"
#include "../kselftest_harness.h"

#define DATA_SLOT	10
#define DATA_GPA	(4ULL << 30)
#define SECRET		0x5ec2e7ULL
#define PM_TIMEOUT	180

FIXTURE(iso) {
	int fd;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint64_t *hva;
};

FIXTURE_VARIANT(iso) {
	unsigned int mfd_flags;
	size_t page;
	size_t size;
};

FIXTURE_VARIANT_ADD(iso, shmem) {
	.mfd_flags = 0,
	.page = SZ_4K,
	.size = SZ_4M,
};

FIXTURE_VARIANT_ADD(iso, hugetlb_2M) {
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_2MB,
	.page = SZ_2M,
	.size = SZ_4M,
};

FIXTURE_VARIANT_ADD(iso, hugetlb_1G) {
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_1GB,
	.page = SZ_1G,
	.size = SZ_1G,
};

/* A private VM whose data slot is backed by a new inaccessible memfd. */
static void create_vm(struct _test_data_iso *self,
		      const struct _fixture_variant_iso *variant)
{
	struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};

	self->fd = memfd_create("private", MFD_INACCESSIBLE | variant->mfd_flags);
	TEST_ASSERT(self->fd >= 0, "memfd_create(MFD_INACCESSIBLE)");
	TEST_ASSERT(!ftruncate(self->fd, variant->size), "ftruncate()");
	self->vm = __vm_create_shape_with_one_vcpu(shape, &self->vcpu, 64,
						   pm_guest_code);
	vm_mem_add(self->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
		   variant->size / PAGE_SIZE, KVM_MEM_GUEST_MEMFD, self->fd, 0);
	virt_map_level(self->vm, DATA_GPA, DATA_GPA, variant->size, PG_LEVEL_2M);
	vm_mem_set_private(self->vm, DATA_GPA, variant->size);
	self->hva = addr_gpa2hva(self->vm, DATA_GPA);
	pm_guest_start(self->vcpu);
}

static void destroy_vm(struct _test_data_iso *self)
{
	kvm_vm_free(self->vm);
	self->vm = NULL;
	close(self->fd);
	self->fd = -1;
}

FIXTURE_SETUP(iso)
{
	const char *reason;

	self->vm = NULL;
	self->fd = -1;
	reason = pm_unsupported(variant->page, variant->size);
	if (reason)
		SKIP(return, "%s", reason);
}

FIXTURE_TEARDOWN(iso)
{
	if (self->vm)
		destroy_vm(self);
	if (self->fd >= 0)
		close(self->fd);
}

/* Whether any qword of [buf, buf + len) holds a value the guest wrote. */
static bool has_secret(const uint64_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (buf[i])
			return true;
	return false;
}

/* ptrace() the test from a child and peek at @addr: 0 or the word. */
static long peek_from_child(const void *addr)
{
	pid_t parent = getpid(), child;
	int status;
	long word;

	child = fork();
	TEST_ASSERT(child >= 0, "fork()");
	if (!child) {
		if (ptrace(PTRACE_ATTACH, parent, NULL, NULL))
			_exit(2);
		waitpid(parent, NULL, __WALL);
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, parent, addr, NULL);
		ptrace(PTRACE_DETACH, parent, NULL, NULL);
		_exit(errno ? 3 : word ? 1 : 0);
	}
	TEST_ASSERT(waitpid(child, &status, 0) == child, "waitpid()");
	TEST_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) <= 1,
		    "ptrace child failed: status 0x%x", status);
	return WEXITSTATUS(status);
}

TEST_F_TIMEOUT(iso, host_cannot_read, PM_TIMEOUT)
{
	size_t len = SZ_2M;
	struct iovec local, remote;
	uint64_t *buf;
	char path[64];
	int memfd;

	create_vm(self, variant);
	/* The guest's secret, in every page of the first 2M. */
	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, len, SECRET);
	pm_guest_do(self->vcpu, PM_CHECK, DATA_GPA, len, SECRET);
	buf = malloc(len);
	ASSERT_NE(buf, NULL);

	/* The memfd: no read, no mapping, no reopen. */
	EXPECT_EQ(pread(self->fd, buf, PAGE_SIZE, 0), -1);
	EXPECT_EQ(errno, EPERM);
	EXPECT_EQ(mmap(NULL, variant->page, PROT_READ, MAP_SHARED, self->fd, 0),
		  MAP_FAILED);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", self->fd);
	EXPECT_EQ(open(path, O_RDONLY), -1);

	/* The slot's hva maps the shared side: it never sees the secret. */
	EXPECT_FALSE(has_secret(self->hva, len));
	memfd = open("/proc/self/mem", O_RDONLY);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(pread(memfd, buf, len, (uintptr_t)self->hva), len);
	EXPECT_FALSE(has_secret(buf, len));
	close(memfd);
	local = (struct iovec) { .iov_base = buf, .iov_len = len };
	remote = (struct iovec) { .iov_base = self->hva, .iov_len = len };
	ASSERT_EQ(process_vm_readv(getpid(), &local, 1, &remote, 1, 0), len);
	EXPECT_FALSE(has_secret(buf, len));
	EXPECT_EQ(peek_from_child(self->hva), 0);
	EXPECT_EQ(peek_from_child(self->hva + len / 8 - 1), 0);

	/*
	 * Private to shared: the guest now reads the shared side, which
	 * never held the secret; converting back, the private data is there.
	 */
	vm_mem_set_shared(self->vm, DATA_GPA, len);
	pm_guest_do(self->vcpu, PM_CHECK_ZERO, DATA_GPA, len, 0);
	vm_mem_set_private(self->vm, DATA_GPA, len);
	pm_guest_do(self->vcpu, PM_CHECK, DATA_GPA, len, SECRET);
	free(buf);
}

/* Delete or re-add the data memslot of @vm without kvm_util's bookkeeping. */
static int set_data_slot(struct kvm_vm *vm, int fd, size_t size, void *hva)
{
	return __vm_set_user_memory_region2(vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
					    DATA_GPA, size, hva, fd, 0);
}

/*
 * The attack: a second VM whose guest the VMM controls binds the same open
 * memfd and reads what the first VM left there.  The bind must fail; were it
 * to succeed, the second guest reads the range and reports what it finds.
 */
static void expect_no_second_vm(struct _test_data_iso *self,
				const struct _fixture_variant_iso *variant,
				struct __test_metadata *_metadata)
{
	struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm2;
	void *shared;
	int r;

	vm2 = __vm_create_shape_with_one_vcpu(shape, &vcpu, 64, pm_guest_code);
	shared = mmap(NULL, variant->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(shared, MAP_FAILED);
	r = set_data_slot(vm2, self->fd, variant->size, shared);
	EXPECT_EQ(r, -1);
	EXPECT_EQ(errno, EINVAL);
	if (!r) {
		/* What the second guest sees: the test fails if it is data. */
		virt_map_level(vm2, DATA_GPA, DATA_GPA, variant->size,
			       PG_LEVEL_2M);
		vm_mem_set_private(vm2, DATA_GPA, variant->size);
		pm_guest_start(vcpu);
		r = pm_guest_do_ret(vcpu, PM_CHECK_ZERO, DATA_GPA,
				    variant->size, 0);
		EXPECT_EQ(r, 0);
	}
	kvm_vm_free(vm2);
	munmap(shared, variant->size);
}

/*
 * An inaccessible memfd belongs to the first VM that binds it.  That VM can
 * delete and re-add its memslot and finds its data again; another VM cannot
 * bind the file, neither while the first VM lives nor after it is gone.
 */
TEST_F_TIMEOUT(iso, second_vm_cannot_bind, PM_TIMEOUT)
{
	void *hva;

	create_vm(self, variant);
	hva = self->hva;
	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, variant->size, SECRET);

	/* The memslot goes, the pages stay in the still open file. */
	ASSERT_EQ(set_data_slot(self->vm, self->fd, 0, hva), 0);
	expect_no_second_vm(self, variant, _metadata);

	/* The owner binds again and finds its data. */
	ASSERT_EQ(set_data_slot(self->vm, self->fd, variant->size, hva), 0);
	pm_guest_do(self->vcpu, PM_CHECK, DATA_GPA, variant->size, SECRET);
	expect_no_second_vm(self, variant, _metadata);

	/* The owner is destroyed; the file is still open. */
	kvm_vm_free(self->vm);
	self->vm = NULL;
	expect_no_second_vm(self, variant, _metadata);
	close(self->fd);
	self->fd = -1;
}

/* What one VM wrote and freed, the next VM reads as zeroes. */
TEST_F_TIMEOUT(iso, freed_pages_are_zeroed, PM_TIMEOUT)
{
	create_vm(self, variant);
	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, variant->size, SECRET);
	/* Freed by punch, refaulted in the same VM. */
	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    0, variant->size), 0);
	pm_guest_do(self->vcpu, PM_CHECK_ZERO, DATA_GPA, variant->size, 0);
	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, variant->size, SECRET);
	destroy_vm(self);

	/* Freed with the VM and the file, handed to a new VM. */
	create_vm(self, variant);
	pm_guest_do(self->vcpu, PM_CHECK_ZERO, DATA_GPA, variant->size, 0);
}

/* Write a hugetlb pool counter. */
static void set_pool(size_t page, const char *name, uint64_t n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%zukB/%s",
		 page >> 10, name);
	f = fopen(path, "w");
	TEST_ASSERT(f, "open %s", path);
	fprintf(f, "%lu\n", n);
	TEST_ASSERT(!fclose(f), "write %s", path);
}

/*
 * The pool runs dry under a running VM: a guest access to a punched page
 * makes KVM_RUN fail with KVM_EXIT_MEMORY_FAULT, and once memory is back the
 * guest goes on.  Another hugetlb file takes the rest of the pool.
 */
TEST_F_TIMEOUT(iso, pool_exhausted, PM_TIMEOUT)
{
	int hog, r;
	uint64_t free;

	if (variant->page == SZ_4K)
		SKIP(return, "shmem has no pool");
	create_vm(self, variant);
	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, variant->size, SECRET);
	ASSERT_EQ(fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    0, variant->page), 0);

	/* Every page neither in use nor reserved. */
	free = pm_hugetlb(variant->page, "free_hugepages") -
	       pm_hugetlb(variant->page, "resv_hugepages");
	hog = memfd_create("hog", variant->mfd_flags);
	ASSERT_GE(hog, 0);
	ASSERT_EQ(ftruncate(hog, free * variant->page), 0);
	ASSERT_EQ(fallocate(hog, 0, 0, free * variant->page), 0);
	ASSERT_EQ(pm_hugetlb(variant->page, "free_hugepages"),
		  pm_hugetlb(variant->page, "resv_hugepages"));

	r = pm_guest_do_ret(self->vcpu, PM_CHECK_ZERO, DATA_GPA, PAGE_SIZE, 0);
	EXPECT_TRUE(r == -ENOSPC || r == -ENOMEM) TH_LOG("KVM_RUN: %d", r);
	EXPECT_EQ(self->vcpu->run->exit_reason, KVM_EXIT_MEMORY_FAULT);
	EXPECT_EQ(self->vcpu->run->memory_fault.gpa, DATA_GPA);

	close(hog);
	EXPECT_EQ(pm_guest_resume(self->vcpu), 0);
	pm_guest_do(self->vcpu, PM_CHECK_ZERO, DATA_GPA, variant->page, 0);
	pm_guest_do(self->vcpu, PM_CHECK, DATA_GPA + variant->page,
		    variant->size - variant->page, SECRET);
}

/*
 * nr_hugepages shrunk to nothing under a running VM: the pages in use stay
 * (as surplus), the guest keeps its data, and they leave the pool when the
 * VM and the file go.  Only 2M: 1G pages need not come back at run time.
 */
TEST_F_TIMEOUT(iso, pool_shrunk, PM_TIMEOUT)
{
	uint64_t nr;

	if (variant->page != SZ_2M)
		SKIP(return, "2M pages only (1G pages may not be allocatable again)");
	nr = pm_hugetlb(SZ_2M, "nr_hugepages");
	create_vm(self, variant);
	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, variant->size, SECRET);

	set_pool(SZ_2M, "nr_hugepages", 0);
	EXPECT_EQ(pm_hugetlb(SZ_2M, "nr_hugepages"), variant->size / SZ_2M);
	EXPECT_EQ(pm_hugetlb(SZ_2M, "surplus_hugepages"), variant->size / SZ_2M);
	pm_guest_do(self->vcpu, PM_CHECK, DATA_GPA, variant->size, SECRET);

	destroy_vm(self);
	EXPECT_EQ(pm_hugetlb(SZ_2M, "nr_hugepages"), 0);
	EXPECT_EQ(pm_hugetlb(SZ_2M, "surplus_hugepages"), 0);
	set_pool(SZ_2M, "nr_hugepages", nr);
	ASSERT_EQ(pm_hugetlb(SZ_2M, "nr_hugepages"), nr);
}

TEST_HARNESS_MAIN
