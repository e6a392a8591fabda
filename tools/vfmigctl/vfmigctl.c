// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmigctl: drive VFIO live migration of a function bound to
 * vfmig-vfio-pci (or any VFIO migration driver, uAPI v2) by hand, and
 * inspect vfmig migration streams.
 *
 *	vfmigctl state BDF                 migration state and flags
 *	vfmigctl save BDF FILE [--precopy] save the function's state to FILE
 *	vfmigctl load BDF FILE             load FILE into the function
 *	vfmigctl reset BDF                 VFIO_DEVICE_RESET (leaves ERROR)
 *	vfmigctl info FILE [-v]            check a stream file offline
 *
 * The device is opened through its VFIO group, which must not be open
 * elsewhere (QEMU): this is a tool for test rigs and debugging.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "../lib/crc32c.h"
#include "../lib/vfio_open.h"
#include "../lib/vfio_mig.h"
#include "../lib/vfmig_stream.h"

/* QEMU writes the resuming data file in chunks of this size at most. */
#define LOAD_CHUNK	(32 * 1024)

static const char *prog = "vfmigctl";

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/*
 * Report a failed step: what was attempted and the errno text (@err, either
 * sign; 0 when there is none). Returns a negative errno to pass on.
 */
static int __attribute__((format(printf, 2, 3)))
fail(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err < 0 ? -err : err));
	fprintf(stderr, "\n");
	if (err < 0)
		return err;
	return err ? -err : -EIO;
}

static void hint_dmesg(void)
{
	fprintf(stderr,
		"%s: hint: the driver logs why it refused in the kernel log: dmesg | grep 'vfmig:'\n",
		prog);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_dev(const char *bdf, struct vfio_handle *h)
{
	char err[256];
	uint64_t flags;
	int ret;

	ret = vfio_open_device(bdf, h, err, sizeof(err));
	if (ret) {
		fail(0, "open %s through VFIO: %s", bdf, err);
		fprintf(stderr,
			"%s: hint: is %s bound to vfmig_vfio_pci (driver_override) and its group not open elsewhere?\n",
			prog, bdf);
		return ret;
	}
	ret = vfmig_mig_flags(h->device, &flags);
	if (ret || !(flags & VFIO_MIGRATION_STOP_COPY)) {
		fail(ret, "%s does not offer VFIO migration (VFIO_DEVICE_FEATURE_MIGRATION)",
		     bdf);
		vfio_close_device(h);
		return ret ? ret : -EOPNOTSUPP;
	}
	return 0;
}

/*
 * Move the device to @to, reporting a failure with the state the device
 * was left in (a failed arc may leave it anywhere on the path, or in
 * ERROR).
 */
static int step(int dev, const char *bdf, uint32_t to, int *data_fd)
{
	uint32_t from, cur;
	int ret;

	vfmig_get_state(dev, &from);
	ret = vfmig_set_state(dev, to, data_fd);
	if (!ret)
		return 0;
	fail(ret, "%s: migration state %s -> %s failed", bdf,
	     vfmig_state_name(from), vfmig_state_name(to));
	if (!vfmig_get_state(dev, &cur))
		fprintf(stderr, "%s: the device is now in %s%s\n", prog,
			vfmig_state_name(cur),
			cur == VFIO_DEVICE_STATE_ERROR ?
			" (only a reset leaves it: vfmigctl reset BDF)" : "");
	hint_dmesg();
	return ret;
}

/* After a failure, try to leave the source function running. */
static void back_to_running(int dev, const char *bdf)
{
	uint32_t cur;

	if (vfmig_get_state(dev, &cur) || cur == VFIO_DEVICE_STATE_RUNNING ||
	    cur == VFIO_DEVICE_STATE_ERROR)
		return;
	if (vfmig_set_state(dev, VFIO_DEVICE_STATE_RUNNING, NULL))
		fprintf(stderr, "%s: %s: could not return to RUNNING either\n",
			prog, bdf);
	else
		fprintf(stderr, "%s: %s: returned to RUNNING\n", prog, bdf);
}

static int require_running(int dev, const char *bdf)
{
	uint32_t cur;
	int ret = vfmig_get_state(dev, &cur);

	if (ret)
		return fail(ret, "%s: cannot read the migration state", bdf);
	if (cur != VFIO_DEVICE_STATE_RUNNING) {
		fail(0, "%s is in %s, expected RUNNING (vfmigctl reset BDF)",
		     bdf, vfmig_state_name(cur));
		return -EBUSY;
	}
	return 0;
}

static int cmd_state(const char *bdf)
{
	struct vfio_handle h;
	uint64_t flags, size;
	uint32_t cur;
	char fs[64];
	int ret;

	if (open_dev(bdf, &h))
		return 1;
	vfmig_mig_flags(h.device, &flags);
	ret = vfmig_get_state(h.device, &cur);
	if (ret) {
		vfio_close_device(&h);
		fail(ret, "%s: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE (get)", bdf);
		return 1;
	}
	say("%s\n", vfmig_state_name(cur));
	say("migration flags: %s\n", vfmig_flags_str(flags, fs, sizeof(fs)));
	if (!vfmig_data_size(h.device, &size))
		say("stop-copy data size: %llu bytes\n",
		    (unsigned long long)size);
	vfio_close_device(&h);
	return 0;
}

static int cmd_reset(const char *bdf)
{
	struct vfio_handle h;
	uint32_t cur = VFIO_DEVICE_STATE_ERROR;
	int ret;

	if (open_dev(bdf, &h))
		return 1;
	ret = ioctl(h.device, VFIO_DEVICE_RESET);
	if (ret) {
		vfio_close_device(&h);
		fail(ret, "%s: VFIO_DEVICE_RESET", bdf);
		return 1;
	}
	vfmig_get_state(h.device, &cur);
	say("%s: reset, state %s\n", bdf, vfmig_state_name(cur));
	vfio_close_device(&h);
	return 0;
}

static int write_file(const char *path, const struct vfmig_buf *b)
{
	size_t pos = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(errno, "create %s", path);
	while (pos < b->len) {
		n = write(fd, b->data + pos, b->len - pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail(n ? errno : EIO, "write %s", path);
			close(fd);
			return -EIO;
		}
		pos += n;
	}
	if (close(fd))
		return fail(errno, "close %s", path);
	return 0;
}

static int precopy(int dev, const char *bdf, int *fd, struct vfmig_buf *b)
{
	uint64_t initial, dirty;
	bool eof;
	int ret;

	ret = step(dev, bdf, VFIO_DEVICE_STATE_PRE_COPY, fd);
	if (ret)
		return ret;
	if (*fd < 0)
		return fail(0, "%s: RUNNING -> PRE_COPY gave no data file", bdf);
	ret = vfmig_precopy_info(*fd, &initial, &dirty);
	if (ret)
		return fail(ret, "%s: VFIO_MIG_GET_PRECOPY_INFO in PRE_COPY",
			    bdf);
	say("pre-copy: initial_bytes %llu, dirty_bytes %llu\n",
	    (unsigned long long)initial, (unsigned long long)dirty);
	ret = vfmig_read_data(*fd, b, &eof);
	if (ret)
		return fail(ret, "%s: read the saving data file in PRE_COPY (after %zu bytes)",
			    bdf, b->len);
	if (eof)
		return fail(0, "%s: the PRE_COPY data ended with end-of-file, expected ENOMSG",
			    bdf);
	ret = vfmig_precopy_info(*fd, &initial, &dirty);
	if (ret)
		return fail(ret, "%s: VFIO_MIG_GET_PRECOPY_INFO at the end of PRE_COPY data",
			    bdf);
	say("pre-copy: read %zu bytes to ENOMSG; now initial_bytes %llu, dirty_bytes %llu\n",
	    b->len, (unsigned long long)initial, (unsigned long long)dirty);
	return 0;
}

static int cmd_save(const char *bdf, const char *path, bool pre)
{
	struct vfmig_buf b = { 0 };
	struct vfio_handle h;
	size_t pre_len = 0;
	int fd = -1, ret;
	uint64_t size = 0;
	double t0, t_stop = 0, t_end;
	bool eof;

	if (open_dev(bdf, &h))
		return 1;
	ret = require_running(h.device, bdf);
	if (ret)
		goto out;
	vfmig_data_size(h.device, &size);
	t0 = now();
	if (pre) {
		ret = precopy(h.device, bdf, &fd, &b);
		if (ret)
			goto out;
		pre_len = b.len;
		/* The kernel steps PRE_COPY -> PRE_COPY_P2P -> STOP_COPY. */
		t_stop = now();
		ret = step(h.device, bdf, VFIO_DEVICE_STATE_STOP_COPY, NULL);
		if (ret)
			goto out;
	} else {
		ret = step(h.device, bdf, VFIO_DEVICE_STATE_STOP, NULL);
		if (ret)
			goto out;
		t_stop = now();
		ret = step(h.device, bdf, VFIO_DEVICE_STATE_STOP_COPY, &fd);
		if (ret)
			goto out;
		if (fd < 0) {
			ret = -EIO;
			fail(0, "%s: STOP -> STOP_COPY gave no data file", bdf);
			goto out;
		}
	}
	ret = vfmig_read_data(fd, &b, &eof);
	if (!ret && !eof)
		ret = -ENOMSG;	/* not allowed in STOP_COPY */
	if (ret) {
		fail(ret, "%s: read the saving data file in STOP_COPY (after %zu bytes)",
		     bdf, b.len);
		hint_dmesg();
		goto out;
	}
	t_end = now();
	ret = step(h.device, bdf, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret)
		goto out;
	close(fd);
	fd = -1;
	ret = step(h.device, bdf, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		goto out;
	ret = write_file(path, &b);
	if (ret)
		goto out;
	say("saved %zu bytes from %s to %s in %.3f s", b.len, bdf, path,
	    t_end - t0);
	if (pre)
		say(" (pre-copy %zu bytes, stop-copy %zu bytes)",
		    pre_len, b.len - pre_len);
	say("; device stopped for %.3f s; MIG_DATA_SIZE said %llu\n",
	    t_end - t_stop, (unsigned long long)size);
out:
	if (fd >= 0)
		close(fd);
	if (ret)
		back_to_running(h.device, bdf);
	vfmig_buf_free(&b);
	vfio_close_device(&h);
	return ret ? 1 : 0;
}

static int read_file(const char *path, struct vfmig_buf *b)
{
	struct stat st;
	size_t pos = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "open %s", path);
	if (fstat(fd, &st)) {
		fail(errno, "stat %s", path);
		close(fd);
		return -EIO;
	}
	b->cap = st.st_size ? st.st_size : 1;
	b->data = malloc(b->cap);
	if (!b->data) {
		close(fd);
		return fail(ENOMEM, "read %s", path);
	}
	while (pos < (size_t)st.st_size) {
		n = read(fd, b->data + pos, st.st_size - pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail(n ? errno : EIO, "read %s", path);
			close(fd);
			return -EIO;
		}
		pos += n;
	}
	b->len = pos;
	close(fd);
	return 0;
}

static int cmd_load(const char *bdf, const char *path)
{
	struct vfmig_buf b = { 0 };
	struct vfio_handle h;
	int fd = -1, ret;
	size_t done = 0;
	double t0, t1;

	if (read_file(path, &b))
		return 1;
	if (open_dev(bdf, &h)) {
		vfmig_buf_free(&b);
		return 1;
	}
	ret = require_running(h.device, bdf);
	if (ret)
		goto out;
	t0 = now();
	ret = step(h.device, bdf, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret)
		goto out;
	ret = step(h.device, bdf, VFIO_DEVICE_STATE_RESUMING, &fd);
	if (ret)
		goto out;
	if (fd < 0) {
		ret = -EIO;
		fail(0, "%s: STOP -> RESUMING gave no data file", bdf);
		goto out;
	}
	ret = vfmig_write_data(fd, b.data, b.len, LOAD_CHUNK, &done);
	if (ret) {
		fail(ret, "%s: write %s into the resuming data file: refused at byte %zu of %zu",
		     bdf, path, done, b.len);
		fprintf(stderr,
			"%s: hint: vfmigctl info %s checks the file offline\n",
			prog, path);
		hint_dmesg();
		goto out;
	}
	/*
	 * Leaving RESUMING is where the driver checks that END arrived and
	 * applies the registers (an incomplete stream failed at END).
	 */
	ret = step(h.device, bdf, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret) {
		fprintf(stderr,
			"%s: hint: vfmigctl info %s checks the file offline\n",
			prog, path);
		goto out;
	}
	close(fd);
	fd = -1;
	ret = step(h.device, bdf, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		goto out;
	t1 = now();
	say("loaded %zu bytes from %s into %s in %.3f s\n", b.len, path, bdf,
	    t1 - t0);
out:
	if (fd >= 0)
		close(fd);
	vfmig_buf_free(&b);
	vfio_close_device(&h);
	return ret ? 1 : 0;
}

static void print_header(const struct vfmig_stream_view *v)
{
	int i;

	say("header:\n");
	say("  magic            %#010x%s\n", v->magic,
	    v->magic == VFMIG_STREAM_MAGIC ? " (VFMG)" : " (not VFMG)");
	say("  version          %u\n", v->version);
	say("  header_size      %u\n", v->header_size);
	say("  backend_id       %u%s\n", v->backend_id,
	    v->backend_id == 1 ? " (ivshmem)" : "");
	say("  flags            %#x\n", v->flags);
	say("  function         %04x:%04x subsystem %04x:%04x\n", v->vendor,
	    v->device, v->subsystem_vendor, v->subsystem_device);
	for (i = 0; i < VFMIG_NUM_BARS; i++)
		if (v->bar_size[i])
			say("  BAR%d             %llu bytes\n", i,
			    (unsigned long long)v->bar_size[i]);
	say("  header CRC       %s\n", v->header_ok ? "ok" : "BAD or not checked");
}

static void print_record(const struct vfmig_rec_view *r)
{
	say("  #%-5u at %-10zu %-4s flags %#x len %-8u",
	    r->seq, r->pos, vfmig_rec_type_name(r->type), r->flags, r->length);
	if (r->type == VFMIG_REC_MEM)
		say(" BAR%u 0x%08llx-0x%08llx", r->index,
		    (unsigned long long)r->offset,
		    (unsigned long long)(r->offset + r->length));
	say(" crc ok\n");
}

/*
 * The device memory a load of the stream would leave: every MEM record
 * applied in order (a pre-copy stream carries pages twice, the later copy
 * wins), summed up as one CRC32C per BAR so that two saved states can be
 * compared whatever their INFO records or record layout.
 */
static void print_content(const struct vfmig_stream_view *v,
			  const unsigned char *data)
{
	const struct vfmig_rec_view *r;
	unsigned char *mem;
	unsigned int bar;
	size_t k;

	for (bar = 0; bar < VFMIG_NUM_BARS; bar++) {
		for (k = 0; k < v->nrec; k++)
			if (v->rec[k].type == VFMIG_REC_MEM &&
			    v->rec[k].index == bar)
				break;
		if (k == v->nrec)
			continue;	/* no memory of this BAR */
		mem = calloc(1, v->bar_size[bar]);
		if (!mem)
			return;
		for (k = 0; k < v->nrec; k++) {
			r = &v->rec[k];
			if (r->type == VFMIG_REC_MEM && r->index == bar)
				memcpy(mem + r->offset,
				       data + r->pos + VFMIG_REC_SIZE,
				       r->length);
		}
		say("content: BAR%u crc32c 0x%08x (%llu bytes, every MEM record applied)\n",
		    bar, vfmig_crc32c(mem, v->bar_size[bar]),
		    (unsigned long long)v->bar_size[bar]);
		free(mem);
	}
}

static int cmd_info(const char *path, bool verbose)
{
	struct vfmig_stream_view v;
	struct vfmig_buf b = { 0 };
	const unsigned char *p;
	char why[256];
	uint32_t i, n;
	size_t k;
	int ret;

	if (read_file(path, &b))
		return 1;
	ret = vfmig_stream_read(b.data, b.len, &v, why, sizeof(why));
	say("%s: %zu bytes\n", path, b.len);
	if (b.len >= VFMIG_HDR_SIZE)
		print_header(&v);
	if (verbose) {
		say("records:\n");
		for (k = 0; k < v.nrec; k++)
			print_record(&v.rec[k]);
	}
	if (v.info) {
		say("info: \"");
		p = b.data + v.info;
		for (i = 0; i < v.info_len; i++)
			say(p[i] >= 32 && p[i] < 127 ? "%c" : "\\x%02x", p[i]);
		say("\"\n");
	}
	if (v.regs) {
		say("registers (%u bytes):", v.regs_len);
		p = b.data + v.regs;
		for (i = 0; i + 4 <= v.regs_len; i += 4) {
			n = p[i] | p[i + 1] << 8 | p[i + 2] << 16 |
			    (uint32_t)p[i + 3] << 24;
			say(" 0x%08x", n);
		}
		if (v.regs_len == 8)
			say(" (ivshmem INTRMASK, INTRSTATUS)");
		say("\n");
	}
	say("records: %llu (MEM %llu, REGS %llu, INFO %llu, END %llu, other %llu)",
	    (unsigned long long)v.records,
	    (unsigned long long)v.by_type[VFMIG_T_MEM],
	    (unsigned long long)v.by_type[VFMIG_T_REGS],
	    (unsigned long long)v.by_type[VFMIG_T_INFO],
	    (unsigned long long)v.by_type[VFMIG_T_END],
	    (unsigned long long)v.by_type[VFMIG_T_OTHER]);
	say(", %llu payload bytes\n", (unsigned long long)v.payload_bytes);
	if (!ret)
		print_content(&v, b.data);
	if (ret)
		fail(0, "%s: INVALID: %s", path, why);
	else
		say("stream OK: every CRC matches, records numbered 0..%llu, END counts agree\n",
		    (unsigned long long)v.records - 1);
	vfmig_stream_free(&v);
	vfmig_buf_free(&b);
	return ret ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr,
		"Usage: %s state BDF                  migration state and flags\n"
		"       %s save BDF FILE [--precopy]  save the function's state (it keeps running)\n"
		"       %s load BDF FILE              load a saved state into the function\n"
		"       %s reset BDF                  VFIO_DEVICE_RESET (the way out of ERROR)\n"
		"       %s info FILE [-v]             check a stream file offline (-v: every record)\n"
		"BDF as in sysfs, e.g. 0000:01:00.0, bound to vfmig_vfio_pci\n",
		prog, prog, prog, prog, prog);
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "state") && argc == 3)
		return cmd_state(argv[2]);
	if (!strcmp(cmd, "reset") && argc == 3)
		return cmd_reset(argv[2]);
	if (!strcmp(cmd, "save") && argc == 4)
		return cmd_save(argv[2], argv[3], false);
	if (!strcmp(cmd, "save") && argc == 5 && !strcmp(argv[4], "--precopy"))
		return cmd_save(argv[2], argv[3], true);
	if (!strcmp(cmd, "load") && argc == 4)
		return cmd_load(argv[2], argv[3]);
	if (!strcmp(cmd, "info") && argc == 3)
		return cmd_info(argv[2], false);
	if (!strcmp(cmd, "info") && argc == 4 && !strcmp(argv[3], "-v"))
		return cmd_info(argv[2], true);
	return usage();
}
