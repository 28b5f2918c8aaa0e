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
 * Lifetime: a binding belongs to its memslot.  It holds a reference to the
 * file (through its registered notifier) but none to the VM: the memfd does
 * not pin the VM, unlike a guest_memfd.  So the binding is detached from the
 * file when the VM's last reference goes (kvm_memfile_release_vm()), before
 * the MMU is torn down, and freed with the memslot (kvm_memfile_unbind()).
 *
 * Locking: kvm->slots_lock (bind, unbind) > kvm_memfile_lock > the file's
 * i_rwsem (held by the store across invalidate and invalidate_end, and by
 * memfile_register/unregister_notifier()) > kvm->mmu_lock.  The fault path
 * calls get_pfn under kvm->srcu only, without mmu_lock.
 */
#include <linux/kvm_host.h>
#include <linux/memfile_notifier.h>
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
 * @entry: in kvm_memfile_bindings while attached
 */
struct kvm_memfile {
	struct memfile_notifier notifier;
	struct kvm *kvm;
	struct kvm_memory_slot *slot;
	pgoff_t start;
	pgoff_t end;
	struct list_head entry;
};

/* Attached bindings of all VMs: a file range backs at most one memslot. */
static LIST_HEAD(kvm_memfile_bindings);
static DEFINE_MUTEX(kvm_memfile_lock);

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
 * Whether @mf's memslot is the VM's memslot of its id, i.e. installed and
 * not being deleted or replaced (deletion swaps in a copy first, and zaps
 * the memslot's mappings itself).  Before, the memslot has no mappings and
 * maybe no arch metadata (rmaps) yet: a bind comes before the install.
 */
static bool kvm_memfile_slot_live(struct kvm_memfile *mf)
{
	struct kvm_memory_slot *slot = mf->slot;
	struct kvm *kvm = mf->kvm;
	bool live;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	live = id_to_memslot(__kvm_memslots(kvm, slot->as_id), slot->id) == slot;
	srcu_read_unlock(&kvm->srcu, idx);
	return live;
}

/*
 * Pages of the file are about to be freed: zap their private mappings and,
 * like an mmu_notifier invalidation, keep faults on the range from installing
 * anything until kvm_memfile_invalidate_end().  The store holds the file's
 * i_rwsem across both calls; a fault that got a pfn before this sees the
 * sequence count or the range and retries.  The in-progress count is taken
 * whether or not the memslot is live yet, so that the pair stays balanced
 * if it goes live in between.
 */
static void kvm_memfile_invalidate(struct memfile_notifier *notifier,
				   pgoff_t start, pgoff_t end)
{
	struct kvm_memfile *mf = to_kvm_memfile(notifier);
	struct kvm *kvm = mf->kvm;
	struct kvm_gfn_range range;
	bool live;

	if (!kvm_memfile_gfn_range(mf, start, end, &range))
		return;

	/* Under kvm->srcu, so outside mmu_lock. */
	live = kvm_memfile_slot_live(mf);
	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_begin(kvm);
	kvm_mmu_invalidate_range_add(kvm, range.start, range.end);
	if (live && kvm_unmap_gfn_range(kvm, &range))
		kvm_flush_remote_tlbs(kvm);
	KVM_MMU_UNLOCK(kvm);
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
 * @file; the binding takes another.
 *
 * Return: 0; -EINVAL if @file is not an inaccessible memfd (an accessible
 * memfd included), @offset is not page aligned or the file is smaller than
 * @offset plus the memslot; -EEXIST if part of the range already backs a
 * memslot (of this or another VM); -ENOMEM.
 */
int kvm_memfile_bind(struct kvm *kvm, struct kvm_memory_slot *slot,
		     struct file *file, loff_t offset)
{
	struct inode *inode = file_inode(file);
	struct kvm_memfile *mf, *other;
	pgoff_t start, end;
	int r;

	if (!PAGE_ALIGNED(offset) ||
	    offset + (slot->npages << PAGE_SHIFT) > i_size_read(inode))
		return -EINVAL;

	start = offset >> PAGE_SHIFT;
	end = start + slot->npages;

	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return -ENOMEM;
	mf->notifier.ops = &kvm_memfile_ops;
	mf->kvm = kvm;
	mf->slot = slot;
	mf->start = start;
	mf->end = end;

	mutex_lock(&kvm_memfile_lock);
	list_for_each_entry(other, &kvm_memfile_bindings, entry) {
		if (file_inode(other->notifier.file) == inode &&
		    start < other->end && other->start < end) {
			r = -EEXIST;
			goto err;
		}
	}

	/*
	 * The file must have been created inaccessible; its pages become
	 * unmovable and unreclaimable for good.  Any other file is not a
	 * guest_memfd either: EINVAL, as for a guest_memfd of another VM.
	 */
	r = memfile_register_notifier(file, MEMFILE_F_ALLOWED_MASK,
				      &mf->notifier);
	if (r) {
		r = r == -ENOMEM ? r : -EINVAL;
		goto err;
	}
	list_add(&mf->entry, &kvm_memfile_bindings);
	mutex_unlock(&kvm_memfile_lock);

	/* The memslot is not visible yet: the fault path sees it bound. */
	slot->gmem.pgoff = start;
	slot->gmem.memfile = mf;
	return 0;

err:
	mutex_unlock(&kvm_memfile_lock);
	kfree(mf);
	return r;
}

/* Detach @mf from its file: no callbacks after this returns. */
static void kvm_memfile_detach(struct kvm_memfile *mf)
{
	mutex_lock(&kvm_memfile_lock);
	if (!mf->notifier.file) {
		mutex_unlock(&kvm_memfile_lock);
		return;
	}
	list_del(&mf->entry);
	mutex_unlock(&kvm_memfile_lock);

	/* Waits for a running invalidate/invalidate_end pair, drops the file. */
	memfile_unregister_notifier(&mf->notifier);
}

/**
 * kvm_memfile_unbind - free a memslot's binding
 * @slot: a memslot bound by kvm_memfile_bind()
 *
 * Called when the memslot is freed: vCPUs cannot see it any more and its
 * mappings are gone (or the bind failed before the memslot was installed).
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
	struct kvm_memfile *mf;
	struct kvm_gfn_range range;

	for (;;) {
		mutex_lock(&kvm_memfile_lock);
		list_for_each_entry(mf, &kvm_memfile_bindings, entry)
			if (mf->kvm == kvm)
				goto found;
		mutex_unlock(&kvm_memfile_lock);
		return;
found:
		mutex_unlock(&kvm_memfile_lock);

		/* slots_lock: what zapping outside an invalidation needs. */
		if (kvm_memfile_gfn_range(mf, mf->start, mf->end, &range)) {
			mutex_lock(&kvm->slots_lock);
			KVM_MMU_LOCK(kvm);
			if (kvm_unmap_gfn_range(kvm, &range))
				kvm_flush_remote_tlbs(kvm);
			KVM_MMU_UNLOCK(kvm);
			mutex_unlock(&kvm->slots_lock);
		}
		kvm_memfile_detach(mf);
	}
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
