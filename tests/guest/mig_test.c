// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig migration test, run in the test VM on two ivshmem-plain functions
 * bound to vfmig-vfio-pci: A (the source) and B (the destination), both
 * with the same geometry. Checks the VFIO migration uAPI v2 as vfmig
 * implements it: the features, round trips through STOP_COPY and
 * PRE_COPY, refusal of bad streams, every refused state arc, data files in
 * the wrong state, reset and close while a data file is open, and poll.
 *
 * Built on the kernel's kselftest harness: every TEST_F runs in a process
 * of its own, with A and B opened by the fixture, and is one TAP result;
 * the checks inside it are diagnostic lines (check.h).
 *
 * Usage: VFMIG_BDF_A=BDF VFMIG_BDF_B=BDF mig_test [harness options: -l
 * lists the tests, -t NAME runs one]. The reset-churn stress tests run
 * only with VFMIG_STRESS=1 (VFMIG_CHURN_SECS sets their length).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "check.h"
#include "../../tools/lib/crc32c.h"
#include "../../tools/lib/vfio_open.h"
#include "../../tools/lib/vfio_mig.h"
#include "../../tools/lib/vfmig_stream.h"

#define ALL_MIG_FLAGS	(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | \
			 VFIO_MIGRATION_PRE_COPY)
#define NSTATES		8
#define LOAD_CHUNK	(32 * 1024)
#define IVSHMEM_INTRMASK	0
#define IVSHMEM_INTRSTATUS	4

#define S_ERROR		VFIO_DEVICE_STATE_ERROR
#define S_STOP		VFIO_DEVICE_STATE_STOP
#define S_RUNNING	VFIO_DEVICE_STATE_RUNNING
#define S_STOP_COPY	VFIO_DEVICE_STATE_STOP_COPY
#define S_RESUMING	VFIO_DEVICE_STATE_RESUMING
#define S_RUNNING_P2P	VFIO_DEVICE_STATE_RUNNING_P2P
#define S_PRE_COPY	VFIO_DEVICE_STATE_PRE_COPY
#define S_PRE_COPY_P2P	VFIO_DEVICE_STATE_PRE_COPY_P2P

#define NAME(s)		vfmig_state_name(s)

/**
 * struct dev - one function under test
 * @bdf: its address
 * @h: the VFIO descriptors
 * @bar0: region offset of BAR0 (registers) in the device file
 * @bar2: region offset of BAR2 (shared memory)
 * @size: BAR2 size
 * @map: BAR2, mapped
 * @cmd0: the PCI command register after the open, as the hardware has it
 */
struct dev {
	const char *bdf;
	struct vfio_handle h;
	uint64_t bar0;
	uint64_t bar2;
	uint64_t size;
	uint8_t *map;
	uint16_t cmd0;
};

static struct dev dev_a, dev_b;

/* The reference stream saved from A, its memory and INTRMASK. */
static struct vfmig_buf good;
static uint8_t *good_mem;
static uint32_t good_mask;
static uint64_t run_seed;
static char why[512];

static const char *err_name(int err)
{
	return strerror(err < 0 ? -err : err);
}

static uint64_t pattern(uint64_t seed, size_t i)
{
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ull);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static void fill_pattern(uint8_t *dst, size_t len, uint64_t seed)
{
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		w = pattern(seed, i / 8);
		memcpy(dst + i, &w, 8);
	}
}

/* Index of the first byte where @a and @b differ, or -1. */
static long first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i;

	if (!memcmp(a, b, len))
		return -1;
	for (i = 0; i < len && a[i] == b[i]; i++)
		;
	return i;
}

static int region(struct dev *d, unsigned int index, uint64_t *offset,
		  uint64_t *size)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	if (ioctl(d->h.device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	*offset = ri.offset;
	*size = ri.size;
	return 0;
}

static int dev_map(struct dev *d)
{
	uint64_t size0;
	int ret;

	ret = region(d, VFIO_PCI_BAR0_REGION_INDEX, &d->bar0, &size0);
	if (!ret)
		ret = region(d, VFIO_PCI_BAR2_REGION_INDEX, &d->bar2, &d->size);
	if (ret)
		return ret;
	d->map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->h.device, d->bar2);
	if (d->map == MAP_FAILED) {
		d->map = NULL;
		return -errno;
	}
	return 0;
}

/* The PCI command register as the hardware holds it, through sysfs. */
static uint16_t hw_command(struct dev *d)
{
	char path[128];
	uint16_t cmd = 0xffff;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", d->bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, &cmd, 2, PCI_COMMAND) != 2)
			cmd = 0xffff;
		close(fd);
	}
	return cmd;
}

static void set_hw_command(struct dev *d, uint16_t cmd)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", d->bdf);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pwrite(fd, &cmd, 2, PCI_COMMAND) != 2)
			printf("# cannot write %s\n", path);
		close(fd);
	}
}

static int dev_open(struct dev *d, const char *bdf)
{
	char err[256];
	int ret;

	d->bdf = bdf;
	ret = vfio_open_device(bdf, &d->h, err, sizeof(err));
	if (ret) {
		snprintf(why, sizeof(why), "%s: %s", bdf, err);
		return ret;
	}
	ret = dev_map(d);
	if (ret)
		snprintf(why, sizeof(why), "%s: BAR regions or mmap: %s", bdf,
			 err_name(ret));
	d->cmd0 = hw_command(d);
	return ret;
}

static void dev_close(struct dev *d)
{
	if (d->map)
		munmap(d->map, d->size);
	d->map = NULL;
	vfio_close_device(&d->h);
}

static int reg_write(struct dev *d, unsigned int off, uint32_t v)
{
	return pwrite(d->h.device, &v, 4, d->bar0 + off) == 4 ? 0 : -errno;
}

static int reg_read(struct dev *d, unsigned int off, uint32_t *v)
{
	*v = 0xdeadbeef;
	return pread(d->h.device, v, 4, d->bar0 + off) == 4 ? 0 : -errno;
}

static uint32_t state_of(struct dev *d)
{
	uint32_t s;

	if (vfmig_get_state(d->h.device, &s))
		return 0xff;	/* shows as "?" */
	return s;
}

static int dev_reset(struct dev *d)
{
	return ioctl(d->h.device, VFIO_DEVICE_RESET) ? -errno : 0;
}

/* A precondition of the check @name: reported (as its failure) only if false. */
static bool need(bool ok, const char *name, const char *fmt_why)
{
	if (!ok)
		check_result(0, name, "%s", fmt_why);
	return ok;
}

/* Set @to; on failure say so in why[] with the state left behind. */
static int set(struct dev *d, uint32_t to, int *fd)
{
	uint32_t from = state_of(d);
	int ret = vfmig_set_state(d->h.device, to, fd);

	if (ret)
		snprintf(why, sizeof(why), "%s: %s -> %s: %s (now %s)", d->bdf,
			 NAME(from), NAME(to), err_name(ret),
			 NAME(state_of(d)));
	return ret;
}

/*
 * RUNNING -> STOP -> STOP_COPY, read the data file to its end, STOP ->
 * RUNNING: a whole stop-and-copy save into @b.
 */
static int save_stop_copy(struct dev *d, struct vfmig_buf *b)
{
	int fd = -1, ret;
	bool eof;

	b->len = 0;
	ret = set(d, S_STOP, NULL);
	if (!ret)
		ret = set(d, S_STOP_COPY, &fd);
	if (!ret && fd < 0) {
		snprintf(why, sizeof(why), "STOP -> STOP_COPY gave no data fd");
		ret = -EIO;
	}
	if (!ret) {
		ret = vfmig_read_data(fd, b, &eof);
		if (ret || !eof) {
			snprintf(why, sizeof(why),
				 "read in STOP_COPY after %zu bytes: %s", b->len,
				 ret ? err_name(ret) : "ENOMSG in STOP_COPY");
			ret = ret ? ret : -ENOMSG;
		}
	}
	if (!ret)
		ret = set(d, S_STOP, NULL);
	if (!ret)
		ret = set(d, S_RUNNING, NULL);
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * struct load_res - how a load went
 * @write_err: 0 or the errno of the first failed write()
 * @written: bytes accepted
 * @stop_err: 0 or the errno of RESUMING -> STOP
 * @state: the state after RESUMING -> STOP
 */
struct load_res {
	int write_err;
	size_t written;
	int stop_err;
	uint32_t state;
};

/*
 * From RUNNING: STOP -> RESUMING, write @len bytes in QEMU-sized chunks,
 * then RESUMING -> STOP whatever the writes did. Returns 0 if the
 * device reached RESUMING (the outcome is in @r), else the errno.
 */
static int load_raw(struct dev *d, const void *buf, size_t len,
		    struct load_res *r)
{
	int fd = -1, ret;

	memset(r, 0, sizeof(*r));
	ret = set(d, S_STOP, NULL);
	if (!ret)
		ret = set(d, S_RESUMING, &fd);
	if (!ret && fd < 0) {
		snprintf(why, sizeof(why), "STOP -> RESUMING gave no data fd");
		ret = -EIO;
	}
	if (ret)
		return ret;
	r->write_err = vfmig_write_data(fd, buf, len, LOAD_CHUNK, &r->written);
	r->stop_err = vfmig_set_state(d->h.device, S_STOP, NULL);
	r->state = state_of(d);
	close(fd);
	return 0;
}

/* A complete load that must work: ends RUNNING. */
static int load(struct dev *d, const void *buf, size_t len)
{
	struct load_res r;
	int ret = load_raw(d, buf, len, &r);

	if (ret)
		return ret;
	if (r.write_err || r.stop_err) {
		snprintf(why, sizeof(why),
			 "write: %s after %zu of %zu bytes; RESUMING -> STOP: %s (now %s)",
			 r.write_err ? err_name(r.write_err) : "ok", r.written,
			 len, r.stop_err ? err_name(r.stop_err) : "ok",
			 NAME(r.state));
		return r.write_err ? r.write_err : r.stop_err;
	}
	return set(d, S_RUNNING, NULL);
}

/* @d's memory and INTRMASK equal @mem and @mask (why[] says where not). */
static bool same_content(struct dev *d, const uint8_t *mem, uint32_t mask)
{
	long diff = first_diff(d->map, mem, d->size);
	uint32_t v;
	int ret = reg_read(d, IVSHMEM_INTRMASK, &v);

	if (diff >= 0) {
		snprintf(why, sizeof(why),
			 "%s BAR2 differs first at byte %#lx (%#x, expected %#x)",
			 d->bdf, diff, d->map[diff], mem[diff]);
		return false;
	}
	if (ret || v != mask) {
		snprintf(why, sizeof(why),
			 "%s INTRMASK %#x (%s), expected %#x", d->bdf, v,
			 ret ? err_name(ret) : "read ok", mask);
		return false;
	}
	return true;
}

/* Put @seed's pattern and @mask into @d, and into @mem if not NULL. */
static int set_content(struct dev *d, uint8_t *mem, uint64_t seed,
		       uint32_t mask)
{
	fill_pattern(d->map, d->size, seed);
	if (mem)
		memcpy(mem, d->map, d->size);
	return reg_write(d, IVSHMEM_INTRMASK, mask);
}

/* ---- features and states ---- */

static bool test_features(void)
{
	struct dev *ds[] = { &dev_a, &dev_b };
	uint64_t flags;
	char fs[64];
	bool all = true;
	int i, ret;

	for (i = 0; i < 2; i++) {
		ret = vfmig_mig_flags(ds[i]->h.device, &flags);
		all &= check_result(!ret && flags == ALL_MIG_FLAGS,
				    i ? "migration feature of B is STOP_COPY|P2P|PRE_COPY" :
				    "migration feature of A is STOP_COPY|P2P|PRE_COPY",
				    "%s: %s, flags %s", ds[i]->bdf,
				    ret ? err_name(ret) : "ok",
				    vfmig_flags_str(flags, fs, sizeof(fs)));
		check_result(state_of(ds[i]) == S_RUNNING,
			     i ? "initial migration state of B is RUNNING" :
			     "initial migration state of A is RUNNING",
			     "state %s", NAME(state_of(ds[i])));
	}
	return all;
}

/* Reach @s from a reset device through single valid arcs. */
static int reach(struct dev *d, uint32_t s, int *fd)
{
	static const uint32_t paths[NSTATES][5] = {
		[S_RUNNING] = { 0 },
		[S_RUNNING_P2P] = { S_RUNNING_P2P },
		[S_STOP] = { S_RUNNING_P2P, S_STOP },
		[S_STOP_COPY] = { S_RUNNING_P2P, S_STOP, S_STOP_COPY },
		[S_RESUMING] = { S_RUNNING_P2P, S_STOP, S_RESUMING },
		[S_PRE_COPY] = { S_PRE_COPY },
		[S_PRE_COPY_P2P] = { S_PRE_COPY, S_PRE_COPY_P2P },
		[S_ERROR] = { S_RUNNING_P2P, S_STOP, S_RESUMING, S_STOP },
	};
	int i, ret, nfd;

	*fd = -1;
	ret = dev_reset(d);
	if (ret) {
		snprintf(why, sizeof(why), "VFIO_DEVICE_RESET: %s",
			 err_name(ret));
		return ret;
	}
	for (i = 0; i < 5 && paths[s][i]; i++) {
		if (s == S_ERROR && i == 3) {
			/* Leaving RESUMING with no stream at all fails. */
			vfmig_set_state(d->h.device, S_STOP, NULL);
			break;
		}
		ret = set(d, paths[s][i], &nfd);
		if (ret)
			return ret;
		if (nfd >= 0) {
			if (*fd >= 0)
				close(*fd);
			*fd = nfd;
		}
	}
	if (state_of(d) != s) {
		snprintf(why, sizeof(why), "could not get to %s: in %s",
			 NAME(s), NAME(state_of(d)));
		return -EIO;
	}
	return 0;
}

/*
 * QEMU sizes its switchover on MIG_DATA_SIZE: in STOP_COPY it must be
 * exactly what the save then yields.
 */
static void test_data_size(struct dev *d)
{
	const char *name = "MIG_DATA_SIZE in STOP_COPY equals the bytes the save then yields";
	struct vfmig_buf b = { 0 };
	uint64_t size = 0;
	int fd = -1, ret;
	bool eof = false;

	dev_reset(d);
	ret = set(d, S_STOP, NULL);
	if (!ret)
		ret = set(d, S_STOP_COPY, &fd);
	if (!ret)
		ret = vfmig_data_size(d->h.device, &size);
	if (!ret)
		ret = vfmig_read_data(fd, &b, &eof);
	if (!ret && !eof)
		ret = -ENOMSG;
	check_result(!ret && b.len == size, name,
		     "%s; MIG_DATA_SIZE %llu, the save gave %zu bytes",
		     ret ? err_name(ret) : "ok", (unsigned long long)size,
		     b.len);
	if (fd >= 0)
		close(fd);
	vfmig_buf_free(&b);
	dev_reset(d);
}

/* ---- round trips ---- */

static bool stream_well_formed(const char *name, const struct vfmig_buf *b,
			       struct dev *d)
{
	struct vfmig_stream_view v;
	uint8_t *seen;
	size_t k, pages = d->size / VFMIG_MEM_ALIGN, missing = 0, p;
	char err[256];
	int ret;

	ret = vfmig_stream_read(b->data, b->len, &v, err, sizeof(err));
	if (ret) {
		check_result(0, name, "%s", err);
		vfmig_stream_free(&v);
		return false;
	}
	seen = calloc(pages, 1);
	for (k = 0; seen && k < v.nrec; k++) {
		if (v.rec[k].type != VFMIG_REC_MEM || v.rec[k].index != 2)
			continue;
		for (p = v.rec[k].offset / VFMIG_MEM_ALIGN;
		     p < (v.rec[k].offset + v.rec[k].length) / VFMIG_MEM_ALIGN;
		     p++)
			seen[p] = 1;
	}
	for (p = 0; seen && p < pages; p++)
		missing += !seen[p];
	ret = v.vendor == 0x1af4 && v.device == 0x1110 &&
	      v.bar_size[2] == d->size && v.backend_id == 1 &&
	      v.by_type[VFMIG_T_REGS] == 1 && v.regs_len == 8 && seen &&
	      !missing;
	check_result(ret, name,
		     "vendor %04x:%04x backend %u BAR2 %llu (BAR is %llu), %llu REGS of %u bytes, %zu of %zu pages not covered by MEM records",
		     v.vendor, v.device, v.backend_id,
		     (unsigned long long)v.bar_size[2],
		     (unsigned long long)d->size,
		     (unsigned long long)v.by_type[VFMIG_T_REGS], v.regs_len,
		     missing, pages);
	free(seen);
	vfmig_stream_free(&v);
	return ret;
}

static void test_round_trip_stop_copy(void)
{
	const char *name = "round trip via STOP_COPY: B's BAR2 and INTRMASK equal A's";
	uint8_t *mem_b = malloc(dev_a.size);
	uint32_t mask_b = 0x0000005a;
	int ret;

	good_mem = malloc(dev_a.size);
	good_mask = 0xa5a50f0f;
	if (!good_mem || !mem_b) {
		check_result(0, name, "out of memory");
		goto out;
	}
	ret = set_content(&dev_a, good_mem, run_seed ^ 1, good_mask);
	if (!check_result(!ret, "A: pattern into BAR2 by mmap, INTRMASK written",
			  "INTRMASK write: %s", err_name(ret)))
		goto out;
	ret = save_stop_copy(&dev_a, &good);
	if (!check_result(!ret,
			  "save A: RUNNING -> STOP -> STOP_COPY, read to EOF, -> STOP -> RUNNING",
			  "%s", why)) {
		good.len = 0;
		goto out;
	}
	check_result(state_of(&dev_a) == S_RUNNING && same_content(&dev_a, good_mem, good_mask),
		     "A keeps running with its content after the save",
		     "state %s; %s", NAME(state_of(&dev_a)), why);
	/* Load it even if the check failed: B's verdict matters too. */
	stream_well_formed("A's stream passes the offline check and covers BAR2",
			   &good, &dev_a);
	set_content(&dev_b, mem_b, run_seed ^ 2, mask_b);
	ret = load(&dev_b, good.data, good.len);
	if (!check_result(!ret,
			  "load into B: STOP -> RESUMING, write 32 KiB chunks, -> STOP -> RUNNING",
			  "%s", why))
		goto out;
	check_result(same_content(&dev_b, good_mem, good_mask), name, "%s", why);
out:
	free(mem_b);
}

/*
 * The PRE_COPY path: RUNNING -> PRE_COPY, read to ENOMSG (checking
 * PRECOPY_INFO and poll), optionally change A, then PRE_COPY_P2P ->
 * STOP_COPY, read to EOF, and load the whole stream into B.
 */
static void test_round_trip_pre_copy(bool change)
{
	const char *pfx = change ? "pre-copy with A changed after the pass" :
				   "pre-copy";
	struct vfmig_buf b = { 0 };
	uint64_t init0 = 0, init1 = 1, dirty;
	uint8_t *mem = malloc(dev_a.size);
	uint32_t mask = change ? 0x11112222 : 0x33334444;
	size_t pre_len, i;
	char name[160];
	int fd = -1, ret;
	bool eof;

	if (!mem) {
		check_result(0, pfx, "out of memory");
		return;
	}
	set_content(&dev_a, mem, run_seed ^ (change ? 3 : 4), mask);
	ret = set(&dev_a, S_PRE_COPY, &fd);
	snprintf(name, sizeof(name), "%s: RUNNING -> PRE_COPY gives a data fd",
		 pfx);
	if (!check_result(!ret && fd >= 0, name, "%s", ret ? why : "no fd"))
		goto out;
	ret = vfmig_precopy_info(fd, &init0, &dirty);
	snprintf(name, sizeof(name),
		 "%s: PRECOPY_INFO initial_bytes non-zero at start", pfx);
	check_result(!ret && init0, name, "%s, initial %llu dirty %llu",
		     ret ? err_name(ret) : "ok", (unsigned long long)init0,
		     (unsigned long long)dirty);
	if (!change) {
		/* initial_bytes falls as the data is read. */
		struct vfmig_buf part = { 0 };
		uint64_t mid = 0;
		char head[8192];
		ssize_t n = read(fd, head, sizeof(head));

		ret = vfmig_precopy_info(fd, &mid, &dirty);
		check_result(n == sizeof(head) && !ret && mid < init0 && mid,
			     "pre-copy: initial_bytes falls after an 8 KiB read",
			     "read %zd, %s, initial %llu then %llu", n,
			     ret ? err_name(ret) : "ok",
			     (unsigned long long)init0, (unsigned long long)mid);
		if (n > 0) {
			part.data = malloc(n);
			if (part.data) {
				memcpy(part.data, head, n);
				part.len = n;
				part.cap = n;
			}
		}
		b = part;
	}
	ret = vfmig_read_data(fd, &b, &eof);
	snprintf(name, sizeof(name),
		 "%s: read ends with ENOMSG (temporary end)", pfx);
	check_result(!ret && !eof && b.len, name, "%s after %zu bytes",
		     ret ? err_name(ret) : eof ? "EOF" : "no data", b.len);
	pre_len = b.len;
	ret = vfmig_precopy_info(fd, &init1, &dirty);
	snprintf(name, sizeof(name),
		 "%s: PRECOPY_INFO initial_bytes 0 at ENOMSG", pfx);
	check_result(!ret && !init1, name, "%s, initial %llu dirty %llu",
		     ret ? err_name(ret) : "ok", (unsigned long long)init1,
		     (unsigned long long)dirty);
	if (change) {
		/* The guest writes on while pre-copy runs. */
		for (i = 0; i < dev_a.size; i += 3 * VFMIG_MEM_ALIGN)
			fill_pattern(mem + i, VFMIG_MEM_ALIGN, run_seed ^ i);
		mem[dev_a.size - 1] ^= 0xff;
		mem[0] ^= 0xff;
		memcpy(dev_a.map, mem, dev_a.size);
		mask = 0x55556666;
		reg_write(&dev_a, IVSHMEM_INTRMASK, mask);
	}
	ret = set(&dev_a, S_PRE_COPY_P2P, NULL);
	if (!ret)
		ret = set(&dev_a, S_STOP_COPY, NULL);
	snprintf(name, sizeof(name), "%s: -> PRE_COPY_P2P -> STOP_COPY", pfx);
	if (!check_result(!ret, name, "%s", why))
		goto out;
	ret = vfmig_read_data(fd, &b, &eof);
	snprintf(name, sizeof(name),
		 "%s: the same fd reads to EOF in STOP_COPY", pfx);
	check_result(!ret && eof && b.len > pre_len, name,
		     "%s, %zu bytes after the pre-copy %zu",
		     ret ? err_name(ret) : eof ? "EOF" : "ENOMSG",
		     b.len - pre_len, pre_len);
	ret = set(&dev_a, S_STOP, NULL);
	if (!ret)
		ret = set(&dev_a, S_RUNNING, NULL);
	close(fd);
	fd = -1;
	snprintf(name, sizeof(name), "%s: A back to RUNNING via STOP", pfx);
	check_result(!ret, name, "%s", why);
	snprintf(name, sizeof(name),
		 "%s: the stream passes the offline check and covers BAR2",
		 pfx);
	stream_well_formed(name, &b, &dev_a);

	set_content(&dev_b, NULL, run_seed ^ 5, 0);
	ret = load(&dev_b, b.data, b.len);
	snprintf(name, sizeof(name), "%s: B loads the stream", pfx);
	if (!check_result(!ret, name, "%s", why))
		goto out;
	snprintf(name, sizeof(name),
		 change ? "%s: B ends with A's later memory and INTRMASK" :
			  "%s: B's BAR2 and INTRMASK equal A's", pfx);
	check_result(same_content(&dev_b, mem, mask), name, "%s", why);
out:
	if (fd >= 0)
		close(fd);
	dev_reset(&dev_a);
	vfmig_buf_free(&b);
	free(mem);
}

/* ---- dirty tracking: PRE_COPY rounds send what was written since ---- */

/* The bytes of MEM records for @n pages in @runs separate runs. */
static uint64_t mem_bytes(size_t n, size_t runs)
{
	return n * VFMIG_MEM_ALIGN + runs * VFMIG_REC_SIZE;
}

/* REGS (8 bytes for ivshmem) and END: what STOP_COPY adds to the memory. */
#define TAIL_BYTES	(2 * VFMIG_REC_SIZE + 8 + 16)

/* Write page @page of @d through its mapping and of @mem, the expectation. */
static void write_page(struct dev *d, uint8_t *mem, size_t page, uint64_t seed)
{
	fill_pattern(mem + page * VFMIG_MEM_ALIGN, VFMIG_MEM_ALIGN, seed);
	memcpy(d->map + page * VFMIG_MEM_ALIGN, mem + page * VFMIG_MEM_ALIGN,
	       VFMIG_MEM_ALIGN);
}

/*
 * After the whole-BAR pass, a round carries exactly the pages written
 * since, through the mapping (the fault handler marks them) and through
 * the region's write path; dirty_bytes and MIG_DATA_SIZE are the bytes the
 * reads then give; B ends equal to A.
 */
static void test_dirty_rounds(void)
{
	const char *pfx = "dirty rounds";
	size_t pages = dev_a.size / VFMIG_MEM_ALIGN, pre_len, i;
	uint64_t init = 1, dirty = 0, left = 0, left2 = 0;
	uint8_t *mem = malloc(dev_a.size);
	struct vfmig_buf b = { 0 };
	char name[160];
	int fd = -1, ret;
	ssize_t n;
	bool eof;

	if (!mem) {
		check_result(0, pfx, "out of memory");
		return;
	}
	set_content(&dev_a, mem, run_seed ^ 21, 0x2121);
	ret = set(&dev_a, S_PRE_COPY, &fd);
	if (!check_result(!ret && fd >= 0, "dirty rounds: RUNNING -> PRE_COPY",
			  "%s", ret ? why : "no fd"))
		goto out;
	ret = vfmig_read_data(fd, &b, &eof);
	if (!ret)
		ret = vfmig_precopy_info(fd, &init, &dirty);
	check_result(!ret && !eof && !init && !dirty,
		     "dirty rounds: nothing written: the pass ends with initial 0, dirty 0",
		     "%s, initial %llu dirty %llu", ret ? err_name(ret) : "ok",
		     (unsigned long long)init, (unsigned long long)dirty);

	/* Pages 2, 5, 20-23 through the mapping; page 9 through pwrite. */
	write_page(&dev_a, mem, 2, 1);
	write_page(&dev_a, mem, 5, 2);
	for (i = 20; i < 24; i++)
		write_page(&dev_a, mem, i, i);
	fill_pattern(mem + 9 * VFMIG_MEM_ALIGN, VFMIG_MEM_ALIGN, 9);
	n = pwrite(dev_a.h.device, mem + 9 * VFMIG_MEM_ALIGN, VFMIG_MEM_ALIGN,
		   dev_a.bar2 + 9 * VFMIG_MEM_ALIGN);
	ret = vfmig_precopy_info(fd, &init, &dirty);
	check_result(n == VFMIG_MEM_ALIGN && !ret && !init &&
		     dirty == mem_bytes(7, 4),
		     "dirty rounds: dirty_bytes counts 7 pages in 4 records (mapping and pwrite)",
		     "pwrite %zd, %s, initial %llu dirty %llu, expected %llu", n,
		     ret ? err_name(ret) : "ok", (unsigned long long)init,
		     (unsigned long long)dirty,
		     (unsigned long long)mem_bytes(7, 4));
	pre_len = b.len;
	ret = vfmig_read_data(fd, &b, &eof);
	check_result(!ret && !eof && b.len - pre_len == dirty,
		     "dirty rounds: the round reads exactly dirty_bytes, then ENOMSG",
		     "%s, read %zu, dirty_bytes %llu",
		     ret ? err_name(ret) : eof ? "EOF" : "ENOMSG",
		     b.len - pre_len, (unsigned long long)dirty);

	/* The last writes, the last page among them; then the VM stops. */
	write_page(&dev_a, mem, 5, 3);
	write_page(&dev_a, mem, pages - 1, 4);
	ret = vfmig_data_size(dev_a.h.device, &left);
	check_result(!ret && left == mem_bytes(2, 2) + TAIL_BYTES,
		     "dirty rounds: MIG_DATA_SIZE in PRE_COPY is the 2 pages written since, REGS and END",
		     "%s, %llu, expected %llu", ret ? err_name(ret) : "ok",
		     (unsigned long long)left,
		     (unsigned long long)(mem_bytes(2, 2) + TAIL_BYTES));
	reg_write(&dev_a, IVSHMEM_INTRMASK, 0x2222);
	ret = set(&dev_a, S_PRE_COPY_P2P, NULL);
	if (!ret)
		ret = set(&dev_a, S_STOP_COPY, NULL);
	if (!ret)
		ret = vfmig_data_size(dev_a.h.device, &left2);
	pre_len = b.len;
	if (!ret)
		ret = vfmig_read_data(fd, &b, &eof);
	check_result(!ret && eof && b.len - pre_len == left && left2 == left,
		     "dirty rounds: STOP_COPY yields exactly MIG_DATA_SIZE, not the BAR again",
		     "%s, read %zu, MIG_DATA_SIZE %llu then %llu (BAR %llu)",
		     ret ? why : eof ? "EOF" : "ENOMSG", b.len - pre_len,
		     (unsigned long long)left, (unsigned long long)left2,
		     (unsigned long long)dev_a.size);
	ret = set(&dev_a, S_STOP, NULL);
	close(fd);
	fd = -1;
	snprintf(name, sizeof(name), "%s: the stream passes the offline check", pfx);
	stream_well_formed(name, &b, &dev_a);
	set_content(&dev_b, NULL, run_seed ^ 22, 0);
	ret = load(&dev_b, b.data, b.len);
	if (check_result(!ret, "dirty rounds: B loads the stream", "%s", why))
		check_result(same_content(&dev_b, mem, 0x2222),
			     "dirty rounds: B's BAR2 and INTRMASK equal A's last", "%s",
			     why);
out:
	if (fd >= 0)
		close(fd);
	dev_reset(&dev_a);
	vfmig_buf_free(&b);
	free(mem);
}

/* A guest that writes on while PRE_COPY runs its rounds. */
struct writer {
	struct dev *d;
	atomic_bool stop;
	unsigned long writes;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	size_t pages = w->d->size / VFMIG_MEM_ALIGN;
	uint64_t x = run_seed | 1;
	volatile uint64_t *p;

	while (!atomic_load(&w->stop)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* One word of a random page: the page changes, the rest not. */
		p = (volatile uint64_t *)(w->d->map + (x % pages) * VFMIG_MEM_ALIGN +
					  (x >> 40) % (VFMIG_MEM_ALIGN / 8) * 8);
		*p = x;
		w->writes++;
	}
	return NULL;
}

/*
 * Rounds with a writer running through them, the writer stopped only as
 * the VM would be (before PRE_COPY_P2P): B must equal A byte for byte,
 * pages written between rounds and during the last one included.
 */
static void test_dirty_concurrent_writer(void)
{
	struct writer w = { .d = &dev_a };
	uint8_t *mem = malloc(dev_a.size);
	struct vfmig_buf b = { 0 };
	uint64_t init, dirty, round_bytes = 0;
	pthread_t t;
	int fd = -1, ret, round;
	bool eof, started = false;

	if (!mem) {
		check_result(0, "dirty rounds with a writer", "out of memory");
		return;
	}
	set_content(&dev_a, NULL, run_seed ^ 23, 0x2323);
	ret = set(&dev_a, S_PRE_COPY, &fd);
	if (!check_result(!ret && fd >= 0, "writer: RUNNING -> PRE_COPY", "%s",
			  ret ? why : "no fd"))
		goto out;
	started = !pthread_create(&t, NULL, writer_run, &w);
	ret = started ? vfmig_read_data(fd, &b, &eof) : -EAGAIN;
	for (round = 0; !ret && round < 5; round++) {
		usleep(20000);
		ret = vfmig_precopy_info(fd, &init, &dirty);
		if (!ret)
			round_bytes += dirty;
		if (!ret)
			ret = vfmig_read_data(fd, &b, &eof);
	}
	atomic_store(&w.stop, true);
	if (started)
		pthread_join(t, NULL);
	check_result(!ret && round_bytes && w.writes,
		     "writer: five rounds under writes, each with data",
		     "%s, %llu bytes in rounds, %lu writes",
		     ret ? err_name(ret) : "ok",
		     (unsigned long long)round_bytes, w.writes);
	/* A's memory as the VM left it: the truth B must end with. */
	memcpy(mem, dev_a.map, dev_a.size);
	ret = set(&dev_a, S_PRE_COPY_P2P, NULL);
	if (!ret)
		ret = set(&dev_a, S_STOP_COPY, NULL);
	if (!ret)
		ret = vfmig_read_data(fd, &b, &eof);
	check_result(!ret && eof, "writer: STOP_COPY reads to EOF", "%s",
		     ret ? why : "ENOMSG");
	set(&dev_a, S_STOP, NULL);
	close(fd);
	fd = -1;
	set_content(&dev_b, NULL, run_seed ^ 24, 0);
	ret = load(&dev_b, b.data, b.len);
	if (check_result(!ret, "writer: B loads the stream", "%s", why))
		check_result(same_content(&dev_b, mem, 0x2323),
			     "writer: B equals A byte for byte", "%s", why);
out:
	if (fd >= 0)
		close(fd);
	dev_reset(&dev_a);
	vfmig_buf_free(&b);
	free(mem);
}

/* What the driver's debugfs status says of dirty tracking. */
static bool tracking_on(struct dev *d)
{
	char line[128];
	bool on = false;
	FILE *f;

	f = vfmig_status_open(d->bdf);
	if (!f)
		return true;	/* unknown counts as left behind */
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "dirty_tracking: on\n"))
			on = true;
	fclose(f);
	return on;
}

/*
 * A reset and a close of the data fd's device during tracking leave no
 * tracking behind, and the mapping writes on as before.
 */
static void test_dirty_ends(void)
{
	uint8_t v, got = 0;
	int fd = -1, ret;
	ssize_t n;
	bool on;

	dev_reset(&dev_a);
	ret = set(&dev_a, S_PRE_COPY, &fd);
	on = tracking_on(&dev_a);
	if (!ret)
		ret = dev_reset(&dev_a);
	check_result(!ret && on && !tracking_on(&dev_a),
		     "dirty tracking: on in PRE_COPY, off after a reset",
		     "%s, on %d then %d", ret ? err_name(ret) : "ok", on,
		     tracking_on(&dev_a));
	if (fd >= 0)
		close(fd);
	fd = -1;
	ret = set(&dev_a, S_PRE_COPY, &fd);
	if (!ret)
		ret = set(&dev_a, S_RUNNING, NULL);
	check_result(!ret && !tracking_on(&dev_a),
		     "dirty tracking: off after PRE_COPY -> RUNNING", "%s",
		     ret ? why : "still on");
	if (fd >= 0)
		close(fd);
	/* Through the mapping, read back through the region. */
	v = dev_a.map[dev_a.size - 1] ^ 0x5a;
	dev_a.map[dev_a.size - 1] = v;
	n = pread(dev_a.h.device, &got, 1, dev_a.bar2 + dev_a.size - 1);
	check_result(n == 1 && got == v,
		     "dirty tracking: after it, the mapping still takes writes",
		     "pread %zd, %#x, expected %#x", n, got, v);
}

/* ---- DMA logging ---- */

/* One VFIO_DEVICE_FEATURE call on @d (tools/lib). */
static int dev_feature(struct dev *d, uint32_t flags, void *data, size_t size)
{
	return vfmig_feature(d->h.device, flags, data, size);
}

static int log_start(struct dev *d, uint64_t iova, uint64_t len)
{
	struct vfio_device_feature_dma_logging_range range = {
		.iova = iova, .length = len,
	};
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = 4096, .num_ranges = 1,
		.ranges = (uintptr_t)&range,
	};

	return dev_feature(d, VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &ctl,
			   sizeof(ctl));
}

static int log_report(struct dev *d, uint64_t *bitmap, uint64_t len)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = 0, .length = len, .page_size = 4096,
		.bitmap = (uintptr_t)bitmap,
	};

	return dev_feature(d, VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, &rep,
			   sizeof(rep));
}

/*
 * ivshmem-plain cannot DMA: where the kernel can report (IOMMUFD, whose
 * /dev/iommu this checks), vfmig offers DMA logging and its reports are
 * empty; elsewhere it offers none (ENOTTY), as a report could only fail.
 */
static void test_dma_logging(struct dev *d)
{
	bool can = access("/dev/iommu", F_OK) == 0;
	uint64_t bitmap[4];
	int probe, ret, again, stop, late;

	probe = dev_feature(d, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			    VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	if (!can) {
		check_result(probe == -ENOTTY,
			     "DMA logging: not offered on a kernel without IOMMUFD",
			     "probe %s", err_name(probe));
		return;
	}
	check_result(!probe, "DMA logging: offered on a kernel with IOMMUFD",
		     "probe %s", err_name(probe));
	ret = log_start(d, 0, 1 << 20);
	again = log_start(d, 0, 1 << 20);
	check_result(!ret && again == -EBUSY,
		     "DMA logging: START, and a second START is refused (EBUSY)",
		     "%s then %s", err_name(ret), err_name(again));
	/* The user's bitmap is the VMM's to clear: only set bits count. */
	memset(bitmap, 0, sizeof(bitmap));
	ret = log_report(d, bitmap, 1 << 20);
	check_result(!ret && !bitmap[0] && !bitmap[1] && !bitmap[2] && !bitmap[3],
		     "DMA logging: the report of a function without DMA is empty",
		     "%s, bitmap %llx %llx %llx %llx", err_name(ret),
		     (unsigned long long)bitmap[0], (unsigned long long)bitmap[1],
		     (unsigned long long)bitmap[2], (unsigned long long)bitmap[3]);
	stop = dev_feature(d, VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0);
	late = log_report(d, bitmap, 1 << 20);
	check_result(!stop && late == -EINVAL,
		     "DMA logging: STOP, then a REPORT is refused (EINVAL)",
		     "stop %s, report %s", err_name(stop), err_name(late));
}

/* ---- rejected streams ---- */

/*
 * Load @buf into B and expect a refusal: a write() fails with EINVAL or
 * RESUMING -> STOP fails with EINVAL, and the device ends in ERROR. Then
 * reset must bring it back to RUNNING and, when @then_good, a good load
 * must succeed. @after_end: only the write must fail (data after END).
 */
static void expect_rejected(const char *what, const void *buf, size_t len,
			    bool after_end, bool then_good)
{
	struct load_res r;
	char name[192];
	bool ok;
	int ret;

	snprintf(name, sizeof(name), "rejects %s (%zu bytes)", what, len);
	ret = dev_reset(&dev_b);
	if (!ret)
		ret = load_raw(&dev_b, buf, len, &r);
	if (!need(!ret, name, why))
		return;
	if (after_end)
		ok = r.write_err == -EINVAL;
	else
		ok = (!r.write_err || r.write_err == -EINVAL) &&
		     r.stop_err == -EINVAL && r.state == S_ERROR;
	check_result(ok, name,
		     "write: %s at %zu; RESUMING -> STOP: %s; state %s (want EINVAL then ERROR)",
		     r.write_err ? err_name(r.write_err) : "accepted", r.written,
		     r.stop_err ? err_name(r.stop_err) : "succeeded",
		     NAME(r.state));

	ret = dev_reset(&dev_b);
	snprintf(name, sizeof(name), "after %s: reset -> RUNNING", what);
	check_result(!ret && state_of(&dev_b) == S_RUNNING, name, "%s, state %s",
		     ret ? err_name(ret) : "reset ok", NAME(state_of(&dev_b)));
	if (!then_good)
		return;
	snprintf(name, sizeof(name), "after %s: a good load succeeds", what);
	set_content(&dev_b, NULL, run_seed ^ 6, 0);
	ret = load(&dev_b, good.data, good.len);
	if (check_result(!ret, name, "%s", why))
		check_result(same_content(&dev_b, good_mem, good_mask),
			     "... and B holds the good stream's content", "%s",
			     why);
}

/*
 * Load @buf into B, a stream well formed record by record that lacks
 * something only the whole can show, and expect every write() before the
 * one that completes END to be accepted, that one to fail with EINVAL
 * (QEMU fails the load there), and RESUMING -> STOP then to be refused with
 * EINVAL too, leaving ERROR.
 */
static void expect_refused_at_end(const char *what, const void *buf,
				  size_t len)
{
	struct load_res r;
	char name[192];
	int ret;

	snprintf(name, sizeof(name),
		 "refuses %s at the write() of END, then at RESUMING -> STOP (%zu bytes)",
		 what, len);
	ret = dev_reset(&dev_b);
	if (!ret)
		ret = load_raw(&dev_b, buf, len, &r);
	if (!need(!ret, name, why))
		return;
	check_result(r.write_err == -EINVAL && r.written < len &&
		     r.written + LOAD_CHUNK >= len && r.stop_err == -EINVAL &&
		     r.state == S_ERROR, name,
		     "write: %s at %zu of %zu; RESUMING -> STOP: %s; state %s (want EINVAL in the last chunk, then EINVAL and ERROR)",
		     r.write_err ? err_name(r.write_err) : "accepted", r.written,
		     len, r.stop_err ? err_name(r.stop_err) : "succeeded",
		     NAME(r.state));
	dev_reset(&dev_b);
}

/*
 * Give the record at @pos of @c an unknown type without the MANDATORY
 * flag and reseal it: a reader checks and skips it, so the stream stays
 * valid at every write() and only lacks what the record carried.
 */
static void hide_record(uint8_t *c, size_t pos)
{
	struct vfmig_record rec;

	memcpy(&rec, c + pos, sizeof(rec));
	rec.type = htole16(0x0100);
	rec.flags = 0;
	memcpy(c + pos, &rec, sizeof(rec));
	vfmig_record_reseal(c + pos);
}

static void test_rejects(void)
{
	struct vfmig_stream_view v;
	const struct vfmig_rec_view *mem = NULL, *endr = NULL, *regs = NULL;
	const struct vfmig_rec_view *last_mem = NULL;
	struct vfmig_stream_header h;
	struct vfmig_record rec;
	uint8_t *c;
	char err[256], what[96];
	size_t k, n, len = good.len;
	size_t cut[7];
	const char *cut_what[7];

	if (!len || vfmig_stream_read(good.data, len, &v, err, sizeof(err)) ||
	    v.nrec < 3) {
		check_result(0, "rejection tests have a good stream to mangle",
			     "the STOP_COPY save failed or gave a bad stream");
		return;
	}
	for (k = 0; k < v.nrec; k++) {
		if (!mem && v.rec[k].type == VFMIG_REC_MEM)
			mem = &v.rec[k];
		if (v.rec[k].type == VFMIG_REC_MEM)
			last_mem = &v.rec[k];
		if (v.rec[k].type == VFMIG_REC_REGS)
			regs = &v.rec[k];
		if (v.rec[k].type == VFMIG_REC_END)
			endr = &v.rec[k];
	}
	c = malloc(len + 4096);
	if (!mem || !endr || !regs || !c) {
		check_result(0, "rejection tests have a good stream to mangle",
			     "no MEM or END record, or no memory");
		goto out;
	}

	/* Truncated. */
	cut[0] = VFMIG_HDR_SIZE / 2;
	cut_what[0] = "inside the header";
	cut[1] = VFMIG_HDR_SIZE;
	cut_what[1] = "just after the header";
	cut[2] = mem->pos + 10;
	cut_what[2] = "inside a record header";
	cut[3] = mem->pos + VFMIG_REC_SIZE + mem->length / 2 + 1;
	cut_what[3] = "inside a payload";
	cut[4] = endr->pos;
	cut_what[4] = "just before END";
	cut[5] = len - 8;
	cut_what[5] = "inside END's payload";
	cut[6] = len - 1;
	cut_what[6] = "1 byte short";
	for (k = 0; k < 7; k++) {
		snprintf(what, sizeof(what), "a stream truncated %s (at %zu)",
			 cut_what[k], cut[k]);
		expect_rejected(what, good.data, cut[k], false, k == 0 || k == 6);
	}

	/* One flipped bit. */
	memcpy(c, good.data, len);
	c[20] ^= 0x08;	/* subsystem vendor id */
	expect_rejected("one flipped bit in the header", c, len, false, true);
	memcpy(c, good.data, len);
	c[mem->pos + 12] ^= 0x01;	/* payload_crc field of a record header */
	expect_rejected("one flipped bit in a record header", c, len, false,
			true);
	memcpy(c, good.data, len);
	c[mem->pos + VFMIG_REC_SIZE + mem->length / 3] ^= 0x40;
	expect_rejected("one flipped bit in a MEM payload", c, len, false, true);

	/* Foreign streams: valid CRCs, wrong identity or version. */
	memcpy(c, good.data, len);
	memcpy(&h, c, sizeof(h));
	h.bar_size[2] = htole64(le64toh(h.bar_size[2]) * 2);
	memcpy(c, &h, sizeof(h));
	vfmig_header_reseal(c);
	expect_rejected("a foreign stream: header BAR2 size doubled, CRC recomputed",
			c, len, false, true);
	memcpy(c, good.data, len);
	memcpy(&h, c, sizeof(h));
	h.vendor = htole16(0x8086);
	memcpy(c, &h, sizeof(h));
	vfmig_header_reseal(c);
	expect_rejected("a foreign stream: vendor 8086, CRC recomputed", c,
			len, false, true);
	memcpy(c, good.data, len);
	memcpy(&h, c, sizeof(h));
	h.version = htole16(2);
	memcpy(c, &h, sizeof(h));
	vfmig_header_reseal(c);
	expect_rejected("a version 2 stream, CRC recomputed", c, len, false,
			true);
	memcpy(c, good.data, len);
	memcpy(&h, c, sizeof(h));
	h.backend_id = htole32(77);
	memcpy(c, &h, sizeof(h));
	vfmig_header_reseal(c);
	expect_rejected("a foreign stream: backend 77, CRC recomputed", c, len,
			false, true);

	/* Garbage and nothing. */
	n = len < (4 << 20) ? len : 4 << 20;
	fill_pattern(c, n, run_seed ^ 7);
	expect_rejected("random bytes", c, n, false, true);
	expect_rejected("an empty stream", good.data, 0, false, true);

	/* A record longer than any reader buffers, header CRC recomputed. */
	memcpy(c, good.data, len);
	memcpy(&rec, c + mem->pos, sizeof(rec));
	rec.length = htole32(VFMIG_MAX_PAYLOAD + VFMIG_MEM_ALIGN);
	memcpy(c + mem->pos, &rec, sizeof(rec));
	vfmig_record_reseal(c + mem->pos);
	expect_rejected("a record longer than VFMIG_MAX_PAYLOAD", c, len, false,
			true);

	/* Data after END: the write must fail. */
	memcpy(c, good.data, len);
	memcpy(c + len, good.data + endr->pos, VFMIG_REC_SIZE);
	expect_rejected("data after END", c, len + VFMIG_REC_SIZE, true, true);

	/* Well formed record by record, incomplete as a whole. */
	memcpy(c, good.data, len);
	hide_record(c, regs->pos);
	expect_refused_at_end("a stream whose register record is hidden", c,
			      len);
	memcpy(c, good.data, len);
	hide_record(c, last_mem->pos);
	expect_refused_at_end("a stream missing the BAR's last memory record",
			      c, len);

	/* A bad header's error sticks: later writes fail too. */
	{
		int fd = -1, ret, w1, w2 = 0;

		memcpy(c, good.data, len);
		c[0] ^= 0xff;	/* magic */
		dev_reset(&dev_b);
		ret = set(&dev_b, S_STOP, NULL);
		if (!ret)
			ret = set(&dev_b, S_RESUMING, &fd);
		w1 = write(fd, c, VFMIG_HDR_SIZE) < 0 ? -errno : 0;
		if (w1)
			w2 = write(fd, good.data, VFMIG_HDR_SIZE) < 0 ? -errno : 0;
		check_result(!ret && w1 == -EINVAL && w2 == -EINVAL,
			     "a bad header fails write() at once with EINVAL, and the next write too",
			     "%s; first write %s, second write %s",
			     ret ? why : "RESUMING reached",
			     w1 ? err_name(w1) : "accepted",
			     w2 ? err_name(w2) : "accepted");
		if (fd >= 0)
			close(fd);
		dev_reset(&dev_b);
	}
out:
	free(c);
	vfmig_stream_free(&v);
}

/* ---- the state machine ---- */

static bool must_refuse(uint32_t from, uint32_t to)
{
	return from == S_ERROR || to == S_ERROR ||
	       (from == S_STOP_COPY &&
		(to == S_PRE_COPY || to == S_PRE_COPY_P2P));
}

static void test_arcs(struct dev *d)
{
	uint32_t from, to, now;
	unsigned int valid_ok = 0, valid_bad = 0;
	char name[128], first_bad[600] = "";
	int fd, nfd, ret;
	size_t done;

	for (from = 0; from < NSTATES; from++) {
		for (to = 0; to < NSTATES; to++) {
			ret = reach(d, from, &fd);
			if (must_refuse(from, to)) {
				snprintf(name, sizeof(name),
					 "refused arc %s -> %s: EINVAL, state unchanged",
					 NAME(from), NAME(to));
				if (!need(!ret, name, why))
					continue;
				ret = vfmig_set_state(d->h.device, to, &nfd);
				now = state_of(d);
				check_result(ret == -EINVAL && now == from &&
					     nfd < 0, name, "got %s, state %s",
					     ret ? err_name(ret) : "success",
					     NAME(now));
				if (nfd >= 0)
					close(nfd);
			} else {
				if (!ret && from == S_RESUMING && to != from) {
					/* Leaving RESUMING needs a stream. */
					ret = vfmig_write_data(fd, good.data, good.len,
							       LOAD_CHUNK, &done);
					if (ret)
						snprintf(why, sizeof(why),
							 "writing the good stream: %s",
							 err_name(ret));
				}
				if (!ret)
					ret = set(d, to, &nfd);
				if (!ret && nfd >= 0)
					close(nfd);
				if (!ret && state_of(d) != to) {
					snprintf(why, sizeof(why),
						 "%s -> %s succeeded but state is %s",
						 NAME(from), NAME(to),
						 NAME(state_of(d)));
					ret = -EIO;
				}
				if (ret) {
					valid_bad++;
					if (!first_bad[0])
						snprintf(first_bad, sizeof(first_bad),
							 "%s -> %s: %s", NAME(from),
							 NAME(to), why);
				} else {
					valid_ok++;
				}
			}
			if (fd >= 0)
				close(fd);
		}
	}
	check_result(!valid_bad && valid_ok == 64 - 17,
		     "every other (from, to) pair succeeds and lands in to (47 pairs)",
		     "%u ok, %u failed, first: %s", valid_ok, valid_bad, first_bad);
	dev_reset(d);
}

static void test_bad_argsz(struct dev *d)
{
	union {
		struct vfio_device_feature f;
		uint64_t align;
		unsigned char raw[64];
	} u;
	struct vfio_device_feature_mig_state s = { .device_state = S_STOP };
	struct vfio_precopy_info info;
	int fd = -1, ret;

	dev_reset(d);
	memset(&u, 0, sizeof(u));
	u.f.argsz = sizeof(u.f) + sizeof(s) - 4;
	u.f.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	memcpy(u.f.data, &s, sizeof(s));
	ret = ioctl(d->h.device, VFIO_DEVICE_FEATURE, &u.f) ? -errno : 0;
	check_result(ret == -EINVAL && state_of(d) == S_RUNNING,
		     "MIG_DEVICE_STATE SET with a short argsz: EINVAL, state unchanged",
		     "%s, state %s", ret ? err_name(ret) : "success",
		     NAME(state_of(d)));
	u.f.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	ret = ioctl(d->h.device, VFIO_DEVICE_FEATURE, &u.f) ? -errno : 0;
	check_result(ret == -EINVAL, "MIG_DEVICE_STATE GET with a short argsz: EINVAL",
		     "%s", ret ? err_name(ret) : "success");

	ret = set(d, S_PRE_COPY, &fd);
	if (!need(!ret && fd >= 0, "GET_PRECOPY_INFO with a short argsz: EINVAL",
		  ret ? why : "no fd"))
		goto out;
	/*
	 * flags is reserved before PRECOPY_INFOv2 and an output after it:
	 * vfmig writes 0 either way and never echoes the caller's bits.
	 */
	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	info.flags = ~0u;
	ret = ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info) ? -errno : 0;
	check_result(!ret && !info.flags,
		     "GET_PRECOPY_INFO writes no output flags, echoes none of the caller's",
		     "%s, flags 0x%x", ret ? err_name(ret) : "ok", info.flags);
	memset(&info, 0, sizeof(info));
	info.argsz = offsetof(struct vfio_precopy_info, initial_bytes) - 1;
	ret = ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info) ? -errno : 0;
	check_result(ret == -EINVAL, "GET_PRECOPY_INFO with a short argsz: EINVAL",
		     "%s", ret ? err_name(ret) : "success");
out:
	if (fd >= 0)
		close(fd);
	dev_reset(d);
}

/* ---- data files in the wrong state ---- */

static void test_wrong_state_io(struct dev *d)
{
	uint64_t initial, dirty;
	char b[4096];
	int fd, ret;
	ssize_t n;

	/* Saving fd (PRE_COPY). */
	ret = reach(d, S_PRE_COPY, &fd);
	if (need(!ret && fd >= 0, "saving fd: write() fails", why)) {
		memset(b, 0, sizeof(b));
		n = write(fd, b, sizeof(b));
		check_result(n < 0, "saving fd: write() fails", "wrote %zd", n);
		n = pread(fd, b, sizeof(b), 0);
		check_result(n < 0 && errno == ESPIPE, "saving fd: pread() fails with ESPIPE",
			     "%zd, %s", n, n < 0 ? strerror(errno) : "no error");
		close(fd);
	}

	/* Saving fd (STOP_COPY). */
	ret = reach(d, S_STOP_COPY, &fd);
	if (need(!ret && fd >= 0, "PRECOPY_INFO in STOP_COPY fails with EINVAL",
		 why)) {
		ret = vfmig_precopy_info(fd, &initial, &dirty);
		check_result(ret == -EINVAL, "PRECOPY_INFO in STOP_COPY fails with EINVAL",
			     "%s", ret ? err_name(ret) : "success");
		n = read(fd, b, sizeof(b));
		ret = set(d, S_STOP, NULL);
		if (need(n > 0 && !ret,
			 "after STOP_COPY -> STOP the old saving fd's read() fails with ENODEV",
			 ret ? why : "the first read in STOP_COPY failed")) {
			n = read(fd, b, sizeof(b));
			check_result(n < 0 && errno == ENODEV,
				     "after STOP_COPY -> STOP the old saving fd's read() fails with ENODEV",
				     "read %zd, %s", n,
				     n < 0 ? strerror(errno) : "no error");
		}
		close(fd);
	}

	/* Resuming fd. */
	ret = reach(d, S_RESUMING, &fd);
	if (need(!ret && fd >= 0, "resuming fd: read() fails", why)) {
		n = read(fd, b, sizeof(b));
		check_result(n < 0, "resuming fd: read() fails", "read %zd", n);
		n = pwrite(fd, good.data, VFMIG_HDR_SIZE, 0);
		check_result(n < 0 && errno == ESPIPE,
			     "resuming fd: pwrite() fails with ESPIPE", "%zd, %s",
			     n, n < 0 ? strerror(errno) : "no error");
		close(fd);
	}
	dev_reset(d);
}

/* ---- reset, close and poll ---- */

/* Read a little from @fd in @s, then reset; the fd must be dead. */
static void test_reset_during(uint32_t s)
{
	struct vfmig_buf b = { 0 };
	struct pollfd pfd;
	char name[128], buf[4096];
	uint8_t *mem = malloc(dev_a.size);
	int fd, ret, e;
	ssize_t n, n2;
	uint32_t now;

	snprintf(name, sizeof(name),
		 "reset during %s: state RUNNING, old fd read() ENODEV, poll POLLERR",
		 NAME(s));
	ret = reach(&dev_a, s, &fd);
	if (!need(!ret && fd >= 0 && mem, name, why))
		goto out;
	n = read(fd, buf, sizeof(buf));
	ret = dev_reset(&dev_a);
	now = state_of(&dev_a);
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	poll(&pfd, 1, 0);
	n2 = read(fd, buf, sizeof(buf));
	e = n2 < 0 ? errno : 0;
	check_result(n > 0 && !ret && now == S_RUNNING && n2 < 0 &&
		     e == ENODEV && (pfd.revents & POLLERR), name,
		     "first read %zd, reset %s, state %s, later read %zd (%s), revents %#x",
		     n, ret ? err_name(ret) : "ok", NAME(now), n2,
		     e ? strerror(e) : "no error", pfd.revents);
	close(fd);

	snprintf(name, sizeof(name),
		 "after a reset during %s: a new save of A and load into B work",
		 NAME(s));
	set_content(&dev_a, mem, run_seed ^ (8 + s), 0x77 + s);
	ret = save_stop_copy(&dev_a, &b);
	if (!ret)
		ret = load(&dev_b, b.data, b.len);
	if (check_result(!ret, name, "%s", why))
		check_result(same_content(&dev_b, mem, 0x77 + s),
			     "... and B equals A", "%s", why);
out:
	vfmig_buf_free(&b);
	free(mem);
}

static void test_reset_during_resuming(void)
{
	char name[] = "reset during RESUMING: state RUNNING, old fd write() ENODEV";
	int fd, ret, w;

	ret = reach(&dev_b, S_RESUMING, &fd);
	if (!need(!ret && fd >= 0, name, why))
		return;
	ret = vfmig_write_data(fd, good.data, good.len / 2, LOAD_CHUNK, NULL);
	dev_reset(&dev_b);
	w = write(fd, good.data, 64) < 0 ? -errno : 0;
	check_result(!ret && state_of(&dev_b) == S_RUNNING && w == -ENODEV, name,
		     "first half %s, state %s, write after reset %s",
		     err_name(ret), NAME(state_of(&dev_b)),
		     w ? err_name(w) : "accepted");
	close(fd);
}

static void test_close_device(void)
{
	const char *name = "closing the device fd kills the saving fd (ENODEV) and reopens RUNNING";
	char buf[4096];
	int fd, ret, e;
	ssize_t n;

	ret = reach(&dev_a, S_PRE_COPY, &fd);
	if (!need(!ret && fd >= 0, name, why))
		return;
	munmap(dev_a.map, dev_a.size);
	dev_a.map = NULL;
	close(dev_a.h.device);
	n = read(fd, buf, sizeof(buf));
	e = errno;
	dev_a.h.device = ioctl(dev_a.h.group, VFIO_GROUP_GET_DEVICE_FD, dev_a.bdf);
	ret = dev_a.h.device < 0 ? -errno : dev_map(&dev_a);
	check_result(n < 0 && e == ENODEV && !ret && state_of(&dev_a) == S_RUNNING,
		     name, "read %zd (%s), reopen %s, state %s", n,
		     n < 0 ? strerror(e) : "no error", err_name(ret),
		     NAME(state_of(&dev_a)));
	close(fd);
}

static void test_poll(void)
{
	struct pollfd pfd = { .events = POLLIN };
	char buf[65536];
	int fd, ret;
	ssize_t n;

	ret = reach(&dev_a, S_PRE_COPY, &fd);
	if (!need(!ret && fd >= 0, "poll: saving fd POLLIN at the start of PRE_COPY",
		  why))
		return;
	pfd.fd = fd;
	ret = poll(&pfd, 1, 0);
	check_result(ret == 1 && (pfd.revents & POLLIN) &&
		     !(pfd.revents & (POLLERR | POLLHUP)),
		     "poll: saving fd POLLIN at the start of PRE_COPY",
		     "poll %d revents %#x", ret, pfd.revents);
	ret = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	n = read(fd, buf, sizeof(buf));
	check_result(!ret && n > 0, "O_NONBLOCK read of the saving fd returns data",
		     "fcntl %d, read %zd %s", ret, n,
		     n < 0 ? strerror(errno) : "");
	ret = set(&dev_a, S_RUNNING, NULL);
	pfd.revents = 0;
	poll(&pfd, 1, 0);
	check_result(!ret && (pfd.revents & (POLLERR | POLLHUP)) ==
		     (POLLERR | POLLHUP),
		     "PRE_COPY -> RUNNING disables the fd: poll POLLERR|POLLHUP",
		     "%s revents %#x", ret ? why : "", pfd.revents);
	close(fd);

	/* STOP_COPY at its end: read() returns 0 again, poll readable. */
	ret = reach(&dev_a, S_STOP_COPY, &fd);
	if (!ret) {
		struct vfmig_buf b = { 0 };
		bool eof;

		ret = vfmig_read_data(fd, &b, &eof);
		pfd.fd = fd;
		pfd.revents = 0;
		poll(&pfd, 1, 0);
		n = read(fd, buf, sizeof(buf));
		check_result(!ret && eof && n == 0 && (pfd.revents & POLLIN),
			     "STOP_COPY at end of stream: read() 0 again, poll POLLIN",
			     "%s eof %d, read %zd, revents %#x",
			     ret ? err_name(ret) : "ok", eof, n, pfd.revents);
		vfmig_buf_free(&b);
		close(fd);
	} else {
		check_result(0, "STOP_COPY at end of stream: read() 0 again, poll POLLIN",
			     "%s", why);
	}
	dev_reset(&dev_a);
}

/* ---- odd-sized I/O, BAR mappings as buffers, early close ---- */

static const size_t odd_sizes[] = {
	1, 3, 31, 33, 79, 81, 4095, 65537, (1 << 20) + 1, 7,
};

/* Save @d through STOP_COPY with read() sizes from odd_sizes[]. */
static int save_odd_reads(struct dev *d, struct vfmig_buf *b)
{
	size_t i = 0, want;
	int fd = -1, ret;
	ssize_t n;

	b->len = 0;
	ret = set(d, S_STOP, NULL);
	if (!ret)
		ret = set(d, S_STOP_COPY, &fd);
	while (!ret) {
		want = odd_sizes[i++ % ARRAY_SIZE(odd_sizes)];
		if (b->cap - b->len < want) {
			b->cap = b->cap * 2 + want;
			b->data = realloc(b->data, b->cap);
			if (!b->data) {
				ret = -ENOMEM;
				break;
			}
		}
		n = read(fd, b->data + b->len, want);
		if (n < 0) {
			ret = -errno;
			snprintf(why, sizeof(why), "read(%zu) after %zu bytes: %s",
				 want, b->len, err_name(ret));
		} else if (!n) {
			break;
		}
		b->len += n > 0 ? n : 0;
	}
	if (!ret)
		ret = set(d, S_STOP, NULL);
	if (!ret)
		ret = set(d, S_RUNNING, NULL);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Load @buf into @d with write() sizes from odd_sizes[] (reversed). */
static int load_odd_writes(struct dev *d, const uint8_t *buf, size_t len)
{
	size_t pos = 0, i = 0, want;
	int fd = -1, ret;
	ssize_t n;

	ret = set(d, S_STOP, NULL);
	if (!ret)
		ret = set(d, S_RESUMING, &fd);
	while (!ret && pos < len) {
		want = odd_sizes[ARRAY_SIZE(odd_sizes) - 1 -
				 i++ % ARRAY_SIZE(odd_sizes)];
		if (want > len - pos)
			want = len - pos;
		n = write(fd, buf + pos, want);
		if (n <= 0) {
			ret = n ? -errno : -EIO;
			snprintf(why, sizeof(why),
				 "write(%zu) at %zu: %s", want, pos,
				 err_name(ret));
		} else {
			pos += n;
		}
	}
	if (!ret)
		ret = set(d, S_STOP, NULL);
	if (!ret) {
		/* The file is dead once RESUMING is left. */
		n = write(fd, buf, 1);
		if (n >= 0 || errno != ENODEV) {
			snprintf(why, sizeof(why),
				 "write after RESUMING -> STOP: %zd (%s), expected ENODEV",
				 n, n < 0 ? strerror(errno) : "accepted");
			ret = -EPROTO;
		}
	}
	if (!ret)
		ret = set(d, S_RUNNING, NULL);
	if (fd >= 0)
		close(fd);
	return ret;
}

static void test_odd_io(void)
{
	struct vfmig_buf b = { 0 };
	uint8_t *mem = malloc(dev_a.size);
	int ret;

	if (!need(mem, "odd-sized reads (1, 3, 31, ... bytes) give a valid stream",
		  "out of memory"))
		return;
	set_content(&dev_a, mem, run_seed ^ 21, 0x2121);
	ret = save_odd_reads(&dev_a, &b);
	if (check_result(!ret, "odd-sized reads (1, 3, 31, ... bytes) save A",
			 "%s", why))
		stream_well_formed("odd-sized reads (1, 3, 31, ... bytes) give a valid stream",
				   &b, &dev_a);
	set_content(&dev_b, NULL, run_seed ^ 22, 0);
	ret = b.len ? load_odd_writes(&dev_b, b.data, b.len) : -EIO;
	if (check_result(!ret,
			 "odd-sized writes (7, 1 MiB + 1, ... bytes) load B; its fd is dead after",
			 "%s", why))
		check_result(same_content(&dev_b, mem, 0x2121),
			     "... and B equals A", "%s", why);
	vfmig_buf_free(&b);
	free(mem);
}

/*
 * The buffers of read() and write() on a data file may themselves be
 * mappings of a vfio BAR, even of the same function: the driver must not
 * hold a lock the page fault needs while it copies (see "Locking" in
 * Documentation/migration.rst). A mistake here hangs the test.
 */
static void test_bar_buffers(void)
{
	const char *n1 = "STOP_COPY read() into B's BAR2 mapping";
	const char *n2 = "PRE_COPY read() of A into A's own BAR2 mapping";
	const char *n3 = "RESUMING write() of B from A's BAR2 mapping, then B equals the stream";
	size_t len = good.len, head;
	int fd, ret;
	ssize_t n;

	if (!need(len > dev_a.size / 2, n1, "no good stream"))
		return;
	head = dev_a.size / 2;

	/* A's STOP_COPY data, the first half into B's BAR2 (B running). */
	ret = reach(&dev_a, S_STOP_COPY, &fd);
	if (need(!ret, n1, why)) {
		n = read(fd, dev_b.map, head);
		check_result(n > 0, n1, "read %zd: %s", n,
			     n < 0 ? strerror(errno) : "");
		close(fd);
	}

	/* A reads its own pre-copy data into its own memory. */
	ret = reach(&dev_a, S_PRE_COPY, &fd);
	if (need(!ret, n2, why)) {
		n = read(fd, dev_a.map, head);
		check_result(n > 0, n2, "read %zd: %s", n,
			     n < 0 ? strerror(errno) : "");
		close(fd);
	}
	dev_reset(&dev_a);

	/* The good stream's first half from A's memory into B. */
	memcpy(dev_a.map, good.data, head);
	ret = reach(&dev_b, S_RESUMING, &fd);
	if (!need(!ret, n3, why))
		return;
	ret = vfmig_write_data(fd, dev_a.map, head, LOAD_CHUNK, NULL);
	if (!ret)
		ret = vfmig_write_data(fd, good.data + head, len - head,
				       LOAD_CHUNK, NULL);
	if (!ret)
		ret = set(&dev_b, S_STOP, NULL);
	else
		snprintf(why, sizeof(why), "write: %s", err_name(ret));
	if (!ret)
		ret = set(&dev_b, S_RUNNING, NULL);
	close(fd);
	check_result(!ret && same_content(&dev_b, good_mem, good_mask), n3, "%s",
		     why);
}

/* The saving fd closed early: the arcs still work. */
static void test_close_fd_early(void)
{
	const char *name = "saving fd closed in PRE_COPY: -> STOP_COPY -> STOP -> RUNNING work";
	int fd, ret;

	ret = reach(&dev_a, S_PRE_COPY, &fd);
	if (!need(!ret, name, why))
		return;
	close(fd);
	ret = set(&dev_a, S_STOP_COPY, NULL);
	if (!ret)
		ret = set(&dev_a, S_STOP, NULL);
	if (!ret)
		ret = set(&dev_a, S_RUNNING, NULL);
	check_result(!ret, name, "%s", why);

	name = "resuming fd closed half-way: RESUMING -> STOP fails with EINVAL";
	ret = reach(&dev_b, S_RESUMING, &fd);
	if (!need(!ret, name, why))
		return;
	ret = vfmig_write_data(fd, good.data, good.len / 2, LOAD_CHUNK, NULL);
	close(fd);
	if (!ret)
		ret = vfmig_set_state(dev_b.h.device, S_STOP, NULL);
	check_result(ret == -EINVAL && state_of(&dev_b) == S_ERROR, name,
		     "%s, state %s", ret ? err_name(ret) : "accepted",
		     NAME(state_of(&dev_b)));
	dev_reset(&dev_b);
}

/* ---- races with reset ---- */

/*
 * struct racer - a thread doing data-file I/O while the main thread resets
 * @fd: the data file
 * @writing: write @src (a resuming file) instead of reading
 * @src: what to write
 * @len: its length
 * @done: bytes moved
 * @err: 0 at the end of the data (EOF, ENOMSG or all written), else the
 *	errno that stopped it
 */
struct racer {
	int fd;
	bool writing;
	const uint8_t *src;
	size_t len;
	size_t done;
	int err;
};

static void *racer_run(void *arg)
{
	static __thread char buf[65536];
	struct racer *r = arg;
	ssize_t n;

	for (;;) {
		if (r->writing) {
			if (r->done >= r->len)
				break;
			n = write(r->fd, r->src + r->done,
				  r->len - r->done < LOAD_CHUNK ?
				  r->len - r->done : LOAD_CHUNK);
		} else {
			n = read(r->fd, buf, sizeof(buf));
		}
		if (n < 0) {
			r->err = errno == ENOMSG ? 0 : errno;
			break;
		}
		if (!n)
			break;
		r->done += n;
	}
	return NULL;
}

/*
 * Reset @d after @us microseconds while a thread moves data in state @s;
 * returns false with why[] set if something went wrong.
 */
static unsigned int race_hits;
/* Extra random timings a race test may take before it must have hit. */
#define RACE_RETRIES	24

static int sysfs_reset(struct dev *d)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", d->bdf);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}

static bool race_once(struct dev *d, uint32_t s, unsigned int us, bool sysfs)
{
	struct racer r = { .writing = s == S_RESUMING, .src = good.data,
			   .len = good.len };
	struct timespec ts;
	pthread_t t;
	int ret;

	ret = reach(d, s, &r.fd);
	if (ret)
		return false;
	if (pthread_create(&t, NULL, racer_run, &r)) {
		snprintf(why, sizeof(why), "pthread_create failed");
		close(r.fd);
		return false;
	}
	usleep(us);
	ret = sysfs ? sysfs_reset(d) : dev_reset(d);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	if (pthread_timedjoin_np(t, NULL, &ts)) {
		snprintf(why, sizeof(why),
			 "%s: the I/O thread is still stuck 30 s after a reset at %u us",
			 NAME(s), us);
		check_result(0, "reset races: no hang", "%s", why);
		exit(1);	/* the device cannot be trusted any more */
	}
	close(r.fd);
	race_hits += r.err == ENODEV;
	if (ret || state_of(d) != S_RUNNING ||
	    (r.err && r.err != ENODEV)) {
		snprintf(why, sizeof(why),
			 "%s, reset at %u us: reset %s, state %s, I/O stopped after %zu bytes with %s",
			 NAME(s), us, ret ? err_name(ret) : "ok",
			 NAME(state_of(d)), r.done,
			 r.err ? strerror(r.err) : "the end of data");
		return false;
	}
	if (hw_command(d) != d->cmd0) {
		snprintf(why, sizeof(why),
			 "%s, %s reset at %u us: PCI_COMMAND is %#x after it, was %#x (memory decoding %s); I/O stopped after %zu bytes with %s",
			 NAME(s), sysfs ? "sysfs" : "ioctl", us, hw_command(d),
			 d->cmd0,
			 hw_command(d) & PCI_COMMAND_MEMORY ? "on" : "OFF",
			 r.done, r.err ? strerror(r.err) : "the end of data");
		set_hw_command(d, d->cmd0);
		return false;
	}
	return true;
}

static void test_reset_races(void)
{
	static const unsigned int delays[] = {
		0, 50, 200, 1000, 3000, 10000, 30000, 100000,
	};
	static const uint32_t states[] = {
		S_PRE_COPY, S_STOP_COPY, S_RESUMING, S_STOP_COPY,
	};
	unsigned int i, k, bad;
	char name[128];
	bool ok;
	int ret;

	for (k = 0; k < ARRAY_SIZE(states); k++) {
		struct dev *d = states[k] == S_RESUMING ? &dev_b : &dev_a;
		/* The last round resets through sysfs, outside VFIO. */
		bool sysfs = k == ARRAY_SIZE(states) - 1;

		snprintf(name, sizeof(name),
			 "%s while a thread %s the %s data fd (8 timings): no hang, ENODEV, RUNNING, decoding kept",
			 sysfs ? "sysfs reset" : "reset",
			 states[k] == S_RESUMING ? "writes" : "reads",
			 NAME(states[k]));
		race_hits = 0;
		for (bad = 0, i = 0; i < ARRAY_SIZE(delays); i++) {
			ok = race_once(d, states[k], delays[i], sysfs);
			if (!ok && !bad++)
				check_result(0, name, "%s", why);
		}
		/*
		 * A race test that never raced proves nothing: try more
		 * timings, within a bound, until a reset cuts a transfer.
		 */
		for (i = 0; !race_hits && !bad && i < RACE_RETRIES; i++) {
			ok = race_once(d, states[k], (unsigned int)(random() % 3000),
				       sysfs);
			if (!ok && !bad++)
				check_result(0, name, "%s", why);
		}
		if (!bad)
			check_result(1, name, "%s", "");
		snprintf(name, sizeof(name), "%s%s: a reset cut a transfer in flight",
			 NAME(states[k]), sysfs ? " (sysfs)" : "");
		check_result(race_hits > 0, name,
			     "no reset met a transfer in %zu tries: the race was not exercised",
			     ARRAY_SIZE(delays) + i);
	}

	/* Afterwards both functions migrate as before. */
	set_content(&dev_a, good_mem, run_seed ^ 1, good_mask);
	ret = save_stop_copy(&dev_a, &good);
	if (!ret)
		ret = load(&dev_b, good.data, good.len);
	check_result(!ret && same_content(&dev_b, good_mem, good_mask),
		     "after the reset races a save of A and load into B work",
		     "%s", why);
}

/*
 * After @what, @d must still work as a device: a word written through the
 * BAR2 mapping reads back through the mapping and through the region,
 * which needs memory decoding on (why[] shows the PCI command register as
 * the hardware holds it, read through sysfs).
 */
static void test_still_works(struct dev *d, const char *what)
{
	uint64_t v = run_seed ^ 0x5a5a5a5a5a5a5a5aull, m, r = 0;
	uint16_t cmd = hw_command(d);
	char name[160];
	int ret;

	snprintf(name, sizeof(name),
		 "after %s: %s's BAR2 mapping and region still read back writes",
		 what, d == &dev_a ? "A" : "B");
	memcpy(d->map + 4096, &v, 8);
	memcpy(&m, d->map + 4096, 8);
	ret = pread(d->h.device, &r, 8, d->bar2 + 4096) == 8 ? 0 : -errno;
	check_result(m == v && !ret && r == v, name,
		     "wrote %#llx, mapping reads %#llx, region reads %#llx (%s); state %s; PCI_COMMAND %#x (memory decoding %s)",
		     (unsigned long long)v, (unsigned long long)m,
		     (unsigned long long)r, ret ? err_name(ret) : "ok",
		     NAME(state_of(d)), cmd,
		     cmd == 0xffff ? "?" : cmd & PCI_COMMAND_MEMORY ? "on" : "OFF");
	if (cmd != 0xffff && cmd != d->cmd0) {
		/* Repair it, so that the next tests test something else. */
		printf("# %s: PCI_COMMAND %#x, was %#x after the open: writing it back\n",
		       d->bdf, cmd, d->cmd0);
		set_hw_command(d, d->cmd0);
	}
}

/*
 * A reset from outside VFIO (sysfs "reset", as an admin or the PCI core
 * would) reaches the driver through reset_done() as well.
 */
static void test_sysfs_reset(struct dev *d)
{
	const char *name = "sysfs reset during STOP_COPY: state RUNNING, old fd read() ENODEV";
	char buf[4096];
	int fd, ret, e;
	ssize_t n;

	ret = reach(d, S_STOP_COPY, &fd);
	if (!need(!ret, name, why))
		return;
	ret = sysfs_reset(d);
	if (!need(!ret, name, err_name(ret))) {
		close(fd);
		return;
	}
	n = read(fd, buf, sizeof(buf));
	e = n < 0 ? errno : 0;
	check_result(state_of(d) == S_RUNNING && n < 0 && e == ENODEV, name,
		     "state %s, read %zd (%s)", NAME(state_of(d)), n,
		     e ? strerror(e) : "no error");
	close(fd);
}

/*
 * struct churn - a thread running save cycles while resets fall on it
 * @d: the function
 * @bar_only: no migration: read BAR2 through the VFIO region instead, to
 *	tell vfmig's problems from the platform's
 * @stop: set by the main thread to end the loop
 * @cycles: cycles completed
 * @cut: reads that failed with ENODEV (a reset killed the fd)
 * @arcs_cut: RUNNING -> STOP_COPY arcs a reset failed with ENODEV
 * @bad: unexpected results (a refused arc, another errno)
 * @first: the first unexpected result
 */
struct churn {
	struct dev *d;
	bool bar_only;
	atomic_bool stop;
	unsigned int cycles;
	unsigned int cut;
	unsigned int arcs_cut;
	unsigned int bad;
	char first[160];
};

static void churn_bad(struct churn *c, const char *what, int err)
{
	if (!c->bad++)
		snprintf(c->first, sizeof(c->first), "%s: %s", what,
			 err_name(err));
}

static void *churn_run(void *arg)
{
	static __thread char buf[1 << 20];
	struct churn *c = arg;
	int dev = c->d->h.device, fd, ret;
	ssize_t n;

	while (!atomic_load(&c->stop) && c->bar_only) {
		if (pread(dev, buf, sizeof(buf), c->d->bar2) < 0)
			churn_bad(c, "region read", -errno);
		c->cycles++;
	}
	while (!atomic_load(&c->stop)) {
		/*
		 * RUNNING -> STOP_COPY and back are valid from every state a
		 * reset can leave (RUNNING) or this loop reaches: they must
		 * never be refused, whenever the resets fall.
		 */
		ret = vfmig_set_state(dev, S_STOP_COPY, &fd);
		/*
		 * A reset that lands while the arc holds the state mutex
		 * fails it with ENODEV rather than letting it snapshot a
		 * reset function (Documentation/migration.rst, "Resets"): the
		 * reset wins and the state is RUNNING, as after a cut save.
		 */
		if (ret == -ENODEV && state_of(c->d) == S_RUNNING) {
			c->arcs_cut++;
			continue;
		}
		if (ret) {
			churn_bad(c, "-> STOP_COPY", ret);
			continue;
		}
		if (fd < 0) {
			/* Already in STOP_COPY: no new fd. */
			vfmig_set_state(dev, S_RUNNING, NULL);
			continue;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		if (n < 0 && errno == ENODEV)
			c->cut++;
		else if (n < 0)
			churn_bad(c, "read", -errno);
		close(fd);
		ret = vfmig_set_state(dev, S_RUNNING, NULL);
		if (ret)
			churn_bad(c, "-> RUNNING", ret);
		c->cycles++;
	}
	return NULL;
}

/*
 * Save cycles in one thread, resets (ioctl and sysfs) in this one: the
 * driver's deferred reset, for resets that land while the state mutex is
 * held, is what this exercises.
 */
static void test_reset_churn(struct dev *d, bool use_sysfs, bool bar_only)
{
	static const char * const names[] = {
		"save cycles in a thread, ioctl resets: no hang, no arc refused but by a reset",
		"save cycles in a thread, ioctl and sysfs resets: no hang, no arc refused but by a reset",
		"region reads in a thread, ioctl resets: no hang",
	};
	const char *name = names[bar_only ? 2 : use_sysfs];
	struct churn c = { .d = d, .bar_only = bar_only };
	unsigned int resets = 0, sysfs = 0;
	struct timespec ts, end;
	pthread_t t;

	dev_reset(d);
	if (!need(!pthread_create(&t, NULL, churn_run, &c), name,
		  "pthread_create failed"))
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	/* VFMIG_CHURN_SECS: run longer when hunting a rare race. */
	end.tv_sec += getenv("VFMIG_CHURN_SECS") ?
		      atoi(getenv("VFMIG_CHURN_SECS")) : 2;
	do {
		usleep(1000 + (resets % 7) * 700);
		if (use_sysfs && resets % 5 == 4)
			sysfs += !sysfs_reset(d);
		else
			dev_reset(d);
		resets++;
		clock_gettime(CLOCK_MONOTONIC, &ts);
	} while (ts.tv_sec < end.tv_sec ||
		 (ts.tv_sec == end.tv_sec && ts.tv_nsec < end.tv_nsec));
	atomic_store(&c.stop, true);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	if (pthread_timedjoin_np(t, NULL, &ts)) {
		check_result(0, name, "the save thread is stuck 30 s after the last reset");
		exit(1);
	}
	dev_reset(d);
	printf("# churn: %u resets (%u by sysfs), %u save cycles, %u cut short, %u arcs cut\n",
	       resets, sysfs, c.cycles, c.cut, c.arcs_cut);
	check_result(!c.bad && c.cycles && state_of(d) == S_RUNNING, name,
		     "%u unexpected results, first: %s; %u cycles; state %s",
		     c.bad, c.first, c.cycles, NAME(state_of(d)));
}

/* ---- the harness: fixtures and tests ---- */

/* Make the reference stream from A: known content, a STOP_COPY save. */
static int make_good(void)
{
	int ret;

	good_mem = malloc(dev_a.size);
	good_mask = 0xa5a50f0f;
	if (!good_mem)
		return -ENOMEM;
	ret = set_content(&dev_a, good_mem, run_seed ^ 1, good_mask);
	if (!ret)
		ret = save_stop_copy(&dev_a, &good);
	return ret;
}

/*
 * Open A and B (from VFMIG_BDF_A and VFMIG_BDF_B) and check they can be
 * migrated at all; every fixture's setup, in the test's own process.
 */
static void open_pair(struct __test_metadata *_metadata)
{
	const char *a = bdf_from_env("VFMIG_BDF_A");
	const char *b = bdf_from_env("VFMIG_BDF_B");

	ASSERT_NE(NULL, a) TH_LOG("set VFMIG_BDF_A and VFMIG_BDF_B");
	ASSERT_NE(NULL, b) TH_LOG("set VFMIG_BDF_A and VFMIG_BDF_B");
	run_seed = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	srandom(run_seed);
	printf("# seed %#llx\n", (unsigned long long)run_seed);
	ASSERT_EQ(0, dev_open(&dev_a, a)) TH_LOG("open A: %s", why);
	ASSERT_EQ(0, dev_open(&dev_b, b)) TH_LOG("open B: %s", why);
	ASSERT_TRUE(dev_a.size == dev_b.size && dev_a.size >= (1 << 20))
		TH_LOG("BAR2 sizes %llu and %llu", (unsigned long long)dev_a.size,
		       (unsigned long long)dev_b.size);
	ASSERT_TRUE(test_features()) TH_LOG("no migration on A or B");
}

static void close_pair(void)
{
	dev_close(&dev_a);
	dev_close(&dev_b);
	vfmig_buf_free(&good);
	free(good_mem);
}

FIXTURE(pair) {
	int unused;
};

FIXTURE_SETUP(pair)
{
	open_pair(_metadata);
}

FIXTURE_TEARDOWN(pair)
{
	close_pair();
}

/* The uAPI as vfmig implements it; every test may take its time (TCG). */
#define MIG_TEST(name)	TEST_F_TIMEOUT(pair, name, 300)

MIG_TEST(data_size)
{
	test_data_size(&dev_b);
	checks_end(_metadata);
}

MIG_TEST(round_trip_stop_copy)
{
	test_round_trip_stop_copy();
	checks_end(_metadata);
}

MIG_TEST(round_trip_pre_copy)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_round_trip_pre_copy(false);
	checks_end(_metadata);
}

MIG_TEST(round_trip_pre_copy_changed_after_pass)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_round_trip_pre_copy(true);
	checks_end(_metadata);
}

MIG_TEST(dirty_rounds)
{
	test_dirty_rounds();
	checks_end(_metadata);
}

MIG_TEST(dirty_rounds_with_a_writer)
{
	test_dirty_concurrent_writer();
	checks_end(_metadata);
}

MIG_TEST(dirty_tracking_ends)
{
	test_dirty_ends();
	checks_end(_metadata);
}

MIG_TEST(dma_logging)
{
	test_dma_logging(&dev_a);
	checks_end(_metadata);
}

MIG_TEST(rejects_bad_streams)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_rejects();
	checks_end(_metadata);
}

MIG_TEST(arcs)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_arcs(&dev_b);
	checks_end(_metadata);
}

MIG_TEST(bad_argsz)
{
	test_bad_argsz(&dev_a);
	checks_end(_metadata);
}

MIG_TEST(wrong_state_io)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_wrong_state_io(&dev_b);
	checks_end(_metadata);
}

MIG_TEST(reset_during_resuming)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_reset_during_resuming();
	checks_end(_metadata);
}

MIG_TEST(poll)
{
	test_poll();
	checks_end(_metadata);
}

MIG_TEST(odd_sized_io)
{
	test_odd_io();
	checks_end(_metadata);
}

MIG_TEST(bar_mapped_buffers)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_bar_buffers();
	checks_end(_metadata);
}

MIG_TEST(close_fd_early)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_close_fd_early();
	test_still_works(&dev_a, "data fds closed early");
	checks_end(_metadata);
}

MIG_TEST(sysfs_reset_in_stop_copy)
{
	test_sysfs_reset(&dev_a);
	test_still_works(&dev_a, "a sysfs reset during STOP_COPY");
	checks_end(_metadata);
}

MIG_TEST(reset_races)
{
	ASSERT_EQ(0, make_good()) TH_LOG("the reference save: %s", why);
	test_reset_races();
	test_still_works(&dev_a, "resets racing data-fd I/O");
	test_still_works(&dev_b, "resets racing data-fd I/O");
	checks_end(_metadata);
}

MIG_TEST(close_device)
{
	test_close_device();
	checks_end(_metadata);
}

/* A reset while a saving fd is open, in each state that has one. */
FIXTURE(reset_during) {
	int unused;
};

FIXTURE_VARIANT(reset_during) {
	uint32_t state;
};

FIXTURE_VARIANT_ADD(reset_during, pre_copy) {
	.state = S_PRE_COPY,
};

FIXTURE_VARIANT_ADD(reset_during, stop_copy) {
	.state = S_STOP_COPY,
};

FIXTURE_SETUP(reset_during)
{
	open_pair(_metadata);
}

FIXTURE_TEARDOWN(reset_during)
{
	close_pair();
}

TEST_F_TIMEOUT(reset_during, saving_fd_dies, 300)
{
	test_reset_during(variant->state);
	checks_end(_metadata);
}

/*
 * Stress, opt-in (VFMIG_STRESS=1): thousands of resets racing save cycles
 * once wedged the test VM (Documentation/vfmigctl.md); bar_only races
 * region reads instead, to tell vfmig's problems from the platform's.
 */
FIXTURE(churn) {
	int unused;
};

FIXTURE_VARIANT(churn) {
	bool sysfs;
	bool bar_only;
};

FIXTURE_VARIANT_ADD(churn, ioctl_resets) {
	.sysfs = false,
	.bar_only = false,
};

FIXTURE_VARIANT_ADD(churn, ioctl_and_sysfs_resets) {
	.sysfs = true,
	.bar_only = false,
};

FIXTURE_VARIANT_ADD(churn, region_reads_only) {
	.sysfs = false,
	.bar_only = true,
};

FIXTURE_SETUP(churn)
{
	if (!getenv("VFMIG_STRESS"))
		SKIP(return, "stress test: set VFMIG_STRESS=1 to run it");
	open_pair(_metadata);
}

FIXTURE_TEARDOWN(churn)
{
	close_pair();
}

TEST_F_TIMEOUT(churn, no_hang, 600)
{
	test_reset_churn(&dev_a, variant->sysfs, variant->bar_only);
	test_still_works(&dev_a, "resets racing save cycles");
	checks_end(_metadata);
}

/*
 * R: an ivshmem-plain on the root bus (VFMIG_BDF_R), which has no PCI reset
 * method: vfio-pci-core alone answers VFIO_DEVICE_RESET with EINVAL, and a
 * refused stream left it in ERROR until the device was closed (kernel
 * review #4). vfmig resets what it carries instead, in ERROR only.
 */
static struct dev dev_r;

FIXTURE(noreset) {
	int unused;
};

FIXTURE_SETUP(noreset)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	const char *r = bdf_from_env("VFMIG_BDF_R");

	if (!r)
		SKIP(return, "no function without a reset method: set VFMIG_BDF_R");
	ASSERT_EQ(0, dev_open(&dev_r, r)) TH_LOG("open R: %s", why);
	ASSERT_EQ(0, ioctl(dev_r.h.device, VFIO_DEVICE_GET_INFO, &info));
	/* Else this tests nothing: the rig must give R no reset method. */
	ASSERT_FALSE(info.flags & VFIO_DEVICE_FLAGS_RESET)
		TH_LOG("%s has a reset method", r);
	run_seed = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
}

FIXTURE_TEARDOWN(noreset)
{
	dev_close(&dev_r);
}

/* A refused stream puts R in ERROR; VFIO_DEVICE_RESET takes it out. */
TEST_F_TIMEOUT(noreset, reset_leaves_error, 300)
{
	struct vfmig_buf saved = {};
	struct load_res lr;
	uint8_t *mem = malloc(dev_r.size);
	int ret;

	ASSERT_NE(NULL, mem);
	ret = set_content(&dev_r, mem, run_seed, 0x5a);
	if (!ret)
		ret = save_stop_copy(&dev_r, &saved);
	if (check_result(!ret, "R: a STOP_COPY save", "%s", why)) {
		saved.data[saved.len / 2] ^= 0xff;
		ret = load_raw(&dev_r, saved.data, saved.len, &lr);
		check_result(!ret && lr.state == S_ERROR,
			     "R: a corrupted stream leaves ERROR", "%s, state %s",
			     ret ? why : "loaded", NAME(lr.state));
		ret = dev_reset(&dev_r);
		check_result(!ret && state_of(&dev_r) == S_RUNNING,
			     "R: VFIO_DEVICE_RESET in ERROR -> RUNNING", "%s, state %s",
			     ret ? err_name(ret) : "reset ok", NAME(state_of(&dev_r)));
		saved.data[saved.len / 2] ^= 0xff;
		set_content(&dev_r, NULL, run_seed ^ 1, 0);
		ret = load(&dev_r, saved.data, saved.len);
		if (check_result(!ret, "R: then the good stream loads", "%s", why))
			check_result(same_content(&dev_r, mem, 0x5a),
				     "... and R holds its content", "%s", why);
	}
	ret = dev_reset(&dev_r);
	check_result(ret == -EINVAL, "R: VFIO_DEVICE_RESET outside ERROR is vfio's (EINVAL)",
		     "%s", ret ? err_name(ret) : "succeeded");
	vfmig_buf_free(&saved);
	free(mem);
	checks_end(_metadata);
}

/*
 * A VMM looping on a refused stream: every round must end RUNNING again;
 * the kernel log must not get a line per round (suite-migration counts
 * them; kernel review #16).
 */
#define REFUSAL_ROUNDS	200

TEST_F_TIMEOUT(noreset, refusal_loop, 300)
{
	uint8_t junk[64];
	struct load_res lr;
	int i, bad = 0;

	memset(junk, 0xa5, sizeof(junk));
	for (i = 0; i < REFUSAL_ROUNDS; i++) {
		if (load_raw(&dev_r, junk, sizeof(junk), &lr) ||
		    lr.state != S_ERROR || dev_reset(&dev_r) ||
		    state_of(&dev_r) != S_RUNNING)
			bad++;
	}
	check_result(!bad, "R: 200 refused loads, each reset back to RUNNING",
		     "%d rounds went wrong", bad);
	checks_end(_metadata);
}

TEST_HARNESS_MAIN
