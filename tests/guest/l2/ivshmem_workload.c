// SPDX-License-Identifier: GPL-2.0-only
/*
 * ivshmem_workload: runs in the nested (L2) guest that QEMU migrates.
 *
 * Writes rounds of a verifiable pattern into the ivshmem-plain memory BAR
 * and its INTRMASK register, through the BARs (sysfs resource mmaps), and
 * checks every page holds what this guest last wrote there before it
 * overwrites it. Its own bookkeeping lives in guest RAM, which QEMU
 * migrates; the device memory is moved by vfmig. So after a migration the
 * first rounds on the destination compare every page the source wrote with
 * what the source believed it wrote: a device that did not move, or moved
 * wrong, is caught on its first touch.
 *
 * With vfmig.pace_ms=N on the kernel command line, it sleeps N ms after
 * each round: a guest that dirties its device memory at a bounded rate,
 * which a live migration with QEMU's default parameters can converge on
 * (tests/guest/suite-qemu-defaults.sh). With vfmig.steady=1 as well, that
 * pause is spread over the round instead (a writer at an even rate, for
 * tests/guest/suite-bench-downtime.sh). With vfmig.ram=N (MiB) it writes
 * N MiB of its own RAM instead, in a guest with no device: the same
 * writer at the same rate, as a baseline for the benchmark (what QEMU's
 * migration does with that dirtying when it is all guest RAM).
 *
 * Console lines (read by tests/guest/suite-qemu.sh and the other nested
 * suites; ms= by tests/guest/suite-bench-downtime.sh):
 *	VFMIG-L2-CHECK round=R pages=N ok ms=T	a round checked and rewritten,
 *						T ms after the previous line
 *	VFMIG-L2-CHECK round=R pages=N BAD ms=T	...and something was wrong
 *	VFMIG-L2-BAD round=R page=P ...		what (the first few per round)
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#define PAGE		4096
#define WORDS		(PAGE / 8)
#define MAGIC		0x564d4947504147ull	/* "GAPGIMV" */
#define INTRMASK	0
/*
 * Sleep a little every this many pages. The loop makes no VM exit of its
 * own, and under QEMU's TCG a nested guest that never exits can starve its
 * host: the test VM's timer interrupt stayed pending (IRR 236, nothing in
 * service, the vCPU in this loop at CPL 3) until the run was killed. A
 * short sleep halts the vCPU, which exits to the L1 kernel.
 */
#define YIELD_PAGES	256

static uint64_t word(uint64_t round, uint64_t page, uint64_t i)
{
	uint64_t x = (round << 40) ^ (page << 16) ^ i ^ MAGIC;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 32);
}

static void fill(uint64_t *p, uint64_t round, uint64_t page)
{
	uint64_t i;

	p[0] = MAGIC;
	p[1] = round;
	p[2] = page;
	for (i = 3; i < WORDS; i++)
		p[i] = word(round, page, i);
}

/* Index of the first word that differs from what round @round wrote. */
static int check(const volatile uint64_t *p, uint64_t round, uint64_t page)
{
	uint64_t i;

	if (p[0] != MAGIC || p[1] != round || p[2] != page)
		return 0;
	for (i = 3; i < WORDS; i++)
		if (p[i] != word(round, page, i))
			return i;
	return -1;
}

static void report_bad(uint64_t round, size_t page, int word,
		       const uint64_t *p)
{
	printf("VFMIG-L2-BAD round=%llu page=%zu word=%d holds %llx/%llu/%llu\n",
	       (unsigned long long)round, page, word,
	       (unsigned long long)p[0], (unsigned long long)p[1],
	       (unsigned long long)p[2]);
}

static int find_device(char *dir, size_t len)
{
	char path[512], id[16];
	struct dirent *de;
	DIR *d = opendir("/sys/bus/pci/devices");
	FILE *f;
	int found = 0;

	while (d && !found && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		found = fgets(id, sizeof(id), f) && !strncmp(id, "0x1af4", 6);
		fclose(f);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
			 de->d_name);
		f = found ? fopen(path, "r") : NULL;
		found = f && fgets(id, sizeof(id), f) && !strncmp(id, "0x1110", 6);
		if (f)
			fclose(f);
		if (found)
			snprintf(dir, len, "/sys/bus/pci/devices/%s", de->d_name);
	}
	if (d)
		closedir(d);
	return found ? 0 : -1;
}

static void *map_bar(const char *dir, int bar, size_t *size)
{
	char path[600];
	struct stat st;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/resource%d", dir, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st))
		return NULL;
	*size = st.st_size;
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

#define PACE_ARG	"vfmig.pace_ms="
#define STEADY_ARG	"vfmig.steady="
#define RAM_ARG		"vfmig.ram="

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ARG's N from the kernel command line ("ARGN"), or 0. */
static unsigned int cmdline_uint(const char *arg)
{
	char line[1024], *p;
	unsigned int n = 0;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f)) {
		p = strstr(line, arg);
		if (p)
			n = strtoul(p + strlen(arg), NULL, 10);
	}
	fclose(f);
	return n;
}

int main(void)
{
	unsigned int pace = cmdline_uint(PACE_ARG);
	int steady = cmdline_uint(STEADY_ARG) == 1;
	unsigned int ram_mib = cmdline_uint(RAM_ARG);
	static uint32_t ram_regs[64];
	size_t mem_size, regs_size, pages, page;
	useconds_t yield_us = 50;
	double t, t_last;
	volatile uint32_t *regs;
	uint64_t round, *mem;
	char dir[300], path[400];
	int bad, fd, nbad;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ram_mib) {
		/* The RAM baseline: the same rounds over guest RAM. */
		mem_size = (size_t)ram_mib << 20;
		mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (mem == MAP_FAILED) {
			printf("VFMIG-L2-BAD cannot map %u MiB of RAM\n", ram_mib);
			return 1;
		}
		regs = ram_regs;
		snprintf(dir, sizeof(dir), "ram");
		goto mapped;
	}
	if (find_device(dir, sizeof(dir))) {
		printf("VFMIG-L2-BAD no ivshmem function\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/enable", dir);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1)
		printf("VFMIG-L2-WARN cannot enable %s\n", dir);
	if (fd >= 0)
		close(fd);
	mem = map_bar(dir, 2, &mem_size);
	regs = map_bar(dir, 0, &regs_size);
	if (!mem || !regs) {
		printf("VFMIG-L2-BAD cannot map the BARs of %s\n", dir);
		return 1;
	}
mapped:
	pages = mem_size / PAGE;
	/*
	 * Steady: the round's pause is spread over its chunks of YIELD_PAGES
	 * pages, so the device memory is dirtied at an even rate instead of
	 * in one burst per round, and where a migration's switchover falls in
	 * the round does not change how much is dirty at that moment.
	 */
	if (pages < YIELD_PAGES)
		steady = 0;	/* no chunk to pause after: burst */
	if (steady && pace)
		yield_us = (useconds_t)pace * 1000 / (pages / YIELD_PAGES);
	if (yield_us < 50)
		yield_us = 50;
	printf("VFMIG-L2-WORKLOAD %s pages=%zu pace_ms=%u %s\n", dir, pages,
	       pace, steady ? "steady" : "burst");

	/* ms= is the period, pauses included: BAR size / period = dirty rate. */
	t_last = now_ms();
	for (round = 1;; round++) {
		nbad = 0;
		for (page = 0; page < pages; page++) {
			uint64_t *p = mem + page * WORDS;

			bad = round > 1 ? check(p, round - 1, page) : -1;
			if (bad >= 0 && nbad++ < 4)
				report_bad(round, page, bad, p);
			fill(p, round, page);
			if (page % YIELD_PAGES == YIELD_PAGES - 1)
				usleep(yield_us);
		}
		if (round > 1 && regs[INTRMASK] != (uint32_t)(round - 1) &&
		    ++nbad)
			printf("VFMIG-L2-BAD round=%llu INTRMASK=%u expected %u\n",
			       (unsigned long long)round, regs[INTRMASK],
			       (uint32_t)(round - 1));
		regs[INTRMASK] = (uint32_t)round;
		t = now_ms();
		printf("VFMIG-L2-CHECK round=%llu pages=%zu %s ms=%.0f\n",
		       (unsigned long long)round, pages, nbad ? "BAD" : "ok",
		       t - t_last);
		t_last = t;
		if (pace && !steady)
			usleep(pace * 1000);
	}
	return 0;
}
