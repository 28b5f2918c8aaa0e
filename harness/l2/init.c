// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the L2 guest that harness/guest/l2-boot.sh boots under the
 * project's QEMU inside the test VM: write a pattern over (nearly) all of
 * the guest's free memory from user space, verify it, say so on the
 * console, wait for the host side to read KVM's statistics (a line on the
 * console), and reboot (QEMU runs with -no-reboot, so it exits).
 *
 * Console lines start with "L2: ", results with "L2: RESULT ".
 * Kernel command line: l2.keep_mb=N leaves N MiB free (default: a sixteenth
 * of the free memory, at least 64 MiB: the kernel needs room for the page
 * tables, and init cannot be killed when memory runs out).
 *
 * l2.io_mb=N first does disk I/O on /dev/vda (a virtio disk): it says
 * "BOOTED" and waits for a line, writes N MiB of a pattern with O_DIRECT,
 * reads it back and compares, with a checksum of each direction, says "IO
 * VERIFIED" and waits for a line, then unbinds the disk's driver (which
 * frees its rings: a confidential guest converts them back to private)
 * before the memory test.
 *
 * l2.hc_checks=1 then asks the host for conversions a kernel never asks
 * for, through the guest kernel's test hook (debugfs kvm_sw_protected/
 * map_gpa_range), and prints "HC <gpa> <npages> <attributes> ret <value>"
 * for each: the host side checks the values and that QEMU runs on.  Then
 * it converts ranges of 4K, 2M and 1G (their page size in the attributes)
 * to shared and back to private inside a 1G hugetlb page of its own
 * (hugepagesz=1G hugepages=1 on its command line): a range converted to
 * shared must read zeros (nothing of the private side shows through), and
 * what it wrote there must not show in the range converted back; it says
 * "ROUNDTRIP <gpa of the 1G page>" when all went right, and keeps the
 * page, written again, to the end: it must be mapped 1G again.
 * l2.dimm=1 (with memhp_default_state=online_movable) follows the host's
 * DIMM hotplug first: it says "DIMM?", and after each line from the host
 * waits for its memory to grow by a DIMM ("DIMM ONLINE", the host then
 * unplugs it), to shrink back ("DIMM REMOVED", the host plugs another)
 * and to grow again ("DIMM ONLINE"); the memory test then writes the new
 * DIMM too.
 * l2.hc_checks=2 converts only the 1G page, says "SHARED1G" and waits for
 * a line (the host takes the pool's free 1G page meanwhile) before it
 * converts it back and writes it: QEMU must end the VM there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/klog.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("L2: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void end(int ok)
{
	say("RESULT %s", ok ? "ok" : "FAIL");
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			v = atol(line + strlen(key) + 1);
			break;
		}
	fclose(f);
	return v;
}

static long cmdline_long(const char *key, long def)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = open("/proc/cmdline", O_RDONLY);

	if (fd < 0)
		return def;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return def;
	buf[n] = 0;
	p = strstr(buf, key);
	return p ? atol(p + strlen(key)) : def;
}

/* Echo the kernel's log lines that contain @what ("L2: dmesg ..."). */
static void dmesg_grep(const char *what)
{
	static char buf[1 << 20];
	char *line, *save;
	int n = klogctl(3, buf, sizeof(buf) - 1);	/* SYSLOG_ACTION_READ_ALL */

	if (n <= 0)
		return;
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, what))
			say("dmesg %s", line);
}

/* Wait for the host side's line on the console. */
static void wait_host(const char *what)
{
	char line[64];

	say("%s", what);
	if (!fgets(line, sizeof(line), stdin))
		say("no line from the host (EOF), going on");
}

/* The pattern of the disk: every 8-byte word from its index and the seed. */
static uint64_t disk_word(uint64_t i, uint64_t seed)
{
	return (i * 0xff51afd7ed558ccdull + 0x9e3779b97f4a7c15ull) ^ seed;
}

/* FNV-1a over the 8-byte words, a checksum of each direction. */
static uint64_t fnv(uint64_t h, const uint64_t *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= w[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Write io_mb MiB to /dev/vda, read it back; returns 0 when it all matched. */
static int disk_io(long io_mb)
{
	const size_t chunk = 1 << 20, cw = chunk / 8;
	uint64_t seed = (uint64_t)time(NULL) * 0xc2b2ae3d27d4eb4full, *buf;
	uint64_t wsum = 0xcbf29ce484222325ull, rsum = wsum, bad = 0, i, j;
	double t0, t1, t2;
	int fd;

	fd = open("/dev/vda", O_RDWR | O_DIRECT);
	if (fd < 0) {
		say("IO open /dev/vda: %s", strerror(errno));
		return -1;
	}
	if (posix_memalign((void **)&buf, 4096, chunk)) {
		say("IO no buffer");
		return -1;
	}
	t0 = now();
	for (i = 0; i < (uint64_t)io_mb; i++) {
		for (j = 0; j < cw; j++)
			buf[j] = disk_word(i * cw + j, seed);
		wsum = fnv(wsum, buf, cw);
		if (pwrite(fd, buf, chunk, i * chunk) != (ssize_t)chunk) {
			say("IO write at %llu MiB: %s", (unsigned long long)i, strerror(errno));
			return -1;
		}
	}
	if (fsync(fd))
		say("IO fsync: %s", strerror(errno));
	t1 = now();
	for (i = 0; i < (uint64_t)io_mb; i++) {
		memset(buf, 0, chunk);
		if (pread(fd, buf, chunk, i * chunk) != (ssize_t)chunk) {
			say("IO read at %llu MiB: %s", (unsigned long long)i, strerror(errno));
			return -1;
		}
		rsum = fnv(rsum, buf, cw);
		for (j = 0; j < cw; j++)
			if (buf[j] != disk_word(i * cw + j, seed) && bad++ < 5)
				say("IO mismatch at byte %llu",
				    (unsigned long long)((i * cw + j) * 8));
	}
	t2 = now();
	close(fd);
	free(buf);
	say("IO wrote %ld MiB in %.1f s, read back in %.1f s, checksum written %016llx read %016llx, %llu bad words",
	    io_mb, t1 - t0, t2 - t1, (unsigned long long)wsum, (unsigned long long)rsum,
	    (unsigned long long)bad);
	return bad || wsum != rsum ? -1 : 0;
}

/* Unbind the virtio disk's driver: it frees the device's rings. */
static int disk_unbind(void)
{
	const char *drv = "/sys/bus/virtio/drivers/virtio_blk";
	char path[256];
	struct dirent *d;
	int fd, n = 0;
	DIR *dir;

	dir = opendir(drv);
	if (!dir) {
		say("IO %s: %s", drv, strerror(errno));
		return -1;
	}
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, "virtio", 6))
			continue;
		snprintf(path, sizeof(path), "%s/unbind", drv);
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, d->d_name, strlen(d->d_name)) < 0) {
			say("IO unbind %s: %s", d->d_name, strerror(errno));
			closedir(dir);
			return -1;
		}
		close(fd);
		say("IO unbound %s from virtio_blk", d->d_name);
		n++;
	}
	closedir(dir);
	return n ? 0 : -1;
}

/*
 * One KVM_HC_MAP_GPA_RANGE through the test hook; prints its result and
 * returns it (-1000 when the hook could not be used).
 */
static long hc(const char *args)
{
	const char *f = "/sys/kernel/debug/kvm_sw_protected/map_gpa_range";
	char ret[32] = "";
	int fd = open(f, O_RDWR);
	ssize_t n;

	if (fd < 0) {
		say("HC %s: %s: %s", args, f, strerror(errno));
		return -1000;
	}
	if (write(fd, args, strlen(args)) < 0) {
		say("HC %s: write: %s", args, strerror(errno));
		close(fd);
		return -1000;
	}
	n = pread(fd, ret, sizeof(ret) - 1, 0);
	close(fd);
	if (n > 0)
		ret[strcspn(ret, "\n")] = 0;
	say("HC %s ret %s", args, n > 0 ? ret : "?");
	return n > 0 ? atol(ret) : -1000;
}

/* The guest physical address of @p (a page of ours, present), or 0. */
static uint64_t gpa_of(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (uintptr_t)p / 4096 * 8) != 8)
		e = 0;
	close(fd);
	if (!(e >> 63) || !(e & ((1ull << 55) - 1)))
		return 0;
	return (e & ((1ull << 55) - 1)) * 4096;
}

static uint64_t pattern(uint64_t i, uint64_t seed)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ seed;
}

/* What the round trip writes while a range is shared. */
static uint64_t shared_mark(uint64_t i)
{
	return 0x5348415245440000ull ^ i;	/* "SHARED" */
}

/*
 * Convert @len bytes at offset @off of the 1G page @p (guest physical
 * @base) with the page size @sz (0 4K, 1 2M, 2 1G) to shared; the words
 * of every @step-th page are checked to read zero and get the mark.  With
 * @hold, say "SHARED1G" and wait for the host.  Then convert back to
 * private: no checked word may read the mark; the range gets the pattern
 * again.  Returns 0 when it all went right.
 */
static int convert_range(uint64_t *p, uint64_t base, uint64_t off, uint64_t len,
			 int sz, uint64_t step, uint64_t seed, int hold)
{
	uint64_t i, w, first = off / 8, n = len / 8, pw = 4096 / 8;
	char args[64];

	/* The test hook's format: GPA (hex) NPAGES ATTRIBUTES (hex). */
	snprintf(args, sizeof(args), "%llx %llu %x", (unsigned long long)(base + off),
		 (unsigned long long)(len / 4096), sz);
	if (hc(args))
		return -1;
	for (i = 0; i < n; i += pw * step)
		for (w = first + i; w < first + i + pw; w++) {
			if (p[w]) {
				say("ROUNDTRIP FAILED: GPA %llx reads %llx when shared, not 0",
				    (unsigned long long)(base + w * 8), (unsigned long long)p[w]);
				return -1;
			}
			p[w] = shared_mark(w);
		}
	if (hold)
		wait_host("SHARED1G");
	snprintf(args, sizeof(args), "%llx %llu %x", (unsigned long long)(base + off),
		 (unsigned long long)(len / 4096), sz | 0x10);
	if (hc(args))
		return -1;
	for (i = 0; i < n; i += pw * step)
		for (w = first + i; w < first + i + pw; w++)
			if (p[w] == shared_mark(w)) {
				say("ROUNDTRIP FAILED: GPA %llx reads what was written while shared",
				    (unsigned long long)(base + w * 8));
				return -1;
			}
	for (w = first; w < first + n; w++)
		p[w] = pattern(w, seed);
	return 0;
}

/*
 * The round trips of l2.hc_checks in the guest's 1G hugetlb page (see the
 * top), which stays mapped with the pattern; returns it or NULL.
 */
static uint64_t *roundtrip(int mode, uint64_t seed)
{
	const uint64_t g = 1ull << 30, m = 2ull << 20;
	uint64_t *p, base, i, bad = 0;

	p = mmap(NULL, g, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0);
	if (p == MAP_FAILED) {
		say("ROUNDTRIP FAILED: no 1G hugetlb page: %s", strerror(errno));
		return NULL;
	}
	for (i = 0; i < g / 8; i++)
		p[i] = pattern(i, seed);
	base = gpa_of(p);
	if (!base || base % g) {
		say("ROUNDTRIP FAILED: the 1G page is at GPA %llx", (unsigned long long)base);
		return NULL;
	}
	if (mode == 2) {
		/* The VM is meant to end in here. */
		convert_range(p, base, 0, g, 2, 64, seed, 1);
		say("ROUNDTRIP FAILED: the 1G page at %llx was backed again",
		    (unsigned long long)base);
		return NULL;
	}
	/* 4K and 2M ranges inside the page, then all of it. */
	if (convert_range(p, base, 3 * 4096, 4096, 0, 1, seed, 0) ||
	    convert_range(p, base, 5 * m, m, 1, 1, seed, 0) ||
	    convert_range(p, base, 0, g, 2, 64, seed, 0))
		return NULL;
	for (i = 0; i < g / 8; i++)
		if (p[i] != pattern(i, seed) && bad++ < 5)
			say("ROUNDTRIP mismatch at GPA %llx", (unsigned long long)(base + i * 8));
	if (bad)
		return NULL;
	say("ROUNDTRIP %llx", (unsigned long long)base);
	return p;
}

/*
 * Wait up to a minute for MemTotal to reach @kb (@grow) or to fall below
 * it; says @what and returns 0 once it has.
 */
static int wait_memtotal(long kb, int grow, const char *what)
{
	long t;
	int i;

	for (i = 0; i < 600; i++) {
		t = meminfo_kb("MemTotal");
		if (t >= 0 && (grow ? t >= kb : t < kb)) {
			say("%s, MemTotal %ld MiB", what, t / 1024);
			return 0;
		}
		usleep(100000);
	}
	say("DIMM FAILED: MemTotal %ld MiB, waiting for %s", meminfo_kb("MemTotal") / 1024, what);
	return -1;
}

/* l2.dimm=1: the host's DIMM plugged, unplugged, and another plugged. */
static int dimm_replug(void)
{
	/* kB: the DIMM, and less than one 128 MiB memory block. */
	long base = meminfo_kb("MemTotal"), dimm = 1 << 20, slack = 64 << 10;

	wait_host("DIMM?");
	if (wait_memtotal(base + dimm - slack, 1, "DIMM ONLINE"))
		return -1;
	wait_host("DIMM unplug?");
	/* All of its memory blocks offline and removed. */
	if (wait_memtotal(base + slack, 0, "DIMM REMOVED"))
		return -1;
	wait_host("DIMM replug?");
	return wait_memtotal(base + dimm - slack, 1, "DIMM ONLINE");
}

int main(void)
{
	uint64_t *mem, words, i, bad = 0, seed;
	long total_kb, free_kb, keep_mb, io_mb, hc_checks;
	size_t len;
	double t0, t1, t2;
	char line[64];
	int fd;

	mount("dev", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);

	io_mb = cmdline_long("l2.io_mb=", 0);
	if (io_mb > 0) {
		/* Whether the kernel runs as a confidential guest. */
		dmesg_grep("software-protected VM");
		dmesg_grep("Memory Encryption Features");
		wait_host("BOOTED");
		if (disk_io(io_mb)) {
			say("IO FAILED");
			end(0);
		}
		wait_host("IO VERIFIED");
		if (disk_unbind())
			end(0);
	}
	if (cmdline_long("l2.dimm=", 0) == 1 && dimm_replug())
		end(0);
	hc_checks = cmdline_long("l2.hc_checks=", 0);
	if (hc_checks == 1 || hc_checks == 2) {
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
		/* Outside the guest's RAM (1 TiB), to private. */
		hc("10000000000 1 10");
		/* Unaligned. */
		hc("100000800 1 0");
		/* Unknown attribute bit, and an unknown page size. */
		hc("100000000 1 110");
		hc("100000000 1 3");
		/* The last page of the boot RAM and the hole after it, to shared. */
		hc("7fff000 2 0");
		/* The IO-APIC, to shared (MMIO: nothing to do). */
		hc("fec00000 1 0");
		if (!roundtrip(hc_checks, (uint64_t)time(NULL) * 0xbf58476d1ce4e5b9ull))
			end(0);
	}

	total_kb = meminfo_kb("MemTotal");
	free_kb = meminfo_kb("MemFree");
	keep_mb = cmdline_long("l2.keep_mb=", free_kb / 1024 / 16 > 64 ? free_kb / 1024 / 16 : 64);
	say("up %.1f s, MemTotal %ld MiB, MemFree %ld MiB", now(), total_kb / 1024,
	    free_kb / 1024);
	if (free_kb < 0 || free_kb / 1024 <= keep_mb + 16) {
		say("not enough free memory");
		end(0);
	}

	len = (size_t)(free_kb / 1024 - keep_mb) << 20;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		say("mmap of %zu MiB: %s", len >> 20, strerror(errno));
		end(0);
	}
	words = len / sizeof(*mem);
	seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;

	/* Every 8-byte word gets a value of its own index and the seed. */
	t0 = now();
	for (i = 0; i < words; i++)
		mem[i] = (i * 0x9e3779b97f4a7c15ull) ^ seed;
	t1 = now();
	for (i = 0; i < words; i++)
		if (mem[i] != ((i * 0x9e3779b97f4a7c15ull) ^ seed)) {
			if (bad++ < 5)
				say("mismatch at word %llu (offset %llu MiB)",
				    (unsigned long long)i, (unsigned long long)(i * 8 >> 20));
		}
	t2 = now();
	say("wrote %zu MiB in %.1f s, verified in %.1f s, %llu bad words",
	    len >> 20, t1 - t0, t2 - t1, (unsigned long long)bad);
	say("MemFree %ld MiB with the pattern in place", meminfo_kb("MemFree") / 1024);

	/* The host side reads KVM's statistics now, then sends a line. */
	say("VERIFIED");
	if (!fgets(line, sizeof(line), stdin))
		say("no line from the host (EOF), ending anyway");
	end(bad == 0);
	return 0;
}
