// SPDX-License-Identifier: GPL-2.0-only
/*
 * memfile_notifier: hand the pages of a memory file (shmem, hugetlbfs) to an
 * in-kernel consumer such as KVM, without any userspace mapping, and tell the
 * consumer when they leave the file.
 *
 * Locking and lifetime:
 * - Backing stores register once at boot; the list is never changed after.
 * - memfile_lock serialises notifier registration and node flag changes.
 *   Registration and unregistration also hold the file's i_rwsem, which the
 *   stores hold across an invalidate and its invalidate_end: a notifier
 *   gets both calls of a pair or neither.
 *   Notifier lists are walked under memfile_srcu, so invalidations never
 *   take memfile_lock and callbacks may sleep.
 * - A registered notifier holds a reference to its file, so a file with
 *   notifiers is never evicted; the consumer's unregister drops it after an
 *   SRCU grace period, when no callback can still be running.
 *
 * See Documentation/mm/memfile_notifier.rst.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/memfile_notifier.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/rculist.h>
#include <linux/srcu.h>

DEFINE_STATIC_SRCU(memfile_srcu);
static DEFINE_MUTEX(memfile_lock);
static LIST_HEAD(backing_store_list);

/**
 * memfile_register_backing_store - make a store's files usable as memfiles
 * @bs: the store, which lives as long as the kernel
 *
 * Called once per store during boot, before any file of it can be created.
 */
void memfile_register_backing_store(struct memfile_backing_store *bs)
{
	mutex_lock(&memfile_lock);
	list_add_tail(&bs->list, &backing_store_list);
	mutex_unlock(&memfile_lock);
}

static struct memfile_backing_store *
memfile_lookup(struct file *file, struct memfile_node **node)
{
	struct memfile_backing_store *bs;

	list_for_each_entry(bs, &backing_store_list, list) {
		*node = bs->lookup_memfile_node(file);
		if (*node)
			return bs;
	}
	return NULL;
}

static void memfile_node_apply(struct file *file, struct memfile_node *node,
			       unsigned long flags)
{
	struct address_space *mapping = file->f_mapping;

	lockdep_assert_held(&memfile_lock);

	/*
	 * AS_UNMOVABLE makes migration (compaction, offlining, soft offline,
	 * NUMA balancing) fail on the pages; new pages come from unmovable
	 * pageblocks.  Unmovable mappings are also unevictable.
	 */
	if (flags & MEMFILE_F_UNMOVABLE) {
		mapping_set_unmovable(mapping);
		mapping_set_gfp_mask(mapping,
				     mapping_gfp_mask(mapping) & ~__GFP_MOVABLE);
	}
	if (flags & MEMFILE_F_UNRECLAIMABLE)
		mapping_set_unevictable(mapping);
	node->flags |= flags;
}

/**
 * memfile_node_set_flags - give a new file the properties of a memfile
 * @file: a file of a registered backing store, not yet visible to userspace
 * @flags: MEMFILE_F_* flags to set
 *
 * %MEMFILE_F_USER_INACCESSIBLE switches the file (and any later open of its
 * inode) to the store's inaccessible file operations.  Flags are never
 * cleared again.  Called by memfd_create() before the file gets an fd.
 *
 * Return: 0, or -EINVAL if @file has no backing store or the store cannot
 * guarantee @flags.
 */
int memfile_node_set_flags(struct file *file, unsigned long flags)
{
	struct memfile_backing_store *bs;
	struct memfile_node *node;
	int ret = 0;

	if (flags & ~MEMFILE_F_ALLOWED_MASK)
		return -EINVAL;

	mutex_lock(&memfile_lock);
	bs = memfile_lookup(file, &node);
	if (!bs || (flags & ~bs->flags)) {
		ret = -EINVAL;
		goto out;
	}
	if (flags & MEMFILE_F_USER_INACCESSIBLE) {
		if (WARN_ON_ONCE(!bs->inaccessible_fops)) {
			ret = -EINVAL;
			goto out;
		}
		file->f_op = bs->inaccessible_fops;
		file_inode(file)->i_fop = bs->inaccessible_fops;
		/*
		 * As the open of a file with these operations would: read()
		 * and write() reach them (and fail with EPERM) rather than
		 * being refused by the VFS with EINVAL.
		 */
		if (file->f_mode & FMODE_READ)
			file->f_mode |= FMODE_CAN_READ;
		if (file->f_mode & FMODE_WRITE)
			file->f_mode |= FMODE_CAN_WRITE;
	}
	memfile_node_apply(file, node, flags);
out:
	mutex_unlock(&memfile_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(memfile_node_set_flags);

/**
 * memfile_node_get_flags - the MEMFILE_F_* properties of a file
 * @file: any file
 *
 * Return: the flags, 0 for a file of no backing store.
 */
unsigned long memfile_node_get_flags(struct file *file)
{
	struct memfile_node *node;

	return memfile_lookup(file, &node) ? READ_ONCE(node->flags) : 0;
}
EXPORT_SYMBOL_GPL(memfile_node_get_flags);

/*
 * Call every notifier's invalidate (@begin), invalidate_end (@done), or
 * both, one notifier after the other.
 */
static void memfile_notify(struct memfile_node *node, pgoff_t start,
			   pgoff_t end, bool begin, bool done)
{
	struct memfile_notifier *notifier;
	int idx;

	if (list_empty_careful(&node->notifiers))
		return;

	idx = srcu_read_lock(&memfile_srcu);
	list_for_each_entry_srcu(notifier, &node->notifiers, list,
				 srcu_read_lock_held(&memfile_srcu)) {
		if (begin)
			notifier->ops->invalidate(notifier, start, end);
		if (done && notifier->ops->invalidate_end)
			notifier->ops->invalidate_end(notifier, start, end);
	}
	srcu_read_unlock(&memfile_srcu, idx);
}

/**
 * memfile_notifier_invalidate - tell consumers pages leave the file
 * @node: the file's node
 * @start: first page offset (PAGE_SIZE units)
 * @end: first page offset past the range
 *
 * Called by the backing store before it frees the pages of the range, and
 * always followed by memfile_notifier_invalidate_end() with the same range.
 */
void memfile_notifier_invalidate(struct memfile_node *node,
				 pgoff_t start, pgoff_t end)
{
	memfile_notify(node, start, end, true, false);
}

/**
 * memfile_notifier_invalidate_end - the invalidated range is gone
 * @node: the file's node
 * @start: as given to memfile_notifier_invalidate()
 * @end: as given to memfile_notifier_invalidate()
 */
void memfile_notifier_invalidate_end(struct memfile_node *node,
				     pgoff_t start, pgoff_t end)
{
	memfile_notify(node, start, end, false, true);
}

/**
 * memfile_notifier_invalidate_range - tell consumers to unmap pages that stay
 * @node: the file's node
 * @start: first page offset (PAGE_SIZE units)
 * @end: first page offset past the range
 *
 * For pages that must not be mapped any more but stay in the file, such as
 * a page hit by memory failure: every consumer gets @invalidate and then
 * @invalidate_end for the range before the next consumer is called.  Each
 * consumer sees a balanced pair whatever registers or unregisters in the
 * meantime, so the store need not hold i_rwsem: it may be called with the
 * folio locked.  May sleep.
 */
void memfile_notifier_invalidate_range(struct memfile_node *node,
				       pgoff_t start, pgoff_t end)
{
	memfile_notify(node, start, end, true, true);
}

/**
 * memfile_register_notifier - start consuming the pages of a file
 * @file: the file
 * @flags: MEMFILE_F_* properties the consumer requires of the file
 * @notifier: the consumer's notifier, with @notifier->ops and
 *	@notifier->owner set
 *
 * %MEMFILE_F_USER_INACCESSIBLE must have been set when the file was made
 * (memfd_create(MFD_INACCESSIBLE)); %MEMFILE_F_UNMOVABLE and
 * %MEMFILE_F_UNRECLAIMABLE are applied to the file now if the store can
 * guarantee them, and stay.  On success the notifier holds a reference to
 * @file until memfile_unregister_notifier().  Takes the inode lock of
 * @file, so the notifier never sees an invalidate_end without its
 * invalidate.  May sleep.
 *
 * With %MEMFILE_F_USER_INACCESSIBLE, a nonzero @notifier->owner claims the
 * file if it has no owner yet; a file owned by another owner is refused, so
 * that no other consumer instance (another VM) ever reaches its pages, not
 * even after the owner has unregistered.
 *
 * Return: 0; -EINVAL if @file is not a file of any backing store, or @flags
 * has unknown bits; -EOPNOTSUPP if the store cannot guarantee @flags;
 * -EPERM if %MEMFILE_F_USER_INACCESSIBLE is required of an accessible file;
 * -EBUSY if the file belongs to another owner.
 */
int memfile_register_notifier(struct file *file, unsigned long flags,
			      struct memfile_notifier *notifier)
{
	struct memfile_backing_store *bs;
	struct memfile_node *node;
	int ret = 0;

	if (!file || !notifier->ops || !notifier->ops->invalidate ||
	    (flags & ~MEMFILE_F_ALLOWED_MASK))
		return -EINVAL;

	/*
	 * The store list never changes after boot: look up without locks,
	 * so that no other file system's i_rwsem is ever taken here.
	 */
	bs = memfile_lookup(file, &node);
	if (!bs)
		return -EINVAL;

	/* Not between an invalidate and its invalidate_end: see above. */
	inode_lock(file_inode(file));
	mutex_lock(&memfile_lock);
	if (flags & ~bs->flags) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (flags & MEMFILE_F_USER_INACCESSIBLE) {
		if (!(node->flags & MEMFILE_F_USER_INACCESSIBLE)) {
			ret = -EPERM;
			goto out;
		}
		if (notifier->owner && node->owner &&
		    node->owner != notifier->owner) {
			ret = -EBUSY;
			goto out;
		}
		if (notifier->owner)
			node->owner = notifier->owner;
	}
	memfile_node_apply(file, node, flags);

	notifier->file = get_file(file);
	notifier->bs = bs;
	list_add_rcu(&notifier->list, &node->notifiers);
out:
	mutex_unlock(&memfile_lock);
	inode_unlock(file_inode(file));
	return ret;
}
EXPORT_SYMBOL_GPL(memfile_register_notifier);

/**
 * memfile_unregister_notifier - stop consuming the pages of a file
 * @notifier: a registered notifier
 *
 * Returns after every callback that may have been running on @notifier has
 * finished, never between an invalidate and its invalidate_end (takes the
 * inode lock of the file); then drops the file reference.  The consumer must have dropped
 * every page it got from memfile_get_pfn() (memfile_put_pfn()) and every
 * mapping of them.  May sleep.
 */
void memfile_unregister_notifier(struct memfile_notifier *notifier)
{
	struct file *file = notifier->file;
	struct inode *inode = file_inode(file);

	/* Not between an invalidate and its invalidate_end: see above. */
	inode_lock(inode);
	mutex_lock(&memfile_lock);
	list_del_rcu(&notifier->list);
	mutex_unlock(&memfile_lock);
	inode_unlock(inode);

	synchronize_srcu(&memfile_srcu);
	notifier->file = NULL;
	fput(file);
}
EXPORT_SYMBOL_GPL(memfile_unregister_notifier);

/*
 * The file operations of an inaccessible file: host userspace gets EPERM for
 * every access to its contents, including a reopen through /proc/PID/fd.
 * ftruncate() (an inode operation) and fallocate() still work.
 */
int memfile_inaccessible_open(struct inode *inode, struct file *file)
{
	return -EPERM;
}

ssize_t memfile_inaccessible_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return -EPERM;
}

ssize_t memfile_inaccessible_write_iter(struct kiocb *iocb,
					struct iov_iter *from)
{
	return -EPERM;
}

int memfile_inaccessible_mmap(struct file *file, struct vm_area_struct *vma)
{
	return -EPERM;
}

ssize_t memfile_inaccessible_splice_read(struct file *in, loff_t *ppos,
					 struct pipe_inode_info *pipe,
					 size_t len, unsigned int flags)
{
	return -EPERM;
}

ssize_t memfile_inaccessible_splice_write(struct pipe_inode_info *pipe,
					  struct file *out, loff_t *ppos,
					  size_t len, unsigned int flags)
{
	return -EPERM;
}
