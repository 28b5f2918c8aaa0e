// SPDX-License-Identifier: GPL-2.0
/*
 * Inaccessible memfds as the private memory of a memslot.
 *
 * Wherever KVM accepts a guest_memfd it also accepts a file made by
 * memfd_create(MFD_INACCESSIBLE), backed by shmem or by hugetlbfs with 2M or
 * 1G pages.  Its pages come through memfile_notifier with their real order,
 * so private faults can be mapped at 2M and 1G, and the store tells KVM when
 * pages leave the file (punch hole, truncate).
 *
 * Ownership: like a guest_memfd, a file belongs to one VM, the first that
 * binds it (memfile_notifier's owner, an id never reused): another VM gets
 * EINVAL, even once the first is gone, so that no VM reads what another left
 * in the file.  Within its VM, the ranges of a file bound by memslots do not
 * overlap; they are found by walking the VM's own memslots.
 *
 * Lifetime: a binding belongs to its memslot.  It holds a reference to the
 * file (through its registered notifier) but none to the VM: the memfd does
 * not pin the VM, unlike a guest_memfd.  So the binding is detached from the
 * file when the VM's last reference goes (kvm_memfile_release_vm()), before
 * the MMU is torn down, and freed with the memslot (kvm_memfile_unbind()).
 *
 * Locking: kvm->slots_lock (bind, unbind) > the file's i_rwsem (held by the
 * store across invalidate and invalidate_end, and by
 * memfile_register/unregister_notifier()) > kvm->srcu > kvm->mmu_lock.  The
 * fault path calls get_pfn under kvm->srcu only, without mmu_lock.
 */
#include <linux/delay.h>
#include <linux/kvm_host.h>
#include <linux/memfile_notifier.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "kvm_mm.h"

/**
 * struct kvm_memfile - a memslot's private memory in an inaccessible memfd
 * @notifier: the registration on the file; pins the file.  @notifier.file
 *	is NULL once the binding is detached.
 * @kvm: the VM, not pinned (see the top of this file)
 * @slot: the memslot
 * @start: first page of the file the memslot uses, in PAGE_SIZE units
 * @end: one past the last page
 */
struct kvm_memfile {
	struct memfile_notifier notifier;
	struct kvm *kvm;
	struct kvm_memory_slot *slot;
	pgoff_t start;
	pgoff_t end;
};

/* The owner ids of VMs that bound an inaccessible memfd: never reused. */
static atomic64_t kvm_memfile_owner_seq = ATOMIC64_INIT(0);

#ifdef CONFIG_KVM_MEMFILE_RACE_TEST
/*
 * Test hook: milliseconds to sleep in the windows that races between
 * memslot changes and invalidation go through (after a bind registered on
 * the file, before its memslot is installed; in an invalidation, before it
 * takes effect; twice as long in a deletion, after the memslot was made
 * invalid and before its mappings are zapped), so that tests can make those
 * races happen on purpose.
 */
static unsigned int memfile_race_delay_ms;
module_param(memfile_race_delay_ms, uint, 0644);

/**
 * kvm_memfile_race_delay - sleep in a race window, for tests
 * @times: how many times the configured delay
 */
void kvm_memfile_race_delay(unsigned int times)
{
	unsigned int ms = READ_ONCE(memfile_race_delay_ms);

	if (ms)
		msleep(ms * times);
}
#endif

static struct kvm_memfile *to_kvm_memfile(struct memfile_notifier *notifier)
{
	return container_of(notifier, struct kvm_memfile, notifier);
}

/* The gfns of the slot backed by file pages [@start, @end), if any. */
static bool kvm_memfile_gfn_range(struct kvm_memfile *mf, pgoff_t start,
				  pgoff_t end, struct kvm_gfn_range *range)
{
	struct kvm_memory_slot *slot = mf->slot;

	start = max(start, mf->start);
	end = min(end, mf->end);
	if (start >= end)
		return false;

	*range = (struct kvm_gfn_range) {
		.start = slot->base_gfn + start - mf->start,
		.end = slot->base_gfn + end - mf->start,
		.slot = slot,
		.may_block = true,
		/* The file backs only the private half of the slot. */
		.attr_filter = KVM_FILTER_PRIVATE,
	};
	return true;
}

/*
 * Whether @mf's memslot may have mappings: it is the VM's memslot of its
 * id, or it is being deleted and the VM's memslot of its id is the invalid
 * copy deletion puts in its place (which shares its arch metadata) until it
 * has zapped the memslot's mappings.  A memslot not installed yet has no
 * mappings and maybe no arch metadata (rmaps): a bind comes before the
 * install, and creating a memslot needs its id free, so an invalid memslot
 * of the id can only be the copy of this one.
 */
static bool kvm_memfile_slot_live(struct kvm_memfile *mf)
{
	struct kvm_memory_slot *slot = mf->slot;
	struct kvm *kvm = mf->kvm;
	struct kvm_memory_slot *s;

	s = id_to_memslot(__kvm_memslots(kvm, slot->as_id), slot->id);
	return s == slot || (s && (s->flags & KVM_MEMSLOT_INVALID));
}

/*
 * Pages of the file are about to be freed: zap their private mappings and,
 * like an mmu_notifier invalidation, keep faults on the range from installing
 * anything until kvm_memfile_invalidate_end().  The store holds the file's
 * i_rwsem across both calls; a fault that got a pfn before this sees the
 * sequence count or the range and retries.
 *
 * The range is marked in progress before the memslot is looked up, both
 * under mmu_lock: a memslot installed after the lookup cannot map the range
 * until the invalidation ends, and one installed before is seen live and
 * zapped.  A memslot that is not live yet has no mappings to zap.
 */
static void kvm_memfile_invalidate(struct memfile_notifier *notifier,
				   pgoff_t start, pgoff_t end)
{
	struct kvm_memfile *mf = to_kvm_memfile(notifier);
	struct kvm *kvm = mf->kvm;
	struct kvm_gfn_range range;
	int idx;

	if (!kvm_memfile_gfn_range(mf, start, end, &range))
		return;

	kvm_memfile_race_delay(1);
	idx = srcu_read_lock(&kvm->srcu);
	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_begin(kvm);
	kvm_mmu_invalidate_range_add(kvm, range.start, range.end);
	if (kvm_memfile_slot_live(mf) && kvm_unmap_gfn_range(kvm, &range))
		kvm_flush_remote_tlbs(kvm);
	KVM_MMU_UNLOCK(kvm);
	srcu_read_unlock(&kvm->srcu, idx);
}

static void kvm_memfile_invalidate_end(struct memfile_notifier *notifier,
				       pgoff_t start, pgoff_t end)
{
	struct kvm_memfile *mf = to_kvm_memfile(notifier);
	struct kvm *kvm = mf->kvm;
	struct kvm_gfn_range range;

	/* Exactly the calls that began an invalidation end one. */
	if (!kvm_memfile_gfn_range(mf, start, end, &range))
		return;

	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_end(kvm);
	KVM_MMU_UNLOCK(kvm);
}

static const struct memfile_notifier_ops kvm_memfile_ops = {
	.invalidate = kvm_memfile_invalidate,
	.invalidate_end = kvm_memfile_invalidate_end,
};

/**
 * kvm_memfile_bind - use a range of an inaccessible memfd as private memory
 * @kvm: the VM
 * @slot: the new memslot, not yet visible to vCPUs
 * @file: the file userspace passed as guest_memfd
 * @offset: byte offset of the memslot's first page in @file
 *
 * Called with kvm->slots_lock held.  The caller keeps its own reference to
 * @file; the binding takes another.  The first bind of a file makes it the
 * VM's for good (see the top of this file).
 *
 * Return: 0; -EINVAL if the VM's private memory cannot be an inaccessible
 * memfd (kvm_arch_has_memfile_private_mem()), @file is not an inaccessible
 * memfd (an accessible memfd included) or belongs to another VM, @offset is
 * not page aligned or the file is smaller than @offset plus the memslot;
 * -EEXIST if part of the range already backs a memslot of this VM; -ENOMEM.
 */
int kvm_memfile_bind(struct kvm *kvm, struct kvm_memory_slot *slot,
		     struct file *file, loff_t offset)
{
	struct inode *inode = file_inode(file);
	struct kvm_memory_slot *other;
	struct kvm_memfile *mf;
	pgoff_t start, end;
	int r, i, bkt;

	lockdep_assert_held(&kvm->slots_lock);

	/* E.g. SEV-SNP: its pages must go through the gmem arch hooks. */
	if (!kvm_arch_has_memfile_private_mem(kvm))
		return -EINVAL;

	if (offset < 0 || !PAGE_ALIGNED(offset) ||
	    offset + (slot->npages << PAGE_SHIFT) > i_size_read(inode))
		return -EINVAL;

	start = offset >> PAGE_SHIFT;
	end = start + slot->npages;

	/* Under slots_lock, no memslot of the VM is being changed. */
	for (i = 0; i < kvm_arch_nr_memslot_as_ids(kvm); i++) {
		kvm_for_each_memslot(other, bkt, __kvm_memslots(kvm, i)) {
			struct kvm_memfile *o = other->gmem.memfile;

			if (o && file_inode(o->notifier.file) == inode &&
			    start < o->end && o->start < end)
				return -EEXIST;
		}
	}

	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return -ENOMEM;
	if (!kvm->memfile_owner)
		kvm->memfile_owner = atomic64_inc_return(&kvm_memfile_owner_seq);
	mf->notifier.ops = &kvm_memfile_ops;
	mf->notifier.owner = kvm->memfile_owner;
	mf->kvm = kvm;
	mf->slot = slot;
	mf->start = start;
	mf->end = end;

	/*
	 * The file must have been created inaccessible and not be another
	 * VM's; its pages become unmovable and unreclaimable for good.  Any
	 * other file is not a guest_memfd of this VM either: EINVAL, as for a
	 * guest_memfd of another VM.
	 */
	r = memfile_register_notifier(file, MEMFILE_F_ALLOWED_MASK,
				      &mf->notifier);
	if (r) {
		kfree(mf);
		return r == -ENOMEM ? r : -EINVAL;
	}
	kvm_memfile_race_delay(1);

	/* The memslot is not visible yet: the fault path sees it bound. */
	slot->gmem.pgoff = start;
	slot->gmem.memfile = mf;
	return 0;
}

/* Detach @mf from its file: no callbacks after this returns. */
static void kvm_memfile_detach(struct kvm_memfile *mf)
{
	if (!mf->notifier.file)
		return;
	/* Waits for a running invalidate/invalidate_end pair, drops the file. */
	memfile_unregister_notifier(&mf->notifier);
}

/**
 * kvm_memfile_unbind - free a memslot's binding
 * @slot: a memslot bound by kvm_memfile_bind()
 *
 * Called when the memslot is freed: vCPUs cannot see it any more and its
 * mappings are gone (or the bind failed before the memslot was installed).
 * Under kvm->slots_lock, or from kvm_destroy_vm() after
 * kvm_memfile_release_vm() detached every binding.
 */
void kvm_memfile_unbind(struct kvm_memory_slot *slot)
{
	struct kvm_memfile *mf = slot->gmem.memfile;

	kvm_memfile_detach(mf);
	slot->gmem.memfile = NULL;
	kfree(mf);
}

/**
 * kvm_memfile_release_vm - detach all bindings of a dying VM
 * @kvm: the VM, whose last reference is gone
 *
 * Called from kvm_destroy_vm() before the MMU is torn down: the memfds do
 * not pin the VM, so their stores could otherwise call into a dead MMU.  No
 * vCPU can fault any more; every private mapping is zapped before its
 * binding is detached, so no mapping outlives the pages the store may free
 * from then on.  The bindings themselves go with their memslots.
 */
void kvm_memfile_release_vm(struct kvm *kvm)
{
	struct kvm_memory_slot *slot;
	struct kvm_gfn_range range;
	struct kvm_memfile *mf;
	int i, bkt;

	if (!kvm->memfile_owner)
		return;

	/* slots_lock: what zapping outside an invalidation needs. */
	mutex_lock(&kvm->slots_lock);
	for (i = 0; i < kvm_arch_nr_memslot_as_ids(kvm); i++) {
		kvm_for_each_memslot(slot, bkt, __kvm_memslots(kvm, i)) {
			mf = slot->gmem.memfile;
			if (!mf)
				continue;
			kvm_memfile_gfn_range(mf, mf->start, mf->end, &range);
			KVM_MMU_LOCK(kvm);
			if (kvm_unmap_gfn_range(kvm, &range))
				kvm_flush_remote_tlbs(kvm);
			KVM_MMU_UNLOCK(kvm);
			kvm_memfile_detach(mf);
		}
	}
	mutex_unlock(&kvm->slots_lock);
}

/**
 * kvm_memfile_get_pfn - the pfn backing a private gfn, and its order
 * @slot: a memslot bound by kvm_memfile_bind()
 * @gfn: the gfn, inside @slot
 * @pfn: the pfn of the 4K page, with a page reference the caller drops
 *	(kvm_release_pfn_*(), i.e. put_page(): memfile_put_pfn() for both
 *	stores)
 * @max_order: the largest order KVM may map @gfn at: the order of the
 *	store's folio, reduced where the gfn and the file offset are not
 *	congruent modulo the folio size
 *
 * Allocates a zeroed page (or huge page) for a hole.  Called under
 * kvm->srcu, without mmu_lock.
 *
 * Return: 0; -EFAULT if the file no longer covers @gfn (truncated after the
 * bind); the store's -ENOMEM, -ENOSPC or -EHWPOISON.
 */
int kvm_memfile_get_pfn(struct kvm_memory_slot *slot, gfn_t gfn,
			kvm_pfn_t *pfn, int *max_order)
{
	struct kvm_memfile *mf = slot->gmem.memfile;
	pgoff_t index = gfn - slot->base_gfn + mf->start;
	unsigned long page_pfn;
	int order, r;

	r = memfile_get_pfn(&mf->notifier, index, &page_pfn, &order);
	if (r)
		return r == -EINVAL ? -EFAULT : r;

	/*
	 * A huge page is mapped huge only where the guest's alignment and
	 * the file's agree: the pfn of @gfn is congruent to @index, so the
	 * low bits of @gfn and @index must match up to the mapping order.
	 */
	if ((gfn ^ index) & ((1UL << order) - 1))
		order = __ffs(gfn ^ index);

	*pfn = page_pfn;
	if (max_order)
		*max_order = order;
	return 0;
}
