// SPDX-License-Identifier: GPL-2.0
/*
 * Stress of private memory in inaccessible memfds (shmem, hugetlb 2M, 1G).
 *
 * Each round has two phases:
 *
 *  - chaos: two vCPUs write over the whole data range, again and again,
 *    while one thread converts random ranges between private and shared
 *    (KVM_SET_MEMORY_ATTRIBUTES) and another punches random holes in the
 *    private memfd and fills others (fallocate).  Faults race with
 *    conversions and with the store's invalidations; a vCPU whose access
 *    raced with a conversion gets KVM_EXIT_MEMORY_FAULT and runs again.
 *  - check: everything stops; the test lays down a state it chooses (data
 *    in every page, then seeded conversions and punches), and the guest and
 *    the host check every page against that model, the mappings against the
 *    attributes (no large mapping over a mixed range) and the hugetlb pool
 *    against the pages the model says the file holds.
 *
 * One round deletes and re-adds the memslot before its check: private data
 * lives in the file, not in the memslot.  At the end the VM is destroyed
 * and the memfd closed, and the pool must be exactly where it was.
 *
 * The choices come from a seed (PM_SEED in the environment, printed), so a
 * failing check replays with the same model; the interleaving of the chaos
 * phase is the machine's.  Bounded: ROUNDS rounds of CHAOS_MS each.
 *
 * To narrow a failure down, the environment can leave out parts of the
 * chaos: PM_STRESS_VCPUS=1 runs one vCPU, PM_STRESS_NO_CONVERT=1 and
 * PM_STRESS_NO_PUNCH=1 leave out the converter and the puncher.
 *
 * A thread that has not ended STUCK_S seconds after the stop fails the test
 * with the vCPUs' exit and fault counters: whether KVM keeps retrying a
 * fault, or the guest keeps taking exceptions.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
#define ROUNDS		4
#define CHAOS_MS	1500
#define NR_CHECK_RANGES	6
/* A pass takes well under a second: a vCPU this late is stuck. */
#define STUCK_S		60

/* A vCPU's binary stats, readable while the vCPU runs. */
struct vcpu_stats {
	int fd;
	struct kvm_stats_header header;
	struct kvm_stats_desc *desc;
};

FIXTURE(stress) {
	int fd;
	uint32_t seed;
	/* What the chaos phase runs (see the top of the file). */
	int nr_vcpus;
	bool convert;
	bool punch;
	uint64_t free0;
	uint64_t resv0;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[2];
	struct vcpu_stats stats[2];
	/* Per 4K page: what the check phase expects. */
	uint8_t *shared;
	uint8_t *punched;
};

FIXTURE_VARIANT(stress) {
	unsigned int mfd_flags;
	size_t page;
	size_t size;
	/* Upstream's guest_memfd instead of a memfd: the same stress. */
	bool gmem;
};

FIXTURE_VARIANT_ADD(stress, guest_memfd) {
	.page = SZ_4K,
	.size = SZ_8M,
	.gmem = true,
};

FIXTURE_VARIANT_ADD(stress, shmem) {
	.mfd_flags = 0,
	.page = SZ_4K,
	.size = SZ_8M,
};

FIXTURE_VARIANT_ADD(stress, hugetlb_2M) {
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_2MB,
	.page = SZ_2M,
	.size = SZ_32M,
};

FIXTURE_VARIANT_ADD(stress, hugetlb_1G) {
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_1GB,
	.page = SZ_1G,
	.size = SZ_1G,
};

/* What the chaos threads share. */
struct chaos {
	struct kvm_vm *vm;
	int fd;
	uint64_t size;
	uint32_t seed;
	bool stop;
	uint64_t passes[2];
	uint64_t memory_faults[2];
	uint64_t conversions;
	uint64_t punches;
	uint64_t fills;
	struct kvm_vcpu *vcpus[2];
};

/* A random 4K-aligned range of at most @max bytes inside [0, @size). */
static void random_range(struct guest_random_state *rng, uint64_t size,
			 uint64_t max, uint64_t *off, uint64_t *len)
{
	uint64_t npages = size / PAGE_SIZE;

	*off = (guest_random_u64(rng) % npages) * PAGE_SIZE;
	*len = (1 + guest_random_u64(rng) % (max / PAGE_SIZE)) * PAGE_SIZE;
	if (*off + *len > size)
		*len = size - *off;
}

struct vcpu_arg {
	struct chaos *c;
	int i;
};

/* A guest page fault is a bug somewhere: say where it happened. */
static void guest_pf_handler(struct ex_regs *regs)
{
	uint64_t cr2;

	__asm__ __volatile__("mov %%cr2, %0" : "=r"(cr2));
	GUEST_FAIL("#PF at rip 0x%lx, cr2 0x%lx, error code 0x%lx", regs->rip,
		   cr2, regs->error_code);
}

/*
 * Runs one vCPU's passes until told to stop, and stops only at the end of
 * a pass (the guest's GUEST_SYNC).  An access that raced with a conversion
 * exits with KVM_EXIT_MEMORY_FAULT: run it again.
 */
static void *vcpu_thread(void *data)
{
	struct vcpu_arg *a = data;
	struct chaos *c = a->c;
	struct kvm_vcpu *vcpu = c->vcpus[a->i];
	struct ucall uc;

	for (;;) {
		if (__vcpu_run(vcpu)) {
			TEST_ASSERT(errno == EFAULT &&
				    vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT,
				    "KVM_RUN: %s, exit reason %u", strerror(errno),
				    vcpu->run->exit_reason);
			c->memory_faults[a->i]++;
			continue;
		}
		TEST_ASSERT(vcpu->run->exit_reason != KVM_EXIT_SHUTDOWN,
			    "vCPU %u shut down (triple fault)", vcpu->id);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		if (get_ucall(vcpu, &uc) == UCALL_ABORT)
			REPORT_GUEST_ASSERT(uc);
		c->passes[a->i]++;
		if (READ_ONCE(c->stop))
			return NULL;
	}
}

static void *converter_thread(void *data)
{
	struct chaos *c = data;
	struct guest_random_state rng = new_guest_random_state(c->seed + 1);
	uint64_t off, len;

	while (!READ_ONCE(c->stop)) {
		random_range(&rng, c->size, SZ_4M, &off, &len);
		vm_set_memory_attributes(c->vm, DATA_GPA + off, len,
					 guest_random_bool(&rng) ?
					 KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
		c->conversions++;
	}
	return NULL;
}

static void *puncher_thread(void *data)
{
	struct chaos *c = data;
	struct guest_random_state rng = new_guest_random_state(c->seed + 2);
	uint64_t off, len;
	int mode, r;

	while (!READ_ONCE(c->stop)) {
		random_range(&rng, c->size, SZ_4M, &off, &len);
		mode = FALLOC_FL_KEEP_SIZE;
		if (guest_random_bool(&rng))
			mode |= FALLOC_FL_PUNCH_HOLE;
		r = fallocate(c->fd, mode, off, len);
		TEST_ASSERT(!r, "fallocate(0x%x, 0x%lx, 0x%lx): %s", mode, off,
			    len, strerror(errno));
		if (mode & FALLOC_FL_PUNCH_HOLE)
			c->punches++;
		else
			c->fills++;
		usleep(1000);
	}
	return NULL;
}

static void vcpu_stats_open(struct vcpu_stats *s, struct kvm_vcpu *vcpu)
{
	s->fd = vcpu_get_stats_fd(vcpu);
	read_stats_header(s->fd, &s->header);
	s->desc = read_stats_descriptors(s->fd, &s->header);
}

static uint64_t vcpu_stat(struct vcpu_stats *s, const char *name)
{
	size_t size = get_stats_descriptor_size(&s->header);
	struct kvm_stats_desc *desc;
	uint64_t data = 0;
	int i;

	for (i = 0; i < s->header.num_desc; i++) {
		desc = (void *)s->desc + i * size;
		if (!strcmp(desc->name, name)) {
			read_stat_data(s->fd, &s->header, desc, &data, 1);
			break;
		}
	}
	return data;
}

/*
 * A thread did not end in time: say, twice a second apart, how the vCPUs'
 * exit and fault counters move.  The stats fds were opened before the
 * chaos, as KVM_GET_STATS_FD waits for a running vCPU.
 */
static void report_stuck(struct _test_data_stress *self)
{
	static const char * const names[] = {
		"exits", "pf_taken", "pf_fixed", "pf_spurious", "pf_emulate",
		"pf_guest",
	};
	int sample, i, j;

	for (sample = 0; sample < 2; sample++) {
		if (sample)
			sleep(1);
		for (i = 0; i < self->nr_vcpus; i++) {
			ksft_print_msg("vCPU %d:", i);
			for (j = 0; j < ARRAY_SIZE(names); j++)
				printf(" %s %lu", names[j],
				       vcpu_stat(&self->stats[i], names[j]));
			printf("\n");
		}
	}
}

/* Two vCPUs, a converter and a puncher, for CHAOS_MS. */
static void chaos(struct _test_data_stress *self,
		  const struct _fixture_variant_stress *variant, int round)
{
	struct chaos c = {
		.vm = self->vm,
		.fd = self->fd,
		.size = variant->size,
		.seed = self->seed + round * 16,
		.vcpus = { self->vcpu[0], self->vcpu[1] },
	};
	struct vcpu_arg a[2] = { { &c, 0 }, { &c, 1 } };
	struct timespec deadline;
	pthread_t t[4];
	int i, n = 0;

	pm_cmd.op = PM_WRITE;
	pm_cmd.gpa = DATA_GPA;
	pm_cmd.size = variant->size;
	pm_cmd.pattern = 0xc0 + round;
	sync_global_to_guest(self->vm, pm_cmd);

	for (i = 0; i < self->nr_vcpus; i++)
		pthread_create(&t[n++], NULL, vcpu_thread, &a[i]);
	if (self->convert)
		pthread_create(&t[n++], NULL, converter_thread, &c);
	if (self->punch)
		pthread_create(&t[n++], NULL, puncher_thread, &c);
	usleep(CHAOS_MS * 1000);
	WRITE_ONCE(c.stop, true);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STUCK_S;
	for (i = 0; i < n; i++) {
		if (!pthread_timedjoin_np(t[i], NULL, &deadline))
			continue;
		report_stuck(self);
		/* The stuck threads go with the test's process. */
		TEST_FAIL("round %d: %s thread still ran %d s after the stop",
			  round, i < self->nr_vcpus ? "a vCPU" : "a chaos", STUCK_S);
	}

	ksft_print_msg("round %d: %lu+%lu vCPU passes, %lu+%lu memory-fault exits,",
		       round, c.passes[0], c.passes[1], c.memory_faults[0],
		       c.memory_faults[1]);
	printf(" %lu conversions, %lu punches, %lu fills\n", c.conversions,
	       c.punches, c.fills);
	TEST_ASSERT((c.conversions || !self->convert) &&
		    (c.punches + c.fills || !self->punch) && c.passes[0] &&
		    (c.passes[1] || self->nr_vcpus < 2),
		    "a vCPU, converter or puncher thread did nothing");
}

/* Run the guest's command on vCPU 0 (the other one sits at its sync). */
static void guest_do(struct _test_data_stress *self, uint64_t op,
		     uint64_t off, uint64_t len, uint64_t pattern)
{
	pm_guest_do(self->vcpu[0], op, DATA_GPA + off, len, pattern);
}

/*
 * Check every page against the model: shared pages hold what the host
 * wrote through the hva, punched private pages read zero, the others hold
 * the private pattern.  Runs of pages with the same expectation go to the
 * guest as one command.
 */
static void check_model(struct _test_data_stress *self,
			const struct _fixture_variant_stress *variant,
			uint64_t private_pattern, uint64_t shared_pattern)
{
	uint64_t npages = variant->size / PAGE_SIZE, i, j;
	uint8_t want, w;

	for (i = 0; i < npages; i = j) {
		want = self->shared[i] ? 2 : self->punched[i] ? 1 : 0;
		for (j = i + 1; j < npages; j++) {
			w = self->shared[j] ? 2 : self->punched[j] ? 1 : 0;
			if (w != want)
				break;
		}
		if (want == 1)
			guest_do(self, PM_CHECK_ZERO, i * PAGE_SIZE,
				 (j - i) * PAGE_SIZE, 0);
		else
			guest_do(self, PM_CHECK, i * PAGE_SIZE, (j - i) * PAGE_SIZE,
				 want ? shared_pattern : private_pattern);
	}
}

/* No mapping larger than 4K may cover a range that mixes attributes. */
static void check_mappings(struct _test_data_stress *self,
			   const struct _fixture_variant_stress *variant)
{
	uint64_t npages = variant->size / PAGE_SIZE, uniform[2] = {}, i, j;
	static const uint64_t per[2] = { SZ_2M / PAGE_SIZE, SZ_1G / PAGE_SIZE };
	int l;

	for (l = 0; l < 2; l++) {
		for (i = 0; i + per[l] <= npages; i += per[l]) {
			for (j = i + 1; j < i + per[l]; j++)
				if (self->shared[j] != self->shared[i])
					break;
			uniform[l] += j == i + per[l];
		}
	}
	TEST_ASSERT(vm_get_stat(self->vm, "pages_2m") <= uniform[0],
		    "%lu 2M mappings, %lu uniform 2M ranges",
		    vm_get_stat(self->vm, "pages_2m"), uniform[0]);
	TEST_ASSERT(vm_get_stat(self->vm, "pages_1g") <= uniform[1],
		    "%lu 1G mappings, %lu uniform 1G ranges",
		    vm_get_stat(self->vm, "pages_1g"), uniform[1]);
}

/* Lay down a seeded state, check it, then check the pool. */
static void check(struct _test_data_stress *self,
		  const struct _fixture_variant_stress *variant, int round,
		  bool readd_slot)
{
	struct guest_random_state rng = new_guest_random_state(self->seed +
							       round * 16 + 3);
	uint64_t npages = variant->size / PAGE_SIZE, off, len, i, *p;
	uint64_t private_pattern = 0x100 + round, shared_pattern = 0x200 + round;
	struct userspace_mem_region *region;
	int n, r;

	/* Everything private and written. */
	vm_mem_set_private(self->vm, DATA_GPA, variant->size);
	memset(self->shared, 0, npages);
	memset(self->punched, 0, npages);
	guest_do(self, PM_WRITE, 0, variant->size, private_pattern);

	/* Seeded punches, then seeded conversions to shared. */
	for (n = 0; n < NR_CHECK_RANGES; n++) {
		random_range(&rng, variant->size, SZ_4M, &off, &len);
		r = fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      off, len);
		TEST_ASSERT(!r, "punch: %s", strerror(errno));
		memset(self->punched + off / PAGE_SIZE, 1, len / PAGE_SIZE);
	}
	for (n = 0; n < NR_CHECK_RANGES; n++) {
		random_range(&rng, variant->size, SZ_2M, &off, &len);
		vm_mem_set_shared(self->vm, DATA_GPA + off, len);
		memset(self->shared + off / PAGE_SIZE, 1, len / PAGE_SIZE);
	}
	/* The host writes the shared pages through its mapping. */
	region = memslot2region(self->vm, DATA_SLOT);
	for (i = 0; i < npages; i++) {
		if (!self->shared[i])
			continue;
		p = (uint64_t *)((uint8_t *)region->host_mem + i * PAGE_SIZE);
		*p = pm_value(shared_pattern, DATA_GPA + i * PAGE_SIZE);
	}

	if (readd_slot) {
		/* Private data lives in the file: the memslot can go and come. */
		vm_set_user_memory_region2(self->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
					   DATA_GPA, 0, NULL, self->fd, 0);
		vm_set_user_memory_region2(self->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
					   DATA_GPA, variant->size,
					   region->host_mem, self->fd, 0);
	}

	check_model(self, variant, private_pattern, shared_pattern);
	check_mappings(self, variant);

	/*
	 * The file holds the huge pages the model says: all were written,
	 * then those wholly punched went back to the pool, and came out of
	 * it again if a private page in them was checked.  Reservations are
	 * all consumed.
	 */
	if (variant->page > SZ_4K) {
		uint64_t per = variant->page / PAGE_SIZE, held = 0, k;

		for (i = 0; i < npages; i += per) {
			bool whole = true, private = false;

			for (k = i; k < i + per; k++) {
				whole &= self->punched[k];
				private |= !self->shared[k];
			}
			held += !whole || private;
		}
		TEST_ASSERT(pm_hugetlb(variant->page, "free_hugepages") ==
			    self->free0 - held, "free_hugepages %lu, want %lu",
			    pm_hugetlb(variant->page, "free_hugepages"),
			    self->free0 - held);
		TEST_ASSERT(pm_hugetlb(variant->page, "resv_hugepages") ==
			    self->resv0,
			    "resv_hugepages %lu, want %lu",
			    pm_hugetlb(variant->page, "resv_hugepages"),
			    self->resv0);
	}
	ksft_print_msg("round %d: %lu pages match the model%s\n", round,
		       npages, readd_slot ? " (memslot deleted and re-added)" : "");
}

FIXTURE_SETUP(stress)
{
	struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	const char *seed = getenv("PM_SEED");
	const char *vcpus = getenv("PM_STRESS_VCPUS");
	const char *reason;
	uint64_t npages = variant->size / PAGE_SIZE;

	self->vm = NULL;
	self->fd = -1;
	memset(self->stats, 0, sizeof(self->stats));
	reason = pm_unsupported(variant->page, variant->size);
	if (reason)
		SKIP(return, "%s", reason);

	self->seed = seed ? strtoul(seed, NULL, 0) : 1;
	self->nr_vcpus = vcpus && atoi(vcpus) == 1 ? 1 : 2;
	self->convert = !getenv("PM_STRESS_NO_CONVERT");
	self->punch = !getenv("PM_STRESS_NO_PUNCH");
	ksft_print_msg("PM_SEED=%u, %d vCPUs%s%s\n", self->seed, self->nr_vcpus,
		       self->convert ? ", converter" : "",
		       self->punch ? ", puncher" : "");
	self->free0 = pm_hugetlb(variant->page, "free_hugepages");
	self->resv0 = pm_hugetlb(variant->page, "resv_hugepages");
	self->shared = calloc(npages, 1);
	self->punched = calloc(npages, 1);
	ASSERT_TRUE(self->shared && self->punched);

	self->vm = __vm_create_shape_with_one_vcpu(shape, &self->vcpu[0], 64,
						   pm_guest_code);
	if (variant->gmem) {
		self->fd = vm_create_guest_memfd(self->vm, variant->size, 0);
	} else {
		self->fd = memfd_create("private",
					MFD_INACCESSIBLE | variant->mfd_flags);
		ASSERT_GE(self->fd, 0);
		ASSERT_EQ(ftruncate(self->fd, variant->size), 0);
	}
	self->vcpu[1] = vm_vcpu_add(self->vm, 1, pm_guest_code);
	vcpu_stats_open(&self->stats[0], self->vcpu[0]);
	vcpu_stats_open(&self->stats[1], self->vcpu[1]);
	vm_install_exception_handler(self->vm, PF_VECTOR, guest_pf_handler);
	vm_mem_add(self->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT, npages,
		   KVM_MEM_GUEST_MEMFD, self->fd, 0);
	virt_map_level(self->vm, DATA_GPA, DATA_GPA, variant->size, PG_LEVEL_2M);
	pm_guest_start(self->vcpu[0]);
	/* vCPU 1 to its first GUEST_SYNC. */
	vcpu_run(self->vcpu[1]);
	TEST_ASSERT_KVM_EXIT_REASON(self->vcpu[1], KVM_EXIT_IO);
}

FIXTURE_TEARDOWN(stress)
{
	int i;

	/* A stats fd holds the VM: close them first. */
	for (i = 0; i < 2; i++) {
		if (!self->stats[i].desc)
			continue;
		close(self->stats[i].fd);
		free(self->stats[i].desc);
	}
	if (self->vm)
		kvm_vm_free(self->vm);
	if (self->fd < 0)
		return;
	close(self->fd);
	free(self->shared);
	free(self->punched);
	/* The VM and the file gone: the pool exactly as before. */
	if (variant->page > SZ_4K) {
		EXPECT_EQ(pm_hugetlb(variant->page, "free_hugepages"), self->free0);
		EXPECT_EQ(pm_hugetlb(variant->page, "resv_hugepages"), self->resv0);
	}
}

TEST_F_TIMEOUT(stress, chaos_then_check, 300)
{
	int round;

	for (round = 0; round < ROUNDS; round++) {
		chaos(self, variant, round);
		check(self, variant, round, round == ROUNDS / 2);
	}
}

TEST_HARNESS_MAIN
