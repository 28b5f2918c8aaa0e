// SPDX-License-Identifier: GPL-2.0
/*
 * memfd_create(MFD_INACCESSIBLE) and F_SEAL_AUTO_ALLOCATE.
 *
 * An inaccessible memfd can be sized and fallocate()d by host userspace and
 * nothing else: every path to its contents fails with EPERM.  The tests run
 * for every backing store (shmem, hugetlb 2M and 1G); a hugetlb variant whose
 * pool is too small prints SKIP with the reason.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <linux/udmabuf.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC		0x0020
#endif
#ifndef F_SEAL_AUTO_ALLOCATE
#define F_SEAL_AUTO_ALLOCATE	0x0040
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif

/* The uAPI values, after MFD_NOEXEC_SEAL/MFD_EXEC and F_SEAL_EXEC. */
static_assert(MFD_INACCESSIBLE == 0x0020U, "MFD_INACCESSIBLE value");

static int sys_memfd_create(const char *name, unsigned int flags)
{
	return syscall(__NR_memfd_create, name, flags);
}

/* Free pages of the given huge page size, from sysfs. */
struct pool {
	long free;
	long resv;
};

static long pool_read(size_t size, const char *what)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%zukB/%s",
		 size >> 10, what);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

static struct pool pool_get(size_t size)
{
	struct pool p = {
		.free = pool_read(size, "free_hugepages"),
		.resv = pool_read(size, "resv_hugepages"),
	};

	return p;
}

/* The pool must be @p0 moved by @dfree free and @dresv reserved pages. */
#define EXPECT_POOL(p0, dfree, dresv) do {				\
	struct pool __p = pool_get(self->pgsz), __p0 = (p0);		\
	EXPECT_EQ(__p0.free + (dfree), __p.free);			\
	EXPECT_EQ(__p0.resv + (dresv), __p.resv);			\
} while (0)

static off_t file_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	return st.st_size;
}

static long file_blocks(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	return st.st_blocks;
}

FIXTURE(memfd) {
	/* The memfd's page size: the unit of sizes and offsets. */
	size_t pgsz;
	/* MFD_* flags selecting the backing store. */
	unsigned int store;
};

FIXTURE_VARIANT(memfd) {
	unsigned int store;
	size_t pgsz;
	/* Huge pages the tests of this variant need from the pool. */
	long pages;
};

FIXTURE_VARIANT_ADD(memfd, shmem) {
	.store = 0,
	.pgsz = 4096,
};

FIXTURE_VARIANT_ADD(memfd, hugetlb_2M) {
	.store = MFD_HUGETLB | MFD_HUGE_2MB,
	.pgsz = 2UL << 20,
	.pages = 4,
};

FIXTURE_VARIANT_ADD(memfd, hugetlb_1G) {
	.store = MFD_HUGETLB | MFD_HUGE_1GB,
	.pgsz = 1UL << 30,
	.pages = 2,
};

FIXTURE_SETUP(memfd)
{
	long free;

	self->pgsz = variant->pgsz;
	self->store = variant->store;
	if (!variant->pages)
		return;
	free = pool_read(variant->pgsz, "free_hugepages");
	if (free < variant->pages)
		SKIP(return, "needs %ld free %zuM huge pages, the pool has %ld",
		     variant->pages, variant->pgsz >> 20, free);
}

FIXTURE_TEARDOWN(memfd)
{
}

static int inaccessible_memfd(struct __test_metadata *_metadata,
			      unsigned int store)
{
	int fd = sys_memfd_create("inaccessible", MFD_INACCESSIBLE | store);

	ASSERT_GE(fd, 0) TH_LOG("memfd_create(MFD_INACCESSIBLE): %s",
				strerror(errno));
	return fd;
}

TEST_F(memfd, flags)
{
	unsigned int store = self->store;
	int fd;

	/* Nothing to seal, nothing to execute. */
	EXPECT_EQ(-1, sys_memfd_create("x", MFD_INACCESSIBLE | MFD_ALLOW_SEALING | store));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sys_memfd_create("x", MFD_INACCESSIBLE | MFD_EXEC | store));
	EXPECT_EQ(EINVAL, errno);
	/* Unknown flags still fail. */
	EXPECT_EQ(-1, sys_memfd_create("x", MFD_INACCESSIBLE | 0x0040U | store));
	EXPECT_EQ(EINVAL, errno);

	/* MFD_NOEXEC_SEAL is implied, and accepted. */
	fd = sys_memfd_create("x", MFD_INACCESSIBLE | MFD_NOEXEC_SEAL | store);
	ASSERT_GE(fd, 0);
	close(fd);

	fd = inaccessible_memfd(_metadata, self->store);
	/* Sealed against further seals, and not executable. */
	EXPECT_EQ(F_SEAL_SEAL | F_SEAL_EXEC, fcntl(fd, F_GET_SEALS));
	EXPECT_EQ(-1, fcntl(fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, fchmod(fd, 0755));
	EXPECT_EQ(EPERM, errno);
	close(fd);
}

/* vm.memfd_noexec=2 (in a pid namespace of its own) requires NOEXEC_SEAL. */
TEST_F(memfd, noexec_sysctl)
{
	int status, fd, sysctl;
	pid_t pid;

	if (unshare(CLONE_NEWPID))
		SKIP(return, "unshare(CLONE_NEWPID): %s", strerror(errno));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* First process of the new namespace. */
		sysctl = open("/proc/sys/vm/memfd_noexec", O_WRONLY);
		if (sysctl < 0 || write(sysctl, "2", 1) != 1)
			_exit(2);
		close(sysctl);
		/* Executable memfds are refused now... */
		if (sys_memfd_create("x", MFD_EXEC | self->store) >= 0 ||
		    errno != EACCES)
			_exit(3);
		/* ...inaccessible ones are not. */
		fd = sys_memfd_create("x", MFD_INACCESSIBLE | self->store);
		_exit(fd >= 0 ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	status = WEXITSTATUS(status);
	EXPECT_EQ(0, status) TH_LOG("child step %d failed", status);
}

TEST_F(memfd, no_access)
{
	size_t pgsz = self->pgsz;
	int fd, other, pipefd[2];
	char path[64], *buf;
	loff_t off = 0, off2;
	struct stat st;
	void *p;

	buf = calloc(1, 4096);
	ASSERT_NE(NULL, buf);
	fd = inaccessible_memfd(_metadata, self->store);
	ASSERT_EQ(0, ftruncate(fd, 2 * pgsz));
	ASSERT_EQ(0, fallocate(fd, 0, 0, pgsz));

	EXPECT_EQ(-1, read(fd, buf, 4096));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, write(fd, buf, 4096));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, pread(fd, buf, 4096, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, pwrite(fd, buf, 4096, 0));
	EXPECT_EQ(EPERM, errno);

	p = mmap(NULL, pgsz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, pgsz, PROT_READ, MAP_PRIVATE, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);

	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, splice(fd, &off, pipefd[1], NULL, 4096, 0));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(4096, write(pipefd[1], buf, 4096));
	off = 0;
	EXPECT_EQ(-1, splice(pipefd[0], NULL, fd, &off, 4096, 0));
	EXPECT_EQ(EPERM, errno);

	/* sendfile() may cross file systems: a plain shmem memfd. */
	other = sys_memfd_create("other", 0);
	ASSERT_GE(other, 0);
	ASSERT_EQ(0, ftruncate(other, 2 * 4096));
	off = 0;
	EXPECT_EQ(-1, sendfile(other, fd, &off, 4096));
	EXPECT_EQ(EPERM, errno);
	if (!self->store) {
		EXPECT_EQ(-1, copy_file_range(fd, NULL, other, NULL, 4096, 0));
		EXPECT_EQ(EPERM, errno);
		EXPECT_EQ(-1, copy_file_range(other, NULL, fd, NULL, 4096, 0));
		EXPECT_EQ(EPERM, errno);
	}
	/* copy_file_range() within the file (the same file system). */
	off = 0;
	off2 = pgsz;
	EXPECT_EQ(-1, copy_file_range(fd, &off, fd, &off2, 4096, 0));
	EXPECT_EQ(EPERM, errno);

	/* A reopen through /proc is no way around it. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	EXPECT_EQ(-1, open(path, O_RDWR));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, open(path, O_RDONLY));
	EXPECT_EQ(EPERM, errno);

	/* What still works. */
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(2 * pgsz, st.st_size);
	EXPECT_EQ(0, st.st_mode & 0111);

	close(pipefd[0]);
	close(pipefd[1]);
	close(other);
	close(fd);
	free(buf);
}

TEST_F(memfd, size_and_fallocate)
{
	size_t pgsz = self->pgsz;
	long per_page = pgsz / 512;
	int fd;

	fd = inaccessible_memfd(_metadata, self->store);

	/* Sizes are multiples of the page size. */
	EXPECT_EQ(-1, ftruncate(fd, pgsz + 512));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ftruncate(fd, 2 * pgsz));

	/* Demand allocation: sizing allocates nothing. */
	EXPECT_EQ(0, file_blocks(fd));
	ASSERT_EQ(0, fallocate(fd, 0, 0, 2 * pgsz));
	EXPECT_EQ(2 * per_page, file_blocks(fd));

	/* Punch one page, refill it. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       pgsz, pgsz));
	EXPECT_EQ(per_page, file_blocks(fd));
	ASSERT_EQ(0, fallocate(fd, 0, pgsz, pgsz));
	EXPECT_EQ(2 * per_page, file_blocks(fd));

	/* Shrinking frees, growing allocates nothing. */
	ASSERT_EQ(0, ftruncate(fd, pgsz));
	EXPECT_EQ(per_page, file_blocks(fd));
	ASSERT_EQ(0, ftruncate(fd, 2 * pgsz));
	EXPECT_EQ(per_page, file_blocks(fd));
	ASSERT_EQ(0, ftruncate(fd, 0));
	EXPECT_EQ(0, file_blocks(fd));
	close(fd);
}

static sigjmp_buf sigbus_jmp;

static void sigbus_handler(int sig)
{
	siglongjmp(sigbus_jmp, 1);
}

/* Touch a byte of a mapping; false if that raised SIGBUS. */
static bool touch(char *p)
{
	struct sigaction sa = { .sa_handler = sigbus_handler }, old;
	bool ok = true;

	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(sigbus_jmp, 1))
		__atomic_store_n(p, 1, __ATOMIC_RELAXED);
	else
		ok = false;
	sigaction(SIGBUS, &old, NULL);
	return ok;
}

/*
 * F_SEAL_AUTO_ALLOCATE on an ordinary (shared-side) memfd: writes and faults
 * into holes fail, pages that exist stay writable, fallocate() still fills.
 * Two pages, so that the 1G variant fits a pool of two.
 */
TEST_F(memfd, seal_auto_allocate)
{
	size_t pgsz = self->pgsz;
	long per_page = pgsz / 512;
	char *p, buf[64] = "data";
	int fd;

	fd = sys_memfd_create("shared", MFD_ALLOW_SEALING | self->store);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, 2 * pgsz));
	/* No hugetlb reservation for the mapping: only what is touched. */
	p = mmap(NULL, 2 * pgsz, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE, fd, 0);
	ASSERT_NE(MAP_FAILED, p);

	/* Page 0 by a fault; page 1 is a hole. */
	ASSERT_TRUE(touch(p));
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE));
	EXPECT_EQ(F_SEAL_AUTO_ALLOCATE,
		  fcntl(fd, F_GET_SEALS) & F_SEAL_AUTO_ALLOCATE);
	EXPECT_EQ(per_page, file_blocks(fd));

	EXPECT_TRUE(touch(p + 1));
	EXPECT_FALSE(touch(p + pgsz));
	if (!self->store) {
		/* shmem also has write(); hugetlbfs has not. */
		EXPECT_EQ(sizeof(buf), pwrite(fd, buf, sizeof(buf), 0));
		EXPECT_EQ(-1, pwrite(fd, buf, sizeof(buf), pgsz));
		EXPECT_EQ(EPERM, errno);
		/* Reading a hole reads zeros and allocates nothing. */
		EXPECT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), pgsz));
		EXPECT_EQ(0, buf[0]);
	}
	EXPECT_EQ(per_page, file_blocks(fd));

	/* fallocate() is the one way to fill a hole now. */
	ASSERT_EQ(0, fallocate(fd, 0, pgsz, pgsz));
	EXPECT_TRUE(touch(p + pgsz));
	EXPECT_EQ(2 * per_page, file_blocks(fd));

	munmap(p, 2 * pgsz);
	close(fd);
}

/*
 * A memfd of @size sealed with F_SEAL_AUTO_ALLOCATE (and @seals), all holes,
 * and a shared mapping of it; with @reserve, the mapping reserves its hugetlb
 * pages (so that memfd_pin_folios() has a reservation to take).
 */
static int sealed_memfd(struct __test_metadata *_metadata, unsigned int store,
			size_t size, unsigned int seals, bool reserve,
			char **map)
{
	int fd = sys_memfd_create("sealed", MFD_ALLOW_SEALING | store);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, size));
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE | seals));
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | (reserve ? 0 : MAP_NORESERVE), fd, 0);
	ASSERT_NE(MAP_FAILED, *map);
	return fd;
}

/*
 * A userfaultfd that reports missing faults on this store, or -1 with
 * @why set: the caller skips.
 */
static int uffd_open(unsigned int store, char *why, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	__u64 need = store ? UFFD_FEATURE_MISSING_HUGETLBFS :
			     UFFD_FEATURE_MISSING_SHMEM;
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0) {
		snprintf(why, len, "userfaultfd(): %s", strerror(errno));
		return -1;
	}
	if (ioctl(uffd, UFFDIO_API, &api) || !(api.features & need)) {
		snprintf(why, len, "userfaultfd without missing faults on %s",
			 store ? "hugetlbfs" : "shmem");
		close(uffd);
		return -1;
	}
	return uffd;
}

static void uffd_register(struct __test_metadata *_metadata, int uffd,
			  void *p, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg))
		TH_LOG("UFFDIO_REGISTER: %s", strerror(errno));
}

/*
 * UFFDIO_COPY and UFFDIO_ZEROPAGE into a hole of a shared mapping of a sealed
 * file fail with EPERM, like write(), and allocate nothing; onto a page that
 * is there they fail with EEXIST as ever.  A private mapping's copy is the
 * process's own page, not the file's: that still works.
 */
TEST_F(memfd, seal_auto_allocate_uffd_copy)
{
	size_t pgsz = self->pgsz;
	long per_page = pgsz / 512;
	struct uffdio_copy copy;
	struct uffdio_zeropage zero;
	char why[128], *p, *src;
	struct pool p0;
	int fd, uffd;

	uffd = uffd_open(self->store, why, sizeof(why));
	if (uffd < 0)
		SKIP(return, "%s", why);
	p0 = pool_get(pgsz);
	fd = sealed_memfd(_metadata, self->store, 2 * pgsz, 0, false, &p);
	uffd_register(_metadata, uffd, p, 2 * pgsz);
	src = mmap(NULL, pgsz, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memcpy(src, "data", sizeof("data"));

	copy = (struct uffdio_copy) {
		.dst = (unsigned long)p, .src = (unsigned long)src, .len = pgsz,
	};
	EXPECT_EQ(-1, ioctl(uffd, UFFDIO_COPY, &copy));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-EPERM, copy.copy);
	if (!self->store) {
		/* hugetlbfs has no UFFDIO_ZEROPAGE. */
		zero = (struct uffdio_zeropage) {
			.range = { .start = (unsigned long)p + pgsz, .len = pgsz },
		};
		EXPECT_EQ(-1, ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
		EXPECT_EQ(EPERM, errno);
		EXPECT_EQ(-EPERM, zero.zeropage);
	}
	EXPECT_EQ(0, file_blocks(fd));
	EXPECT_POOL(p0, 0, 0);

	/* fallocate() fills the hole; copying onto a page is EEXIST. */
	ASSERT_EQ(0, fallocate(fd, 0, 0, pgsz));
	copy.copy = 0;
	EXPECT_EQ(-1, ioctl(uffd, UFFDIO_COPY, &copy));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(per_page, file_blocks(fd));
	if (self->store)
		EXPECT_POOL(p0, -1, 0);
	munmap(p, 2 * pgsz);

	/* Copying 1G under emulation is slow: the private case up to 2M. */
	if (pgsz <= (2UL << 20)) {
		p = mmap(NULL, 2 * pgsz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_NORESERVE, fd, 0);
		ASSERT_NE(MAP_FAILED, p);
		uffd_register(_metadata, uffd, p, 2 * pgsz);
		copy = (struct uffdio_copy) {
			.dst = (unsigned long)p + pgsz,
			.src = (unsigned long)src, .len = pgsz,
		};
		EXPECT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy))
			TH_LOG("UFFDIO_COPY, private: %s", strerror(errno));
		EXPECT_EQ(pgsz, copy.copy);
		EXPECT_EQ(0, strcmp(p + pgsz, "data"));
		/* The file is as it was. */
		EXPECT_EQ(per_page, file_blocks(fd));
		munmap(p, 2 * pgsz);
	}

	munmap(src, pgsz);
	close(uffd);
	close(fd);
}

struct uffd_handler {
	int uffd, fd, stop;
	char *base;
	size_t pgsz;
	int faults;
	unsigned long addr;
	int err;
};

/*
 * The handler of a sealed file's missing faults: fallocate() the page, then
 * wake the faulting thread.  On an error it closes the userfaultfd, which
 * lets the fault go on (and raise SIGBUS), so that nothing hangs.
 */
static void *uffd_handler(void *arg)
{
	struct uffd_handler *h = arg;
	struct pollfd pfd[2] = {
		{ .fd = h->uffd, .events = POLLIN },
		{ .fd = h->stop, .events = POLLIN },
	};
	struct uffdio_range range;
	struct uffd_msg msg;
	off_t off;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			h->err = errno;
			break;
		}
		if (pfd[1].revents)
			return NULL;
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EAGAIN)
				continue;
			h->err = errno;
			break;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT) {
			h->err = EINVAL;
			break;
		}
		h->faults++;
		h->addr = msg.arg.pagefault.address;
		off = (h->addr - (unsigned long)h->base) & ~(h->pgsz - 1);
		if (fallocate(h->fd, 0, off, h->pgsz)) {
			h->err = errno;
			break;
		}
		range.start = (unsigned long)h->base + off;
		range.len = h->pgsz;
		if (ioctl(h->uffd, UFFDIO_WAKE, &range)) {
			h->err = errno;
			break;
		}
	}
	close(h->uffd);
	h->uffd = -1;
	return NULL;
}

/*
 * A fault on a hole of a sealed file in a range registered for missing
 * faults goes to the userfaultfd, as without the seal, not SIGBUS: the
 * handler fills the hole with fallocate() and wakes the fault.
 */
TEST_F(memfd, seal_auto_allocate_uffd_fault)
{
	size_t pgsz = self->pgsz;
	long per_page = pgsz / 512;
	struct uffd_handler h = { .pgsz = pgsz };
	int fd, stop[2];
	pthread_t thread;
	char why[128];
	bool ok;

	h.uffd = uffd_open(self->store, why, sizeof(why));
	if (h.uffd < 0)
		SKIP(return, "%s", why);
	fd = sealed_memfd(_metadata, self->store, 2 * pgsz, 0, false,
			  &h.base);
	h.fd = fd;
	uffd_register(_metadata, h.uffd, h.base, 2 * pgsz);
	ASSERT_EQ(0, pipe(stop));
	h.stop = stop[0];
	ASSERT_EQ(0, pthread_create(&thread, NULL, uffd_handler, &h));

	ok = touch(h.base + pgsz + 1);

	ASSERT_EQ(1, write(stop[1], "", 1));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_TRUE(ok) TH_LOG("the fault raised SIGBUS");
	EXPECT_EQ(0, h.err) TH_LOG("handler: %s", strerror(h.err));
	EXPECT_EQ(1, h.faults);
	EXPECT_EQ((unsigned long)h.base + pgsz, h.addr & ~(pgsz - 1));
	/* Page 1 filled by the handler, page 0 still a hole. */
	EXPECT_EQ(per_page, file_blocks(fd));
	if (ok)
		EXPECT_EQ(1, h.base[pgsz + 1]);

	if (h.uffd >= 0)
		close(h.uffd);
	close(stop[0]);
	close(stop[1]);
	munmap(h.base, 2 * pgsz);
	close(fd);
}

/*
 * memfd_pin_folios() (here through udmabuf) does not fill holes of a sealed
 * file either: EPERM, nothing allocated; it pins what fallocate() put there.
 */
TEST_F(memfd, seal_auto_allocate_pin)
{
	size_t pgsz = self->pgsz;
	long per_page = pgsz / 512;
	struct udmabuf_create create;
	struct pool p0;
	int dev, fd, buf;
	char *p;

	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		SKIP(return, "/dev/udmabuf: %s (CONFIG_UDMABUF)",
		     strerror(errno));
	p0 = pool_get(pgsz);
	/* udmabuf wants F_SEAL_SHRINK; a reservation for hugetlb's sake. */
	fd = sealed_memfd(_metadata, self->store, 2 * pgsz, F_SEAL_SHRINK,
			  true, &p);
	p0.resv += self->store ? 2 : 0;
	EXPECT_POOL(p0, 0, 0);

	create = (struct udmabuf_create) {
		.memfd = fd, .flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = 0, .size = 4096,
	};
	buf = ioctl(dev, UDMABUF_CREATE, &create);
	EXPECT_EQ(-1, buf);
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, file_blocks(fd));
	EXPECT_POOL(p0, 0, 0);
	if (buf >= 0)
		close(buf);

	ASSERT_EQ(0, fallocate(fd, 0, 0, pgsz));
	buf = ioctl(dev, UDMABUF_CREATE, &create);
	EXPECT_LE(0, buf) TH_LOG("UDMABUF_CREATE: %s", strerror(errno));
	EXPECT_EQ(per_page, file_blocks(fd));
	if (buf >= 0)
		close(buf);

	munmap(p, 2 * pgsz);
	close(fd);
	close(dev);
}

/*
 * MADV_COLLAPSE of a shmem memfd with one page of 512 in a PMD-aligned
 * shared mapping: 0 or -errno.  The file is left as the collapse left it.
 */
static int collapse(struct __test_metadata *_metadata, int fd)
{
	size_t huge = 2UL << 20;
	char *area, *p;
	int ret = 0;

	area = mmap(NULL, 2 * huge, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return -errno;
	p = (char *)(((unsigned long)area + huge - 1) & ~(huge - 1));
	p = mmap(p, huge, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	if (p == MAP_FAILED)
		ret = -errno;
	else if (madvise(p, huge, MADV_COLLAPSE))
		ret = -errno;
	munmap(area, 2 * huge);
	return ret;
}

/*
 * MADV_COLLAPSE (and khugepaged) would fill the holes around a shmem page
 * with the rest of a huge page: not in a sealed file, where the collapse
 * fails with EINVAL and allocates nothing.  An unsealed file collapses (or
 * the test skips: no THP for shmem here).
 */
TEST_F(memfd, seal_auto_allocate_collapse)
{
	size_t huge = 2UL << 20;
	int fd, ret;

	if (self->store)
		SKIP(return, "hugetlbfs pages are huge already");

	fd = sys_memfd_create("unsealed", MFD_ALLOW_SEALING);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, huge));
	ASSERT_EQ(0, fallocate(fd, 0, 0, 4096));
	ret = collapse(_metadata, fd);
	close(fd);
	if (ret)
		SKIP(return, "MADV_COLLAPSE of shmem: %s", strerror(-ret));

	fd = sys_memfd_create("sealed", MFD_ALLOW_SEALING);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, huge));
	ASSERT_EQ(0, fallocate(fd, 0, 0, 4096));
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE));
	EXPECT_EQ(-EINVAL, collapse(_metadata, fd));
	EXPECT_EQ(8, file_blocks(fd));
	close(fd);
}

/*
 * HugePages_Free/Rsvd of the size, exactly, through the life of an
 * inaccessible hugetlb memfd: sizing reserves, allocation consumes, punch,
 * truncate and close give back; a size the pool cannot cover is ENOMEM and
 * changes nothing.
 */
TEST_F(memfd, hugetlb_counters)
{
	size_t pgsz = self->pgsz;
	struct pool p0;
	int fd;

	if (!self->store)
		SKIP(return, "hugetlb accounting: shmem has no pool");
	p0 = pool_get(pgsz);
	ASSERT_GE(p0.free - p0.resv, 2);

	fd = inaccessible_memfd(_metadata, self->store);
	EXPECT_POOL(p0, 0, 0);

	/* Sizing reserves, allocates nothing. */
	ASSERT_EQ(0, ftruncate(fd, 2 * pgsz));
	EXPECT_POOL(p0, 0, 2);

	/* Allocation consumes a reservation. */
	ASSERT_EQ(0, fallocate(fd, 0, 0, pgsz));
	EXPECT_POOL(p0, -1, 1);

	/* A punched page goes back to the pool, with its reservation. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, pgsz));
	EXPECT_POOL(p0, 0, 1);

	/* Allocate both, then shrink: page and reservation of page 1 back. */
	ASSERT_EQ(0, fallocate(fd, 0, 0, 2 * pgsz));
	EXPECT_POOL(p0, -2, 0);
	ASSERT_EQ(0, ftruncate(fd, pgsz));
	EXPECT_POOL(p0, -1, 0);

	/* More than the pool can cover: ENOMEM, nothing changes. */
	EXPECT_EQ(-1, ftruncate(fd, (p0.free - p0.resv + 2) * pgsz));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_POOL(p0, -1, 0);
	EXPECT_EQ(pgsz, file_size(fd));

	/* Close gives everything back. */
	close(fd);
	EXPECT_POOL(p0, 0, 0);
}

TEST_HARNESS_MAIN
