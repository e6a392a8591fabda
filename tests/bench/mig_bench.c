// SPDX-License-Identifier: GPL-2.0-only
/*
 * mig_bench: device-level figures of vfmig's migration data path, run in
 * the test VM on two ivshmem-plain functions bound to vfmig (A the source,
 * B the destination). Prints figures, each as a ratio against a baseline
 * measured in the same run, never a pass or a fail:
 *
 *   throughput	the data fd's read (save) and write (load) of the whole BAR
 *		against a plain memcpy from and to the same BAR mapping
 *   stop_copy	STOP_COPY bytes and time after 0%, 1%, 10% and 100% of the
 *		BAR's pages were written during PRE_COPY, against the bound
 *		dirty pages x (4 KiB + 32) + 88
 *   writer	a guest-like writer's page writes per second through the
 *		mapping while PRE_COPY rounds run, against the same writer
 *		with the device RUNNING (no tracking)
 *   memory	the kernel memory the driver holds for a saving file (its
 *		debugfs status, held_bytes) against the BAR's size
 *
 * Usage: mig_bench BDF_A BDF_B [REPEATS]
 * Exits non-zero only when it could not measure (a device would not open,
 * a state change failed): the figures themselves judge nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/if_alg.h>
#include <linux/vfio.h>

#include "../../tools/lib/vfio_open.h"
#include "../../tools/lib/vfio_mig.h"

#define PAGE		4096
#define REC		32	/* sizeof(struct vfmig_record) */
#define TAIL		88	/* REGS (ivshmem: 8 bytes) and END records */
#define IO_CHUNK	(1 << 20)

struct dev {
	const char *bdf;
	struct vfio_handle h;
	uint64_t bar2;
	uint64_t size;
	uint8_t *map;
};

static int repeats = 5;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "mig_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(2);
}

static void dev_open(struct dev *d, const char *bdf)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri),
				       .index = VFIO_PCI_BAR2_REGION_INDEX };
	char err[256];

	d->bdf = bdf;
	if (vfio_open_device(bdf, &d->h, err, sizeof(err))) {
		fprintf(stderr, "mig_bench: %s: %s\n", bdf, err);
		exit(2);
	}
	if (ioctl(d->h.device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("BAR2 region info", errno);
	d->bar2 = ri.offset;
	d->size = ri.size;
	d->map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->h.device, d->bar2);
	if (d->map == MAP_FAILED)
		die("mmap BAR2", errno);
}

static void set(struct dev *d, uint32_t s, int *fd)
{
	int ret = vfmig_set_state(d->h.device, s, fd);

	if (ret) {
		fprintf(stderr, "mig_bench: %s -> %s: %s\n", d->bdf,
			vfmig_state_name(s), strerror(-ret));
		exit(2);
	}
}

/* The median of @n figures (sorted in place). */
static double median(double *v, int n)
{
	int i, j;
	double t;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Read a data fd to EOF (or ENOMSG); returns the bytes. Into @buf when
 * @cap is larger than IO_CHUNK, else into the scratch @buf, overwritten.
 */
static size_t read_all(int fd, uint8_t *buf, size_t cap, bool *eof)
{
	bool keep = cap > IO_CHUNK;
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (keep)
			n = read(fd, buf + len,
				 cap - len < IO_CHUNK ? cap - len : IO_CHUNK);
		else
			n = read(fd, buf, IO_CHUNK);
		if (n > 0) {
			len += n;
			if (keep && len == cap)
				die("stream larger than its buffer", EFBIG);
			continue;
		}
		if (n == 0)
			*eof = true;
		else if (errno == ENOMSG)
			*eof = false;
		else
			die("read data fd", errno);
		return len;
	}
}

/*
 * The kernel's own CRC32C (the stream's checksum, computed over every
 * payload on save and on load) over @len bytes, through AF_ALG: MB/s, or
 * 0 if AF_ALG is not there. The driver chosen is in /proc/crypto.
 */
static double kernel_crc32c_rate(const uint8_t *buf, size_t len)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG, .salg_type = "hash",
				   .salg_name = "crc32c" };
	int tfm, op;
	uint32_t crc;
	size_t off;
	double t;

	tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (tfm < 0)
		return 0;
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (op = accept(tfm, NULL, 0)) < 0) {
		close(tfm);
		return 0;
	}
	t = now();
	for (off = 0; off < len; off += IO_CHUNK)
		if (send(op, buf + off, len - off < IO_CHUNK ? len - off : IO_CHUNK,
			 off + IO_CHUNK < len ? MSG_MORE : 0) < 0)
			break;
	if (read(op, &crc, sizeof(crc)) != sizeof(crc))
		off = 0;
	t = now() - t;
	close(op);
	close(tfm);
	return off >= len ? len / 1e6 / t : 0;
}

/* The crc32c driver the kernel picked (highest priority in /proc/crypto). */
static void crc32c_driver(char *out, size_t len)
{
	char line[256], name[64] = "", drv[64] = "";
	int prio, best = -1;
	FILE *f = fopen("/proc/crypto", "r");

	snprintf(out, len, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "name : %63s", name) == 1)
			continue;
		if (sscanf(line, "driver : %63s", drv) == 1)
			continue;
		if (sscanf(line, "priority : %d", &prio) == 1 &&
		    !strcmp(name, "crc32c") && prio > best) {
			best = prio;
			snprintf(out, len, "%s", drv);
		}
	}
	fclose(f);
}

static void bench_throughput(struct dev *a, struct dev *b)
{
	size_t cap = a->size + a->size / 8 + (1 << 20), len = 0, off;
	double rd_mem[32], rd_fd[32], wr_mem[32], wr_fd[32], crc[32], t;
	char drv[64];
	uint8_t *plain = malloc(a->size), *stream = malloc(cap);
	double mb = a->size / 1e6;
	int i, fd;
	bool eof;

	if (!plain || !stream)
		die("malloc", ENOMEM);
	memset(plain, 0x5a, a->size);
	memset(stream, 0, cap);
	for (i = 0; i < repeats; i++) {
		t = now();
		memcpy(plain, a->map, a->size);
		rd_mem[i] = mb / (now() - t);

		set(a, VFIO_DEVICE_STATE_STOP, NULL);
		set(a, VFIO_DEVICE_STATE_STOP_COPY, &fd);
		t = now();
		len = read_all(fd, stream, cap, &eof);
		rd_fd[i] = mb / (now() - t);
		close(fd);
		set(a, VFIO_DEVICE_STATE_STOP, NULL);
		set(a, VFIO_DEVICE_STATE_RUNNING, NULL);

		t = now();
		memcpy(b->map, plain, b->size);
		wr_mem[i] = mb / (now() - t);
		crc[i] = kernel_crc32c_rate(plain, a->size);

		set(b, VFIO_DEVICE_STATE_STOP, NULL);
		set(b, VFIO_DEVICE_STATE_RESUMING, &fd);
		t = now();
		for (off = 0; off < len; off += IO_CHUNK) {
			size_t n = len - off < IO_CHUNK ? len - off : IO_CHUNK;

			if (write(fd, stream + off, n) != (ssize_t)n)
				die("write data fd", errno);
		}
		wr_fd[i] = mb / (now() - t);
		set(b, VFIO_DEVICE_STATE_STOP, NULL);
		close(fd);
		set(b, VFIO_DEVICE_STATE_RUNNING, NULL);
	}
	printf("throughput: BAR %llu MiB, %d runs, medians in MB/s of BAR content\n",
	       (unsigned long long)(a->size >> 20), repeats);
	t = median(rd_mem, repeats);
	printf("  save: data fd read %.1f, memcpy from the mapping %.1f, ratio %.2f\n",
	       median(rd_fd, repeats), t, median(rd_fd, repeats) / t);
	t = median(wr_mem, repeats);
	printf("  load: data fd write %.1f, memcpy to the mapping %.1f, ratio %.2f\n",
	       median(wr_fd, repeats), t, median(wr_fd, repeats) / t);
	/*
	 * Every payload byte is checksummed once on each side: the data fd
	 * cannot beat the kernel's CRC32C, whatever the copy costs.
	 */
	crc32c_driver(drv, sizeof(drv));
	t = median(crc, repeats);
	printf("  the kernel's crc32c (%s, through AF_ALG) %.1f; data fd read/crc32c %.2f, write/crc32c %.2f\n",
	       drv, t, t ? median(rd_fd, repeats) / t : 0,
	       t ? median(wr_fd, repeats) / t : 0);
	free(plain);
	free(stream);
}

/* Write @n distinct pages of @d (a stride through the BAR). */
static void write_pages(struct dev *d, size_t n, uint64_t seed)
{
	size_t pages = d->size / PAGE, i, p, stride;

	if (!n)
		return;
	stride = pages / n;
	for (i = 0; i < n; i++) {
		p = i * stride;
		memset(d->map + p * PAGE, (int)(seed + i), PAGE);
	}
}

static void bench_stop_copy(struct dev *a)
{
	static const int pct_x10[] = { 0, 10, 100, 1000 };
	size_t pages = a->size / PAGE, cap = IO_CHUNK, n, len;
	uint8_t *buf = malloc(cap);
	uint64_t init, dirty;
	double t, ms;
	unsigned int k;
	int fd;
	bool eof;

	if (!buf)
		die("malloc", ENOMEM);
	printf("stop_copy: pages written during PRE_COPY, after the whole-BAR pass and one round\n");
	for (k = 0; k < sizeof(pct_x10) / sizeof(pct_x10[0]); k++) {
		n = pages * pct_x10[k] / 1000;
		set(a, VFIO_DEVICE_STATE_PRE_COPY, &fd);
		read_all(fd, buf, cap, &eof);
		if (vfmig_precopy_info(fd, &init, &dirty))
			die("PRECOPY_INFO", errno);
		read_all(fd, buf, cap, &eof);
		write_pages(a, n, k);
		t = now();
		set(a, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL);
		set(a, VFIO_DEVICE_STATE_STOP_COPY, NULL);
		len = read_all(fd, buf, cap, &eof);
		ms = (now() - t) * 1e3;
		set(a, VFIO_DEVICE_STATE_STOP, NULL);
		set(a, VFIO_DEVICE_STATE_RUNNING, NULL);
		close(fd);
		printf("  %5.1f%% (%zu pages): %zu bytes in %.1f ms; bound %zu, ratio %.3f\n",
		       pct_x10[k] / 10.0, n, len, ms, n * (PAGE + REC) + TAIL,
		       (double)len / (n * (PAGE + REC) + TAIL));
	}
	free(buf);
}

struct writer {
	struct dev *d;
	atomic_bool stop;
	atomic_ulong writes;
};

/* A guest-like writer: one 8-byte store to a page, page after page. */
static void *writer_run(void *arg)
{
	struct writer *w = arg;
	size_t pages = w->d->size / PAGE;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned long n = 0;

	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*(volatile uint64_t *)(w->d->map + (x % pages) * PAGE) = x;
		if (!(++n & 1023))
			atomic_store_explicit(&w->writes, n, memory_order_relaxed);
	}
	atomic_store(&w->writes, n);
	return NULL;
}

/* Page writes per second for @secs, with PRE_COPY rounds every 50 ms. */
static double writer_rate(struct dev *d, bool rounds, double secs)
{
	size_t cap = IO_CHUNK;
	struct writer w = { .d = d };
	uint8_t *buf = rounds ? malloc(cap) : NULL;
	uint64_t init, dirty;
	int fd = -1;
	double t0, t;
	pthread_t th;
	bool eof;

	if (rounds) {
		if (!buf)
			die("malloc", ENOMEM);
		set(d, VFIO_DEVICE_STATE_PRE_COPY, &fd);
		read_all(fd, buf, cap, &eof);
	}
	if (pthread_create(&th, NULL, writer_run, &w))
		die("pthread_create", errno);
	t0 = now();
	do {
		usleep(50000);
		if (rounds) {
			if (vfmig_precopy_info(fd, &init, &dirty))
				die("PRECOPY_INFO", errno);
			read_all(fd, buf, cap, &eof);
		}
		t = now();
	} while (t - t0 < secs);
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	t = now();
	if (rounds) {
		set(d, VFIO_DEVICE_STATE_RUNNING, NULL);
		close(fd);
		free(buf);
	}
	return atomic_load(&w.writes) / (t - t0);
}

static void bench_writer(struct dev *a)
{
	double off[32], on[32];
	int i;

	for (i = 0; i < repeats; i++) {
		off[i] = writer_rate(a, false, 1.0);
		on[i] = writer_rate(a, true, 1.0);
	}
	printf("writer: page writes/s through the mapping, %d alternating runs of 1 s, medians\n",
	       repeats);
	printf("  with PRE_COPY rounds every 50 ms %.0f, without tracking %.0f, ratio %.2f\n",
	       median(on, repeats), median(off, repeats),
	       median(on, repeats) / median(off, repeats));
}

/* held_bytes from the driver's debugfs status, or -1. */
static long long held_bytes(struct dev *d)
{
	char line[128];
	long long v = -1;
	FILE *f;

	f = vfmig_status_open(d->bdf);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		sscanf(line, "held_bytes: %lld", &v);
	fclose(f);
	return v;
}

static void bench_memory(struct dev *a)
{
	long long idle = held_bytes(a), pre, stop;
	int fd;

	set(a, VFIO_DEVICE_STATE_PRE_COPY, &fd);
	pre = held_bytes(a);
	set(a, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL);
	set(a, VFIO_DEVICE_STATE_STOP_COPY, NULL);
	stop = held_bytes(a);
	set(a, VFIO_DEVICE_STATE_STOP, NULL);
	set(a, VFIO_DEVICE_STATE_RUNNING, NULL);
	close(fd);
	printf("memory: BAR %llu MiB; held by the driver: idle %lld, PRE_COPY %lld, STOP_COPY %lld bytes; PRE_COPY/BAR %.5f\n",
	       (unsigned long long)(a->size >> 20), idle, pre, stop,
	       (double)pre / a->size);
}

int main(int argc, char **argv)
{
	struct dev a = { 0 }, b = { 0 };

	if (argc < 3) {
		fprintf(stderr, "usage: mig_bench BDF_A BDF_B [REPEATS]\n");
		return 2;
	}
	if (argc > 3)
		repeats = atoi(argv[3]);
	if (repeats < 1 || repeats > 32)
		repeats = 5;
	setvbuf(stdout, NULL, _IOLBF, 0);
	dev_open(&a, argv[1]);
	dev_open(&b, argv[2]);
	bench_throughput(&a, &b);
	bench_stop_copy(&a);
	bench_writer(&a);
	bench_memory(&a);
	return 0;
}
