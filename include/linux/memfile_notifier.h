/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memfile_notifier: the contract between a memory backing store (shmem,
 * hugetlbfs) and an in-kernel consumer of its pages (KVM private memory).
 *
 * See Documentation/mm/memfile_notifier.rst.
 */
#ifndef _LINUX_MEMFILE_NOTIFIER_H
#define _LINUX_MEMFILE_NOTIFIER_H

#include <linux/bits.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/types.h>

/* Host userspace cannot read, write, map or reopen the file. */
#define MEMFILE_F_USER_INACCESSIBLE	BIT(0)
/* The file's pages are never migrated (compaction, offlining, NUMA). */
#define MEMFILE_F_UNMOVABLE		BIT(1)
/* The file's pages are never reclaimed (swap, writeback, LRU). */
#define MEMFILE_F_UNRECLAIMABLE		BIT(2)

#define MEMFILE_F_ALLOWED_MASK		(MEMFILE_F_USER_INACCESSIBLE | \
					 MEMFILE_F_UNMOVABLE | \
					 MEMFILE_F_UNRECLAIMABLE)

struct memfile_notifier;

/**
 * struct memfile_notifier_ops - what a consumer is told about its file
 * @invalidate: pages [@start, @end) (in PAGE_SIZE units of the file) are
 *	about to leave the file (punch hole, truncate).  Called before the
 *	pages are freed, from sleepable context, with the store's own locks
 *	held (for hugetlbfs the inode's i_mmap_rwsem is not held), under SRCU.
 *	The consumer must drop every mapping of the range and must not
 *	establish new ones until @invalidate_end.
 * @invalidate_end: the range is gone; pages the consumer looks up from now
 *	on are new pages.  Optional.  Always paired with @invalidate.
 */
struct memfile_notifier_ops {
	void (*invalidate)(struct memfile_notifier *notifier,
			   pgoff_t start, pgoff_t end);
	void (*invalidate_end)(struct memfile_notifier *notifier,
			       pgoff_t start, pgoff_t end);
};

/**
 * struct memfile_node - per-file state of a backing store, embedded in the
 *	store's inode
 * @notifiers: the registered &struct memfile_notifier, walked under SRCU;
 *	changed under the inode's i_rwsem and memfile_lock
 * @flags: MEMFILE_F_* properties the store guarantees for this file
 * @owner: the &memfile_notifier.owner that first registered on this
 *	%MEMFILE_F_USER_INACCESSIBLE file, 0 if none yet; never changes again
 */
struct memfile_node {
	struct list_head notifiers;
	unsigned long flags;
	u64 owner;
};

/**
 * struct memfile_backing_store - a file system whose files can back a
 *	memfile_notifier consumer
 * @list: entry in the list of stores, registered at boot
 * @flags: the MEMFILE_F_* properties this store can guarantee
 * @inaccessible_fops: file operations of a %MEMFILE_F_USER_INACCESSIBLE
 *	file of this store: everything but fallocate() fails
 * @lookup_memfile_node: the node of @file, or NULL if @file is not one of
 *	this store's files
 * @get_pfn: find the page at @offset (PAGE_SIZE units) of @file, allocating
 *	and zeroing it if it is a hole; return its pfn in @pfn and the order
 *	of the folio (compound page) it belongs to in @order.  The page holds
 *	a reference until @put_pfn.  Errors: -EINVAL beyond EOF, -ENOMEM,
 *	-ENOSPC (quota/pool), -EHWPOISON.
 * @put_pfn: drop the reference @get_pfn took
 */
struct memfile_backing_store {
	struct list_head list;
	unsigned long flags;
	const struct file_operations *inaccessible_fops;
	struct memfile_node *(*lookup_memfile_node)(struct file *file);
	int (*get_pfn)(struct file *file, pgoff_t offset, unsigned long *pfn,
		       int *order);
	void (*put_pfn)(unsigned long pfn);
};

/**
 * struct memfile_notifier - a consumer's registration on one file
 * @list: entry in &memfile_node.notifiers
 * @ops: the consumer's callbacks, set by the consumer before registering
 * @owner: the consumer instance (e.g. one VM), set before registering: an
 *	identifier that is never used for another instance, or 0.  The first
 *	nonzero owner to register on an inaccessible file owns it for the
 *	file's lifetime; registrations of other nonzero owners fail.
 * @file: the file, pinned while registered
 * @bs: the file's backing store
 */
struct memfile_notifier {
	struct list_head list;
	const struct memfile_notifier_ops *ops;
	u64 owner;
	struct file *file;
	struct memfile_backing_store *bs;
};

#ifdef CONFIG_MEMFILE_NOTIFIER
void memfile_register_backing_store(struct memfile_backing_store *bs);

static inline void memfile_node_init(struct memfile_node *node)
{
	INIT_LIST_HEAD(&node->notifiers);
	node->flags = 0;
	node->owner = 0;
}

int memfile_node_set_flags(struct file *file, unsigned long flags);
unsigned long memfile_node_get_flags(struct file *file);
void memfile_notifier_invalidate(struct memfile_node *node,
				 pgoff_t start, pgoff_t end);
void memfile_notifier_invalidate_end(struct memfile_node *node,
				     pgoff_t start, pgoff_t end);
void memfile_notifier_invalidate_range(struct memfile_node *node,
				       pgoff_t start, pgoff_t end);

int memfile_register_notifier(struct file *file, unsigned long flags,
			      struct memfile_notifier *notifier);
void memfile_unregister_notifier(struct memfile_notifier *notifier);

/**
 * memfile_get_pfn - get a page of the notifier's file, with its order
 * @notifier: a registered notifier
 * @offset: page offset in the file (PAGE_SIZE units)
 * @pfn: the pfn of the PAGE_SIZE page at @offset
 * @order: the order of the folio that page belongs to
 *
 * Return: 0 or a negative errno (see &memfile_backing_store.get_pfn).
 */
static inline int memfile_get_pfn(struct memfile_notifier *notifier,
				  pgoff_t offset, unsigned long *pfn,
				  int *order)
{
	return notifier->bs->get_pfn(notifier->file, offset, pfn, order);
}

static inline void memfile_put_pfn(struct memfile_notifier *notifier,
				   unsigned long pfn)
{
	notifier->bs->put_pfn(pfn);
}

/* File operations every store uses for its inaccessible files. */
int memfile_inaccessible_open(struct inode *inode, struct file *file);
ssize_t memfile_inaccessible_read_iter(struct kiocb *iocb,
				       struct iov_iter *to);
ssize_t memfile_inaccessible_write_iter(struct kiocb *iocb,
					struct iov_iter *from);
int memfile_inaccessible_mmap(struct file *file, struct vm_area_struct *vma);
ssize_t memfile_inaccessible_splice_read(struct file *in, loff_t *ppos,
					 struct pipe_inode_info *pipe,
					 size_t len, unsigned int flags);
ssize_t memfile_inaccessible_splice_write(struct pipe_inode_info *pipe,
					  struct file *out, loff_t *ppos,
					  size_t len, unsigned int flags);
#else /* !CONFIG_MEMFILE_NOTIFIER */
static inline void memfile_node_init(struct memfile_node *node)
{
}

static inline int memfile_node_set_flags(struct file *file,
					 unsigned long flags)
{
	return -EINVAL;
}

static inline unsigned long memfile_node_get_flags(struct file *file)
{
	return 0;
}

static inline void memfile_notifier_invalidate(struct memfile_node *node,
					       pgoff_t start, pgoff_t end)
{
}

static inline void memfile_notifier_invalidate_end(struct memfile_node *node,
						   pgoff_t start, pgoff_t end)
{
}

static inline void memfile_notifier_invalidate_range(struct memfile_node *node,
						     pgoff_t start, pgoff_t end)
{
}
#endif /* CONFIG_MEMFILE_NOTIFIER */

#endif /* _LINUX_MEMFILE_NOTIFIER_H */
