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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
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

int main(void)
{
	uint64_t *mem, words, i, bad = 0, seed;
	long total_kb, free_kb, keep_mb;
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
