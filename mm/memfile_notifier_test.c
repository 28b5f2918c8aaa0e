// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of memfile_notifier against its backing stores: an in-kernel
 * consumer registers on inaccessible memfds, gets pages with their order,
 * and checks that punch hole and truncate invalidate exactly the range that
 * leaves the file and that every page reference goes back.
 *
 * Run at boot, or again with
 *   echo run > /sys/kernel/debug/kunit/memfile_notifier/run
 */
#include <kunit/test.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/hugetlb.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/memfd.h>
#include <linux/memfile_notifier.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/task.h>
#include <uapi/linux/memfd.h>

struct mf_store {
	const char *name;
	unsigned int mfd_flags;
	/* Order of the folios the store hands out. */
	int order;
};

static const struct mf_store mf_stores[] = {
	{ "shmem", 0, 0 },
#ifdef CONFIG_HUGETLBFS
	{ "hugetlb-2M", MFD_HUGETLB | MFD_HUGE_2MB, PMD_SHIFT - PAGE_SHIFT },
	{ "hugetlb-1G", MFD_HUGETLB | MFD_HUGE_1GB, PUD_SHIFT - PAGE_SHIFT },
#endif
};

static void mf_store_desc(const struct mf_store *s, char *desc)
{
	strscpy(desc, s->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mf_store, mf_stores, mf_store_desc);

struct mf_consumer {
	struct memfile_notifier notifier;
	int ninvalidate;
	int nend;
	pgoff_t start, end;
	pgoff_t end_start, end_end;
	/* invalidate_end seen without a preceding invalidate. */
	bool unpaired;
};

static void mf_invalidate(struct memfile_notifier *notifier,
			  pgoff_t start, pgoff_t end)
{
	struct mf_consumer *c = container_of(notifier, struct mf_consumer,
					     notifier);

	c->ninvalidate++;
	c->start = start;
	c->end = end;
}

static void mf_invalidate_end(struct memfile_notifier *notifier,
			      pgoff_t start, pgoff_t end)
{
	struct mf_consumer *c = container_of(notifier, struct mf_consumer,
					     notifier);

	if (c->nend >= c->ninvalidate)
		c->unpaired = true;
	c->nend++;
	c->end_start = start;
	c->end_end = end;
}

static const struct memfile_notifier_ops mf_ops = {
	.invalidate = mf_invalidate,
	.invalidate_end = mf_invalidate_end,
};

/* @c got exactly one invalidate and one invalidate_end, of [@start, @end). */
static void mf_expect_one_pair(struct kunit *test, struct mf_consumer *c,
			       pgoff_t start, pgoff_t end)
{
	KUNIT_EXPECT_EQ(test, c->ninvalidate, 1);
	KUNIT_EXPECT_EQ(test, c->nend, 1);
	KUNIT_EXPECT_FALSE(test, c->unpaired);
	KUNIT_EXPECT_EQ(test, c->start, start);
	KUNIT_EXPECT_EQ(test, c->end, end);
	KUNIT_EXPECT_EQ(test, c->end_start, start);
	KUNIT_EXPECT_EQ(test, c->end_end, end);
}

static int mf_register(struct mf_consumer *c, struct file *file,
		       unsigned long flags)
{
	return memfile_register_notifier(file, flags, &c->notifier);
}

struct mf_ctx {
	const struct mf_store *store;
	struct file *file;
	/* PAGE_SIZE pages per folio of the store. */
	pgoff_t nr;
	/* The pool of a hugetlb store, and its counts before the file. */
	struct hstate *h;
	unsigned long free0, resv0;
};

/* The file of the test: an inaccessible memfd of the store, @nfolios big. */
static int mf_init(struct kunit *test)
{
	const struct mf_store *s = test->param_value;
	struct mf_ctx *ctx;
	struct file *file;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->store = s;
	ctx->nr = 1UL << s->order;
	test->priv = ctx;

#ifdef CONFIG_HUGETLBFS
	if (s->mfd_flags & MFD_HUGETLB) {
		struct hstate *h = size_to_hstate(PAGE_SIZE << s->order);

		if (!h || h->free_huge_pages < 2)
			kunit_skip(test, "needs 2 free %lu kB huge pages",
				   (PAGE_SIZE << s->order) >> 10);
		ctx->h = h;
		ctx->free0 = h->free_huge_pages;
		ctx->resv0 = h->resv_huge_pages;
	}
#endif
	file = memfd_alloc_file("kunit", s->mfd_flags | MFD_INACCESSIBLE);
	if (IS_ERR(file)) {
		if (PTR_ERR(file) == -EINVAL && (s->mfd_flags & MFD_HUGETLB))
			kunit_skip(test, "%s has no inaccessible memfds", s->name);
		KUNIT_FAIL(test, "memfd_alloc_file: %ld", PTR_ERR(file));
		return -EINVAL;
	}
	ctx->file = file;
	return 0;
}

/*
 * Close the file now: fput() from a kernel thread defers the release, and
 * the checks after it need the inode evicted.  Every other reference (a
 * registered notifier) must be gone.
 */
static void mf_close(struct mf_ctx *ctx)
{
	__fput_sync(ctx->file);
	ctx->file = NULL;
}

/* Synchronously too: the next case measures the pool it starts from. */
static void mf_exit(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;

	if (ctx && ctx->file)
		mf_close(ctx);
}

/* A hugetlb store's pool is as it was before the file was made. */
static void mf_expect_pool(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;

#ifdef CONFIG_HUGETLBFS
	if (!ctx->h)
		return;
	KUNIT_EXPECT_EQ(test, ctx->h->free_huge_pages, ctx->free0);
	KUNIT_EXPECT_EQ(test, ctx->h->resv_huge_pages, ctx->resv0);
#endif
}

static int mf_truncate(struct mf_ctx *ctx, pgoff_t pages)
{
	return vfs_truncate(&ctx->file->f_path, (loff_t)pages << PAGE_SHIFT);
}

static int mf_punch(struct mf_ctx *ctx, pgoff_t start, pgoff_t len)
{
	return vfs_fallocate(ctx->file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     (loff_t)start << PAGE_SHIFT, (loff_t)len << PAGE_SHIFT);
}

static void mf_test_flags(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_consumer c = { .notifier.ops = &mf_ops };
	struct file *open;

	KUNIT_EXPECT_EQ(test, memfile_node_get_flags(ctx->file),
			MEMFILE_F_ALLOWED_MASK);
	KUNIT_EXPECT_TRUE(test, mapping_unmovable(ctx->file->f_mapping));
	KUNIT_EXPECT_TRUE(test, mapping_unevictable(ctx->file->f_mapping));

	/* Unknown flags. */
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(ctx->file, BIT(7),
							&c.notifier), -EINVAL);

	/* An accessible memfd cannot claim to be inaccessible. */
	open = memfd_alloc_file("kunit-open", ctx->store->mfd_flags);
	KUNIT_ASSERT_FALSE(test, IS_ERR(open));
	KUNIT_EXPECT_EQ(test, memfile_node_get_flags(open), 0);
	KUNIT_EXPECT_EQ(test, mf_register(&c, open, MEMFILE_F_USER_INACCESSIBLE),
			-EPERM);
	/* ...but may be consumed without that guarantee. */
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(open, MEMFILE_F_UNMOVABLE,
							&c.notifier), 0);
	KUNIT_EXPECT_TRUE(test, mapping_unmovable(open->f_mapping));
	memfile_unregister_notifier(&c.notifier);
	fput(open);

	KUNIT_EXPECT_EQ(test, mf_register(&c, ctx->file, MEMFILE_F_ALLOWED_MASK),
			0);
	KUNIT_EXPECT_PTR_EQ(test, c.notifier.file, ctx->file);
	KUNIT_EXPECT_EQ(test, file_count(ctx->file), 2);
	memfile_unregister_notifier(&c.notifier);
	KUNIT_EXPECT_EQ(test, file_count(ctx->file), 1);
}

static void mf_test_get_pfn(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_consumer c = { .notifier.ops = &mf_ops };
	unsigned long pfn, pfn2, first;
	struct folio *folio;
	int order, refs;
	u64 *p;

	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, 2 * ctx->nr), 0);
	KUNIT_ASSERT_EQ(test, mf_register(&c, ctx->file, MEMFILE_F_ALLOWED_MASK),
			0);

	/* Beyond EOF. */
	KUNIT_EXPECT_EQ(test, memfile_get_pfn(&c.notifier, 2 * ctx->nr, &pfn,
					      &order), -EINVAL);
	KUNIT_EXPECT_EQ(test, ctx->file->f_mapping->nrpages, 0);

	/* A hole: allocated on demand, zeroed, with the store's order. */
	KUNIT_ASSERT_EQ(test, memfile_get_pfn(&c.notifier, 0, &first, &order), 0);
	KUNIT_EXPECT_EQ(test, order, ctx->store->order);
	folio = pfn_folio(first);
	KUNIT_EXPECT_EQ(test, folio_nr_pages(folio), ctx->nr);
	KUNIT_EXPECT_EQ(test, folio_pfn(folio), first);
	p = kmap_local_pfn(first);
	KUNIT_EXPECT_EQ(test, p[0] | p[PAGE_SIZE / sizeof(*p) - 1], 0);
	p[0] = 0x5a5a5a5a;
	kunmap_local(p);
	refs = folio_ref_count(folio);
	memfile_put_pfn(&c.notifier, first);
	KUNIT_EXPECT_EQ(test, folio_ref_count(folio), refs - 1);

	/* The last PAGE_SIZE page of the folio: a subpage of the same folio. */
	KUNIT_ASSERT_EQ(test, memfile_get_pfn(&c.notifier, ctx->nr - 1, &pfn,
					      &order), 0);
	KUNIT_EXPECT_EQ(test, pfn, first + ctx->nr - 1);
	KUNIT_EXPECT_EQ(test, order, ctx->store->order);
	memfile_put_pfn(&c.notifier, pfn);

	/* Same page again, contents kept. */
	KUNIT_ASSERT_EQ(test, memfile_get_pfn(&c.notifier, 0, &pfn2, &order), 0);
	KUNIT_EXPECT_EQ(test, pfn2, first);
	p = kmap_local_pfn(pfn2);
	KUNIT_EXPECT_EQ(test, p[0], 0x5a5a5a5a);
	kunmap_local(p);
	memfile_put_pfn(&c.notifier, pfn2);

	KUNIT_EXPECT_EQ(test, ctx->file->f_mapping->nrpages, ctx->nr);
	KUNIT_EXPECT_EQ(test, c.ninvalidate, 0);
	memfile_unregister_notifier(&c.notifier);
}

static void mf_populate(struct kunit *test, struct memfile_notifier *n,
			pgoff_t folios)
{
	struct mf_ctx *ctx = test->priv;
	unsigned long pfn;
	pgoff_t i;
	int order;

	for (i = 0; i < folios; i++) {
		KUNIT_ASSERT_EQ(test, memfile_get_pfn(n, i * ctx->nr, &pfn,
						      &order), 0);
		memfile_put_pfn(n, pfn);
	}
	KUNIT_ASSERT_EQ(test, ctx->file->f_mapping->nrpages, folios * ctx->nr);
}

/* A file of @folios folios, all populated, and @c registered on it. */
static void mf_setup(struct kunit *test, struct mf_consumer *c, pgoff_t folios)
{
	struct mf_ctx *ctx = test->priv;

	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, folios * ctx->nr), 0);
	KUNIT_ASSERT_EQ(test, mf_register(c, ctx->file, MEMFILE_F_ALLOWED_MASK),
			0);
	mf_populate(test, &c->notifier, folios);
}

static void mf_test_punch(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_consumer c = { .notifier.ops = &mf_ops };
	pgoff_t nr = ctx->nr;

	mf_setup(test, &c, 2);

	/* Punch folio 1: exactly that range, before and after. */
	KUNIT_ASSERT_EQ(test, mf_punch(ctx, nr, nr), 0);
	mf_expect_one_pair(test, &c, nr, 2 * nr);
	KUNIT_EXPECT_EQ(test, ctx->file->f_mapping->nrpages, nr);

	/* One PAGE_SIZE page: that page; a huge folio stays, zeroed there. */
	KUNIT_ASSERT_EQ(test, mf_punch(ctx, 1, 1), 0);
	KUNIT_EXPECT_EQ(test, c.ninvalidate, 2);
	KUNIT_EXPECT_EQ(test, c.start, 1);
	KUNIT_EXPECT_EQ(test, c.end, 2);
	KUNIT_EXPECT_EQ(test, ctx->file->f_mapping->nrpages, nr);

	memfile_unregister_notifier(&c.notifier);

	/* No callbacks once unregistered. */
	KUNIT_ASSERT_EQ(test, mf_punch(ctx, 0, nr), 0);
	KUNIT_EXPECT_EQ(test, c.ninvalidate, 2);
	KUNIT_EXPECT_EQ(test, ctx->file->f_mapping->nrpages, 0);
}

static void mf_test_truncate(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_consumer c = { .notifier.ops = &mf_ops };
	pgoff_t nr = ctx->nr;

	mf_setup(test, &c, 2);

	/* Shrinking invalidates [new size, old size). */
	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, nr), 0);
	KUNIT_EXPECT_EQ(test, c.ninvalidate, 1);
	KUNIT_EXPECT_EQ(test, c.nend, 1);
	KUNIT_EXPECT_EQ(test, c.start, nr);
	KUNIT_EXPECT_EQ(test, c.end, 2 * nr);
	KUNIT_EXPECT_EQ(test, ctx->file->f_mapping->nrpages, nr);

	/* Growing invalidates nothing. */
	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, 2 * nr), 0);
	KUNIT_EXPECT_EQ(test, c.ninvalidate, 1);

	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, 0), 0);
	KUNIT_EXPECT_EQ(test, c.ninvalidate, 2);
	KUNIT_EXPECT_EQ(test, c.start, 0);
	KUNIT_EXPECT_EQ(test, c.end, 2 * nr);
	KUNIT_EXPECT_EQ(test, ctx->file->f_mapping->nrpages, 0);
	KUNIT_EXPECT_FALSE(test, c.unpaired);

	memfile_unregister_notifier(&c.notifier);
}

/*
 * A consumer whose invalidate is slow: it says when it has started, then
 * sleeps, holding the punch between invalidate and invalidate_end.
 */
struct mf_slow_consumer {
	struct mf_consumer c;
	struct completion started;
};

static void mf_slow_invalidate(struct memfile_notifier *notifier,
			       pgoff_t start, pgoff_t end)
{
	struct mf_slow_consumer *s = container_of(notifier,
						  struct mf_slow_consumer,
						  c.notifier);

	mf_invalidate(notifier, start, end);
	complete(&s->started);
	msleep(300);
}

static const struct memfile_notifier_ops mf_slow_ops = {
	.invalidate = mf_slow_invalidate,
	.invalidate_end = mf_invalidate_end,
};

struct mf_punch_work {
	struct mf_ctx *ctx;
	pgoff_t start, len;
	int ret;
	struct completion done;
};

static int mf_punch_thread(void *data)
{
	struct mf_punch_work *w = data;

	w->ret = mf_punch(w->ctx, w->start, w->len);
	complete(&w->done);
	return 0;
}

/*
 * A consumer that registers while a punch is between invalidate and
 * invalidate_end (another consumer's invalidate holds it there) gets both
 * calls or neither, never an invalidate_end alone.
 */
static void mf_test_register_during_invalidate(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_slow_consumer slow = { .c.notifier.ops = &mf_slow_ops };
	struct mf_consumer late = { .notifier.ops = &mf_ops };
	struct mf_punch_work w = { .ctx = ctx, .start = 0, .len = ctx->nr };
	struct task_struct *t;

	init_completion(&slow.started);
	init_completion(&w.done);
	mf_setup(test, &slow.c, 2);

	t = kthread_run(mf_punch_thread, &w, "mf_punch");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wait_for_completion(&slow.started);
	/* The punch sleeps in the slow consumer's invalidate now. */
	KUNIT_EXPECT_EQ(test, mf_register(&late, ctx->file,
					  MEMFILE_F_ALLOWED_MASK), 0);
	wait_for_completion(&w.done);
	KUNIT_EXPECT_EQ(test, w.ret, 0);

	KUNIT_EXPECT_EQ(test, slow.c.ninvalidate, 1);
	KUNIT_EXPECT_EQ(test, slow.c.nend, 1);
	KUNIT_EXPECT_FALSE(test, late.unpaired);
	KUNIT_EXPECT_EQ(test, late.nend, late.ninvalidate);

	memfile_unregister_notifier(&late.notifier);
	memfile_unregister_notifier(&slow.c.notifier);
}

/*
 * The first owner to register on an inaccessible file owns it for good:
 * another owner is refused, also once the first has unregistered.
 */
static void mf_test_owner(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_consumer a = { .notifier.ops = &mf_ops, .notifier.owner = 1 };
	struct mf_consumer b = { .notifier.ops = &mf_ops, .notifier.owner = 2 };
	struct mf_consumer anon = { .notifier.ops = &mf_ops };

	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, ctx->nr), 0);
	KUNIT_ASSERT_EQ(test, mf_register(&a, ctx->file, MEMFILE_F_ALLOWED_MASK),
			0);
	KUNIT_EXPECT_EQ(test, mf_register(&b, ctx->file, MEMFILE_F_ALLOWED_MASK),
			-EBUSY);
	memfile_unregister_notifier(&a.notifier);
	KUNIT_EXPECT_EQ(test, mf_register(&b, ctx->file, MEMFILE_F_ALLOWED_MASK),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, file_count(ctx->file), 1);

	/* The owner itself comes back; a consumer with no owner claims none. */
	KUNIT_EXPECT_EQ(test, mf_register(&a, ctx->file, MEMFILE_F_ALLOWED_MASK),
			0);
	KUNIT_EXPECT_EQ(test, mf_register(&anon, ctx->file,
					  MEMFILE_F_ALLOWED_MASK), 0);
	memfile_unregister_notifier(&anon.notifier);
	memfile_unregister_notifier(&a.notifier);
}

/*
 * Truncation removes what fallocate(FALLOC_FL_KEEP_SIZE) allocated past EOF
 * too, and must say so.
 */
static void mf_test_truncate_past_eof(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_consumer c = { .notifier.ops = &mf_ops };
	struct address_space *mapping = ctx->file->f_mapping;
	pgoff_t nr = ctx->nr;

	mf_setup(test, &c, 1);

	/* Folio 1, past EOF. */
	KUNIT_ASSERT_EQ(test, vfs_fallocate(ctx->file, FALLOC_FL_KEEP_SIZE,
					    (loff_t)nr << PAGE_SHIFT,
					    (loff_t)nr << PAGE_SHIFT), 0);
	KUNIT_EXPECT_EQ(test, i_size_read(file_inode(ctx->file)),
			(loff_t)nr << PAGE_SHIFT);
	KUNIT_ASSERT_EQ(test, mapping->nrpages, 2 * nr);
	KUNIT_EXPECT_EQ(test, c.ninvalidate, 0);

	/* Truncating to 0 removes both folios: [0, 2 * nr). */
	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, 0), 0);
	KUNIT_EXPECT_EQ(test, mapping->nrpages, 0);
	KUNIT_EXPECT_EQ(test, c.ninvalidate, 1);
	KUNIT_EXPECT_EQ(test, c.nend, 1);
	KUNIT_EXPECT_EQ(test, c.start, 0);
	KUNIT_EXPECT_EQ(test, c.end, 2 * nr);
	KUNIT_EXPECT_EQ(test, c.end_start, 0);
	KUNIT_EXPECT_EQ(test, c.end_end, 2 * nr);

	/*
	 * Folio 1 past EOF again, then grow the file to folio 1: hugetlbfs
	 * drops pages past the new size whichever way the size changes,
	 * shmem only when it shrinks or stays.
	 */
	KUNIT_ASSERT_EQ(test, vfs_fallocate(ctx->file, FALLOC_FL_KEEP_SIZE,
					    (loff_t)nr << PAGE_SHIFT,
					    (loff_t)nr << PAGE_SHIFT), 0);
	KUNIT_ASSERT_EQ(test, mapping->nrpages, nr);
	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, nr), 0);
	if (!(ctx->store->mfd_flags & MFD_HUGETLB)) {
		KUNIT_EXPECT_EQ(test, mapping->nrpages, nr);
		KUNIT_EXPECT_EQ(test, c.ninvalidate, 1);
	} else {
		KUNIT_EXPECT_EQ(test, mapping->nrpages, 0);
		KUNIT_EXPECT_EQ(test, c.ninvalidate, 2);
		KUNIT_EXPECT_EQ(test, c.start, nr);
		KUNIT_EXPECT_EQ(test, c.end, 2 * nr);
	}
	KUNIT_EXPECT_EQ(test, c.nend, c.ninvalidate);
	KUNIT_EXPECT_FALSE(test, c.unpaired);

	memfile_unregister_notifier(&c.notifier);
	mf_close(ctx);
	mf_expect_pool(test);
}

#ifdef CONFIG_HUGETLBFS
/* A get_pfn() or truncate running in a thread of its own. */
struct mf_racer {
	struct completion done;
	struct task_struct *task;
	struct mf_ctx *ctx;
	struct memfile_notifier *notifier;
	pgoff_t offset;
	bool started;
	int ret;
};

static int mf_getter(void *data)
{
	struct mf_racer *r = data;
	unsigned long pfn;
	int order;

	WRITE_ONCE(r->started, true);
	r->ret = memfile_get_pfn(r->notifier, r->offset, &pfn, &order);
	if (!r->ret)
		memfile_put_pfn(r->notifier, pfn);
	complete(&r->done);
	return 0;
}

static int mf_truncater(void *data)
{
	struct mf_racer *r = data;

	WRITE_ONCE(r->started, true);
	r->ret = mf_truncate(r->ctx, r->offset);
	complete(&r->done);
	return 0;
}

static struct mf_racer *mf_race_start(struct kunit *test,
				      int (*fn)(void *), const char *name,
				      struct memfile_notifier *n, pgoff_t offset)
{
	struct mf_racer *r;

	/* Not kunit_kzalloc(): a thread that never ends keeps it. */
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	init_completion(&r->done);
	r->ctx = test->priv;
	r->notifier = n;
	r->offset = offset;
	r->task = kthread_create(fn, r, "%s", name);
	if (IS_ERR(r->task)) {
		kfree(r);
		KUNIT_FAIL_AND_ABORT(test, "kthread_create %s", name);
	}
	get_task_struct(r->task);
	wake_up_process(r->task);
	return r;
}

/* Wait until @r is done or sleeps (on a lock); false after 10-20 s. */
static bool mf_race_wait_blocked(struct mf_racer *r)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (completion_done(&r->done) ||
		    (READ_ONCE(r->started) &&
		     READ_ONCE(r->task->__state) == TASK_UNINTERRUPTIBLE))
			return true;
		usleep_range(1000, 2000);
	}
	return false;
}

/* Wait for @r to end, then free it; false (and @r leaked) after 60 s. */
static bool mf_race_finish(struct mf_racer *r, int *ret)
{
	if (!wait_for_completion_timeout(&r->done, 60 * HZ))
		return false;
	*ret = r->ret;
	put_task_struct(r->task);
	kfree(r);
	return true;
}

/*
 * get_pfn() against truncate: get_pfn() of folio 1 waits on the hugetlb
 * fault mutex of folio 1 (the test holds it) while another thread truncates
 * the file to folio 1.  Whichever wins, no page may stay past EOF and the
 * pool must be exact once the file is closed.
 */
static void mf_test_get_pfn_truncate_race(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_consumer c = { .notifier.ops = &mf_ops };
	struct address_space *mapping = ctx->file->f_mapping;
	struct mf_racer *getter, *truncater = NULL;
	pgoff_t nr = ctx->nr;
	/* The hugetlb fault mutex of folio 1, held to line the race up. */
	struct mutex *m;
	bool blocked;
	int gret = 0, tret = 0;

	if (!ctx->h)
		kunit_skip(test,
			   "no fault mutex: shmem checks i_size with the folio locked");

	KUNIT_ASSERT_EQ(test, mf_truncate(ctx, 2 * nr), 0);
	KUNIT_ASSERT_EQ(test, mf_register(&c, ctx->file, MEMFILE_F_ALLOWED_MASK),
			0);

	m = &hugetlb_fault_mutex_table[hugetlb_fault_mutex_hash(mapping, 1)];
	mutex_lock(m);
	getter = mf_race_start(test, mf_getter, "mf-getter", &c.notifier, nr);
	blocked = mf_race_wait_blocked(getter) && !completion_done(&getter->done);
	if (blocked) {
		truncater = mf_race_start(test, mf_truncater, "mf-truncater",
					  &c.notifier, nr);
		/* Done, or waiting for the getter to let go of the file. */
		KUNIT_EXPECT_TRUE(test, mf_race_wait_blocked(truncater));
	}
	mutex_unlock(m);

	KUNIT_ASSERT_TRUE_MSG(test, mf_race_finish(getter, &gret),
			      "get_pfn did not return");
	KUNIT_ASSERT_TRUE_MSG(test, blocked,
			      "get_pfn did not wait on the fault mutex");
	KUNIT_ASSERT_TRUE_MSG(test, mf_race_finish(truncater, &tret),
			      "truncate did not return");
	KUNIT_EXPECT_EQ(test, tret, 0);

	/* Before the truncate: then it took the page away; after: EOF. */
	if (gret) {
		KUNIT_EXPECT_EQ(test, gret, -EINVAL);
	} else {
		KUNIT_EXPECT_EQ(test, c.ninvalidate, 1);
		KUNIT_EXPECT_EQ(test, c.start, nr);
		KUNIT_EXPECT_GE(test, c.end, 2 * nr);
	}
	KUNIT_EXPECT_EQ(test, i_size_read(file_inode(ctx->file)),
			(loff_t)nr << PAGE_SHIFT);
	KUNIT_EXPECT_EQ_MSG(test, mapping->nrpages, 0, "a page past EOF");

	memfile_unregister_notifier(&c.notifier);
	mf_close(ctx);
	mf_expect_pool(test);
}
#endif /* CONFIG_HUGETLBFS */

#ifdef CONFIG_MEMORY_FAILURE
/*
 * A page of folio 1 fails: the consumer is told to drop folio 1, whose page
 * stays in the file poisoned, get_pfn() refuses it from then on, and the
 * file closes cleanly.  Simulated (MF_SW_SIMULATED), so that the page can be
 * unpoisoned once the file is gone and this can run again.
 */
static void mf_test_memory_failure(struct kunit *test)
{
	struct mf_ctx *ctx = test->priv;
	struct mf_consumer c = { .notifier.ops = &mf_ops };
	pgoff_t nr = ctx->nr, bad = nr + nr / 2;
	unsigned long pfn, pfn2;
	struct folio *folio;
	int order, ret;

	mf_setup(test, &c, 2);
	KUNIT_ASSERT_EQ(test, memfile_get_pfn(&c.notifier, bad, &pfn, &order), 0);
	memfile_put_pfn(&c.notifier, pfn);
	folio = pfn_folio(pfn);

	ret = memory_failure(pfn, MF_SW_SIMULATED);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_TRUE(test, folio_test_hwpoison(folio));
	if (ret)
		goto out;

	/* Exactly the folio, invalidate and invalidate_end. */
	mf_expect_one_pair(test, &c, nr, 2 * nr);

	/* The poisoned folio stays in the file, refused at every offset. */
	KUNIT_EXPECT_EQ(test, ctx->file->f_mapping->nrpages, 2 * nr);
	KUNIT_EXPECT_EQ(test, memfile_get_pfn(&c.notifier, bad, &pfn2, &order),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, memfile_get_pfn(&c.notifier, nr, &pfn2, &order),
			-EHWPOISON);
	/* The other folio is fine. */
	ret = memfile_get_pfn(&c.notifier, 0, &pfn2, &order);
	KUNIT_EXPECT_EQ(test, ret, 0);
	if (!ret)
		memfile_put_pfn(&c.notifier, pfn2);
	ret = 0;
out:
	memfile_unregister_notifier(&c.notifier);
	mf_close(ctx);

	/*
	 * Out of the file; memory_failure() keeps the last reference of a
	 * page it recovered.  Unpoison it (the hwpoison flag of a huge page
	 * is on its head), or it stays out of the pool for good.
	 */
	KUNIT_EXPECT_NULL(test, folio->mapping);
	if (!ret)
		KUNIT_EXPECT_EQ(test, folio_ref_count(folio), 1);
	if (folio_test_hwpoison(folio))
		KUNIT_EXPECT_EQ(test, unpoison_memory(folio_pfn(folio)), 0);
	mf_expect_pool(test);
}
#endif /* CONFIG_MEMORY_FAILURE */

static struct kunit_case mf_cases[] = {
	KUNIT_CASE_PARAM(mf_test_flags, mf_store_gen_params),
	KUNIT_CASE_PARAM(mf_test_get_pfn, mf_store_gen_params),
	KUNIT_CASE_PARAM(mf_test_punch, mf_store_gen_params),
	KUNIT_CASE_PARAM(mf_test_truncate, mf_store_gen_params),
	KUNIT_CASE_PARAM(mf_test_register_during_invalidate,
			 mf_store_gen_params),
	KUNIT_CASE_PARAM(mf_test_owner, mf_store_gen_params),
	KUNIT_CASE_PARAM(mf_test_truncate_past_eof, mf_store_gen_params),
#ifdef CONFIG_HUGETLBFS
	KUNIT_CASE_PARAM(mf_test_get_pfn_truncate_race, mf_store_gen_params),
#endif
#ifdef CONFIG_MEMORY_FAILURE
	/* Last: a page it cannot unpoison stays out of the pool. */
	KUNIT_CASE_PARAM(mf_test_memory_failure, mf_store_gen_params),
#endif
	{}
};

static struct kunit_suite mf_suite = {
	.name = "memfile_notifier",
	.init = mf_init,
	.exit = mf_exit,
	.test_cases = mf_cases,
};

kunit_test_suite(mf_suite);

MODULE_DESCRIPTION("KUnit tests of memfile_notifier and its backing stores");
MODULE_LICENSE("GPL");
