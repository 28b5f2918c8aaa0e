// SPDX-License-Identifier: GPL-2.0
/*
 * Races between binding an inaccessible memfd to a memslot and punching a
 * hole in it, made to happen on purpose: KVM's test hook
 * /sys/module/kvm/parameters/memfile_race_delay_ms
 * (CONFIG_KVM_MEMFILE_RACE_TEST) sleeps after a bind has registered on the
 * file, before its memslot is installed, and in an invalidation before it
 * takes effect.
 *
 * - A memslot installed while a punch is invalidating its range must not keep
 *   a mapping of the page the punch frees: the guest reads zeroes after the
 *   punch, not what the freed page held.  (On hugetlbfs get_pfn waits for
 *   the punch, so the guest cannot map the page in the window; on shmem it
 *   can, and only KVM's invalidation keeps the mapping from outliving it.)
 * - A memslot deleted while a punch of its range runs (made invalid, its
 *   mappings not zapped yet) must not keep mappings of the pages the punch
 *   frees: the guest must not read them before the deletion's own zap.
 * - A bind while a punch is between invalidate and invalidate_end must not
 *   see only the end of it (KVM would take its invalidation count below zero
 *   and mark the VM bugged).
 *
 * The hook sleeps where the windows are today: the tests catch these races
 * as long as the hook stays at the place the code under test can race at.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

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
#define DATA_SIZE	SZ_4M
#define SECRET		0x7ace5ULL
#define DELAY_PARAM	"/sys/module/kvm/parameters/memfile_race_delay_ms"
#define DELAY_MS	1000
#define RACE_TIMEOUT	180

FIXTURE(race) {
	int fd;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	void *hva;
};

FIXTURE_VARIANT(race) {
	unsigned int mfd_flags;
	size_t page;
};

FIXTURE_VARIANT_ADD(race, shmem) {
	.mfd_flags = 0,
	.page = SZ_4K,
};

FIXTURE_VARIANT_ADD(race, hugetlb_2M) {
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_2MB,
	.page = SZ_2M,
};

static int set_delay(unsigned int ms)
{
	FILE *f = fopen(DELAY_PARAM, "w");

	if (!f)
		return -1;
	fprintf(f, "%u\n", ms);
	return fclose(f);
}

FIXTURE_SETUP(race)
{
	struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	const char *reason;

	self->vm = NULL;
	self->fd = -1;
	reason = pm_unsupported(variant->page, DATA_SIZE);
	if (reason)
		SKIP(return, "%s", reason);
	if (access(DELAY_PARAM, W_OK))
		SKIP(return, "no %s (CONFIG_KVM_MEMFILE_RACE_TEST)",
		     DELAY_PARAM);

	self->fd = memfd_create("private", MFD_INACCESSIBLE | variant->mfd_flags);
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(ftruncate(self->fd, DATA_SIZE), 0);
	self->vm = __vm_create_shape_with_one_vcpu(shape, &self->vcpu, 64,
						   pm_guest_code);
	vm_mem_add(self->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
		   DATA_SIZE / PAGE_SIZE, KVM_MEM_GUEST_MEMFD, self->fd, 0);
	virt_map_level(self->vm, DATA_GPA, DATA_GPA, DATA_SIZE, PG_LEVEL_2M);
	vm_mem_set_private(self->vm, DATA_GPA, DATA_SIZE);
	self->hva = addr_gpa2hva(self->vm, DATA_GPA);
	pm_guest_start(self->vcpu);
}

FIXTURE_TEARDOWN(race)
{
	set_delay(0);
	if (self->vm)
		kvm_vm_free(self->vm);
	if (self->fd >= 0)
		close(self->fd);
}

/* A memslot of [@off, @off + @size) of the file at @gpa, or deleted. */
struct slot_op {
	struct kvm_vm *vm;
	int fd;
	uint32_t slot;
	uint64_t gpa;
	uint64_t off;
	uint64_t size;
	void *hva;
	int ret;
	int err;
};

static void *slot_thread(void *data)
{
	struct slot_op *op = data;

	op->ret = __vm_set_user_memory_region2(op->vm, op->slot,
					       KVM_MEM_GUEST_MEMFD, op->gpa,
					       op->size, op->hva, op->fd,
					       op->off);
	op->err = errno;
	return NULL;
}

struct punch_op {
	int fd;
	off_t off;
	off_t len;
	int ret;
};

static void *punch_thread(void *data)
{
	struct punch_op *op = data;

	op->ret = fallocate(op->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    op->off, op->len);
	return NULL;
}

/*
 * The memslot is re-added (its bind held between registering on the file and
 * installing the memslot) while a punch of its range starts; the guest maps
 * the page before the punch's invalidation takes effect.  Once the punch is
 * done the guest must fault in a new, zeroed page.
 */
TEST_F_TIMEOUT(race, install_during_punch, RACE_TIMEOUT)
{
	struct slot_op add = {
		.vm = self->vm, .fd = self->fd, .slot = DATA_SLOT,
		.gpa = DATA_GPA, .size = SZ_2M, .hva = self->hva,
	};
	struct punch_op punch = { .fd = self->fd, .len = SZ_2M };
	pthread_t a, b;

	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, SZ_2M, SECRET);
	/* The memslot goes, its page stays in the file. */
	ASSERT_EQ(__vm_set_user_memory_region2(self->vm, DATA_SLOT,
					       KVM_MEM_GUEST_MEMFD, DATA_GPA,
					       0, self->hva, self->fd, 0), 0);

	ASSERT_EQ(set_delay(DELAY_MS), 0);
	ASSERT_EQ(pthread_create(&a, NULL, slot_thread, &add), 0);
	/* The bind has registered and sleeps; the punch starts. */
	usleep(DELAY_MS * 300);
	ASSERT_EQ(pthread_create(&b, NULL, punch_thread, &punch), 0);
	ASSERT_EQ(pthread_join(a, NULL), 0);
	ASSERT_EQ(add.ret, 0) TH_LOG("re-adding the memslot: %s",
				     strerror(add.err));
	/*
	 * Installed; the punch's invalidation sleeps still.  Map the range
	 * (hugetlbfs: waits for the punch instead).
	 */
	pm_guest_do(self->vcpu, PM_READ, DATA_GPA, SZ_2M, 0);
	ASSERT_EQ(pthread_join(b, NULL), 0);
	ASSERT_EQ(punch.ret, 0);
	ASSERT_EQ(set_delay(0), 0);

	/* The page is gone from the file: no mapping may still reach it. */
	pm_guest_do(self->vcpu, PM_CHECK_ZERO, DATA_GPA, SZ_2M, 0);
}

/*
 * The memslot is being deleted (made invalid, its mappings still there:
 * deletion sleeps twice the delay before it zaps them) when a punch of its
 * range invalidates it.  After the punch, while the deletion still sleeps,
 * the guest must not reach the punched pages: its access either waits for
 * the deletion and fails (no memslot) or reads zeroes, never the data.
 */
TEST_F_TIMEOUT(race, delete_during_punch, RACE_TIMEOUT)
{
	struct slot_op del = {
		.vm = self->vm, .fd = self->fd, .slot = DATA_SLOT,
		.gpa = DATA_GPA, .size = 0, .hva = self->hva,
	};
	struct punch_op punch = { .fd = self->fd, .len = SZ_2M };
	pthread_t a, b;
	int r;

	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, SZ_2M, SECRET);
	ASSERT_EQ(set_delay(DELAY_MS), 0);
	ASSERT_EQ(pthread_create(&a, NULL, slot_thread, &del), 0);
	/* The memslot is invalid now, its mappings not yet zapped. */
	usleep(DELAY_MS * 300);
	ASSERT_EQ(pthread_create(&b, NULL, punch_thread, &punch), 0);
	ASSERT_EQ(pthread_join(b, NULL), 0);
	ASSERT_EQ(punch.ret, 0);
	/* The pages are freed; the deletion sleeps still. */
	r = pm_guest_do_ret(self->vcpu, PM_CHECK_ZERO, DATA_GPA, SZ_2M, 0);
	TH_LOG("guest access during the deletion: %d (%s)", r,
	       r ? strerror(-r) : "read zeroes");
	EXPECT_TRUE(r == 0 || r == -EFAULT);
	ASSERT_EQ(pthread_join(a, NULL), 0);
	ASSERT_EQ(del.ret, 0) TH_LOG("deleting the memslot: %s",
				     strerror(del.err));
	ASSERT_EQ(set_delay(0), 0);
	/* Back as kvm_util made it, for the teardown. */
	ASSERT_EQ(__vm_set_user_memory_region2(self->vm, DATA_SLOT,
					       KVM_MEM_GUEST_MEMFD, DATA_GPA,
					       DATA_SIZE, self->hva, self->fd,
					       0), 0);
}

/*
 * A second memslot binds the other half of the file while a punch of the
 * whole file sleeps in the first memslot's invalidation.  Every
 * invalidate_end KVM gets must have its invalidate: the VM stays healthy and
 * both halves read as punched.
 */
TEST_F_TIMEOUT(race, bind_during_punch, RACE_TIMEOUT)
{
	struct slot_op add = {
		.vm = self->vm, .fd = self->fd, .slot = DATA_SLOT + 1,
		.gpa = DATA_GPA + DATA_SIZE, .off = SZ_2M, .size = SZ_2M,
	};
	struct punch_op punch = { .fd = self->fd, .len = DATA_SIZE };
	uint64_t gpa2 = DATA_GPA + DATA_SIZE;
	void *hva2;
	pthread_t a, b;

	/* Shrink the data memslot to the first half of the file. */
	ASSERT_EQ(__vm_set_user_memory_region2(self->vm, DATA_SLOT,
					       KVM_MEM_GUEST_MEMFD, DATA_GPA,
					       0, self->hva, self->fd, 0), 0);
	ASSERT_EQ(__vm_set_user_memory_region2(self->vm, DATA_SLOT,
					       KVM_MEM_GUEST_MEMFD, DATA_GPA,
					       SZ_2M, self->hva, self->fd, 0), 0);
	pm_guest_do(self->vcpu, PM_WRITE, DATA_GPA, SZ_2M, SECRET);
	hva2 = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(hva2, MAP_FAILED);
	add.hva = hva2;
	virt_map_level(self->vm, gpa2, gpa2, SZ_2M, PG_LEVEL_2M);
	vm_mem_set_private(self->vm, gpa2, SZ_2M);

	ASSERT_EQ(set_delay(DELAY_MS), 0);
	ASSERT_EQ(pthread_create(&b, NULL, punch_thread, &punch), 0);
	/* The punch sleeps in the first memslot's invalidation: bind. */
	usleep(DELAY_MS * 300);
	ASSERT_EQ(pthread_create(&a, NULL, slot_thread, &add), 0);
	ASSERT_EQ(pthread_join(b, NULL), 0);
	ASSERT_EQ(pthread_join(a, NULL), 0);
	ASSERT_EQ(punch.ret, 0);
	ASSERT_EQ(add.ret, 0) TH_LOG("adding the memslot: %s",
				     strerror(add.err));
	ASSERT_EQ(set_delay(0), 0);

	/* A bugged VM fails KVM_RUN with EIO. */
	EXPECT_EQ(pm_guest_do_ret(self->vcpu, PM_CHECK_ZERO, DATA_GPA, SZ_2M,
				  0), 0);
	EXPECT_EQ(pm_guest_do_ret(self->vcpu, PM_CHECK_ZERO, gpa2, SZ_2M, 0),
		  0);
	EXPECT_EQ(pm_guest_do_ret(self->vcpu, PM_WRITE, gpa2, SZ_2M, SECRET),
		  0);
	munmap(hva2, SZ_2M);
}

TEST_HARNESS_MAIN
