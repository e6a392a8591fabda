// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzing vfmig's resume path through the real data file, in the test VM
 * on the rig's debug kernel: valid streams saved from a small function are
 * mutated (bit flips, truncation, length lies, reordered, repeated and
 * missing records, foreign headers, valid CRCs over bad content, edited
 * payloads, splices, garbage), written into a resuming file in random
 * chunks, and the function is moved RESUMING -> STOP.
 *
 * The oracle: a mutation that breaks the format (every class but the ones
 * marked "may load") must be refused, at a write() or at RESUMING -> STOP,
 * with EINVAL; a refused load must leave ERROR, and a reset must give
 * RUNNING. A stream that loads must have left the function's memory
 * exactly as its MEM records say (later records replacing earlier ones):
 * saved again, the function must yield that content. Unmodified streams
 * are mixed in and must load, so an oracle that refuses everything fails.
 * The kernel side (KASAN, UBSAN, lockdep, kmemleak) is the suite's log
 * scan.
 *
 * The functions should be small (the rig's F and G: 4 KiB ivshmem-plain
 * functions on the root bus, whose reset is vfmig's own and fast) so that
 * 100,000 attempts fit in minutes; each gets a process of its own, so
 * that every vCPU works.
 *
 * Usage: VFMIG_FUZZ_BDFS="BDF..." (or VFMIG_BDF_F=BDF)
 *	  [VFMIG_FUZZ_ITERS=100000] [VFMIG_FUZZ_SEED=N]
 *	  fuzz_resume [kselftest harness options]
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "check.h"
#include "../../include/vfmig/stream.h"
#include "../../tools/lib/crc32c.h"
#include "../../tools/lib/vfio_open.h"
#include "../../tools/lib/vfio_mig.h"
#include "../../tools/lib/vfmig_stream.h"

#define MAX_RECS	64
#define NBASE		4

/* A stream taken apart: its header and its records (END last). */
struct rec {
	struct vfmig_record h;
	unsigned char *p;
};

struct stream {
	struct vfmig_stream_header hdr;
	struct rec r[MAX_RECS];
	unsigned int n;
};

enum verdict { MUST_REFUSE, MAY_LOAD, MUST_LOAD };

enum mut {
	M_VALID, M_BITFLIP, M_TRUNCATE, M_LENGTH_LIE, M_REORDER, M_REPEAT,
	M_DROP, M_FOREIGN_HEADER, M_BAD_FIELDS, M_PAYLOAD_EDIT, M_SPLICE,
	M_GARBAGE, M_TRAILING, M_NR
};

static const char * const mut_name[M_NR] = {
	"unmodified", "bit flips", "truncation", "length lie",
	"reordered records", "repeated record", "missing record",
	"foreign header", "valid CRC over bad fields", "payload edited, CRC fixed",
	"spliced streams", "garbage", "bytes after END",
};

struct counts {
	unsigned int tries, refused_write, refused_stop, loaded;
};

/*
 * What one fuzzing process found, in memory shared with the test: one
 * process per function, so that both vCPUs work (the attempts on one
 * function are serial by nature).
 */
struct worker {
	struct counts stats[M_NR];
	unsigned int done, planned, bad;
	double secs;
	bool finished;
	char bdf[32];
	char first[600];
};

static struct counts *stats;

static struct vfio_handle h;
static uint64_t bar2, bar2_size;
static unsigned char *base_raw[NBASE];
static size_t base_len[NBASE];
static struct stream base[NBASE];
static unsigned int seed;
static char why[512];

static unsigned int rnd(unsigned int n)
{
	return n ? (unsigned int)rand_r(&seed) % n : 0;
}

static void parse(const unsigned char *buf, struct stream *s)
{
	struct vfmig_stream_view v;
	char w[256];
	size_t i;

	memset(s, 0, sizeof(*s));
	if (vfmig_stream_read(buf, 0x7fffffff, &v, w, sizeof(w)) < 0 && !v.end_pos)
		return;
	memcpy(&s->hdr, buf, sizeof(s->hdr));
	for (i = 0; i < v.nrec && i < MAX_RECS; i++) {
		memcpy(&s->r[i].h, buf + v.rec[i].pos, sizeof(s->r[i].h));
		s->r[i].p = (unsigned char *)buf + v.rec[i].pos + VFMIG_REC_SIZE;
	}
	s->n = i;
	vfmig_stream_free(&v);
}

static uint32_t rlen(const struct rec *r)
{
	return le32toh(r->h.length);
}

/*
 * Write @s out: records numbered from 0 if @renumber, END's counts and
 * every CRC made right if @reseal (so only the edit under test is wrong).
 */
static size_t emit(struct stream *s, unsigned char *out, bool renumber,
		   bool reseal)
{
	struct vfmig_end_payload end = { 0 };
	uint64_t payload = 0;
	size_t pos = sizeof(s->hdr);
	unsigned int i;

	memcpy(out, &s->hdr, sizeof(s->hdr));
	if (reseal)
		vfmig_header_reseal(out);
	for (i = 0; i < s->n; i++) {
		struct rec *r = &s->r[i];
		unsigned char *payload_at = out + pos + VFMIG_REC_SIZE;
		uint32_t len = rlen(r);

		if (renumber)
			r->h.seq = htole32(i);
		if (reseal && le16toh(r->h.type) == VFMIG_REC_END &&
		    len == sizeof(end)) {
			end.records = htole64(i);
			end.payload_bytes = htole64(payload);
			memcpy(payload_at, &end, sizeof(end));
		} else if (len) {
			memcpy(payload_at, r->p, len);
		}
		if (reseal) {
			r->h.payload_crc = htole32(vfmig_crc32c(payload_at, len));
			memcpy(out + pos, &r->h, sizeof(r->h));
			vfmig_record_reseal(out + pos);
		} else {
			memcpy(out + pos, &r->h, sizeof(r->h));
		}
		payload += len;
		pos += VFMIG_REC_SIZE + len;
	}
	return pos;
}

/* A record other than END, or -1 if there is none. */
static int pick_rec(const struct stream *s)
{
	return s->n > 1 ? (int)rnd(s->n - 1) : -1;
}

static int find_type(const struct stream *s, uint16_t type)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (le16toh(s->r[i].h.type) == type)
			return i;
	return -1;
}

/**
 * mutate() - make one test stream
 * @m: the mutation class
 * @out: where to write it (big enough for any base stream, doubled)
 * @len: set to its length
 * @pay: scratch for edited payloads
 *
 * Return: what a correct driver must do with it.
 */
static enum verdict mutate(enum mut m, unsigned char *out, size_t *len,
			   unsigned char *pay)
{
	unsigned int b = rnd(NBASE), i, k, n;
	struct stream s = base[b];
	struct rec tmp;
	int x, y;

	switch (m) {
	case M_VALID:
		memcpy(out, base_raw[b], base_len[b]);
		*len = base_len[b];
		return MUST_LOAD;
	case M_BITFLIP:
		/* Every byte is under a CRC32C: up to 3 flipped bits are seen. */
		memcpy(out, base_raw[b], base_len[b]);
		*len = base_len[b];
		for (k = rnd(3) + 1; k; k--) {
			i = rnd(*len * 8);
			out[i / 8] ^= 1u << (i % 8);
		}
		/* Two flips of one bit cancel: that stream is still valid. */
		return memcmp(out, base_raw[b], *len) ? MUST_REFUSE : MUST_LOAD;
	case M_TRUNCATE:
		memcpy(out, base_raw[b], base_len[b]);
		*len = rnd(4) ? base_len[b] - 1 - rnd(64) : rnd(base_len[b]);
		return MUST_REFUSE;
	case M_LENGTH_LIE:
		x = rnd(s.n);
		k = rnd(3);
		n = rlen(&s.r[x]);
		/* Longer than it is, shorter (or 1 if empty), or absurd. */
		s.r[x].h.length = htole32(k == 0 ? n + 1 + rnd(4096) :
					  k == 1 ? (n ? n - 1 - rnd(n) : 1) :
					  0x80000000u + rnd(1000));
		/* The payload bytes stay as they were: the framing breaks. */
		memcpy(out, base_raw[b], base_len[b]);
		*len = base_len[b];
		{
			size_t pos = sizeof(s.hdr);

			for (i = 0; i < (unsigned int)x; i++)
				pos += VFMIG_REC_SIZE + rlen(&s.r[i]);
			memcpy(out + pos, &s.r[x].h, VFMIG_REC_SIZE);
			vfmig_record_reseal(out + pos);
		}
		return MUST_REFUSE;
	case M_REORDER:
		x = pick_rec(&s);
		y = pick_rec(&s);
		if (x < 0 || x == y)
			return mutate(M_VALID, out, len, pay);
		tmp = s.r[x];
		s.r[x] = s.r[y];
		s.r[y] = tmp;
		*len = emit(&s, out, rnd(4) != 0, true);
		/* Not renumbered: the sequence check must catch it. */
		return le32toh(s.r[x].h.seq) == (uint32_t)x ? MAY_LOAD : MUST_REFUSE;
	case M_REPEAT:
		x = pick_rec(&s);
		if (x < 0 || s.n >= MAX_RECS)
			return mutate(M_VALID, out, len, pay);
		memmove(&s.r[x + 1], &s.r[x], (s.n - x) * sizeof(s.r[0]));
		s.n++;
		k = rnd(4) != 0;	/* renumbered (a valid stream) or a replay */
		*len = emit(&s, out, k, true);
		return k ? MAY_LOAD : MUST_REFUSE;
	case M_DROP:
		x = pick_rec(&s);
		if (x < 0)
			return mutate(M_VALID, out, len, pay);
		k = le16toh(s.r[x].h.type);
		memmove(&s.r[x], &s.r[x + 1], (s.n - x - 1) * sizeof(s.r[0]));
		s.n--;
		*len = emit(&s, out, true, true);
		/* The memory must be covered and the registers must come. */
		return k == VFMIG_REC_MEM || k == VFMIG_REC_REGS ? MUST_REFUSE : MAY_LOAD;
	case M_FOREIGN_HEADER:
		switch (rnd(9)) {
		case 0:
			s.hdr.magic ^= htole32(1u << rnd(32));
			break;
		case 1:
			s.hdr.version = htole16(le16toh(s.hdr.version) + 1 + rnd(100));
			break;
		case 2:
			s.hdr.header_size = htole16(le16toh(s.hdr.header_size) + 8);
			break;
		case 3:
			s.hdr.backend_id ^= htole32(1 + rnd(255));
			break;
		case 4:
			s.hdr.flags = htole32(1u << rnd(32));
			break;
		case 5:
			s.hdr.vendor ^= htole16(1 + rnd(0xfffe));
			break;
		case 6:
			s.hdr.device ^= htole16(1 + rnd(0xfffe));
			break;
		case 7:
			s.hdr.reserved = htole32(1 + rnd(1000));
			break;
		default:
			i = rnd(VFMIG_NUM_BARS);
			s.hdr.bar_size[i] = htole64(le64toh(s.hdr.bar_size[i]) ?
						    le64toh(s.hdr.bar_size[i]) << 1 : 4096);
		}
		*len = emit(&s, out, false, true);
		return MUST_REFUSE;
	case M_BAD_FIELDS:
		x = rnd(s.n);
		k = le16toh(s.r[x].h.type);
		switch (rnd(7)) {
		case 0:	/* a BAR that is not the memory BAR, or none */
			s.r[x].h.index = htole32(k == VFMIG_REC_MEM ?
				le32toh(s.r[x].h.index) + 1 + rnd(8) : 1 + rnd(8));
			break;
		case 1:	/* an offset off the 4 KiB grid or past the BAR */
			s.r[x].h.offset = htole64(rnd(2) ? 1 + rnd(4095) :
						  bar2_size + 4096 * rnd(16));
			break;
		case 2:	/* flag bits no version defines */
			s.r[x].h.flags |= htole16(2u << rnd(15));
			break;
		case 3:	/* an unknown type the reader must understand */
			s.r[x].h.type = htole16(0x100 + rnd(0x1000));
			s.r[x].h.flags = htole16(VFMIG_REC_F_MANDATORY);
			break;
		case 4: /* an unknown, optional type: skipped */
			s.r[x].h.type = htole16(0x100 + rnd(0x1000));
			s.r[x].h.flags = 0;
			*len = emit(&s, out, true, true);
			/* Skipping MEM leaves memory uncovered, REGS missing. */
			return k == VFMIG_REC_INFO ? MAY_LOAD : MUST_REFUSE;
		case 5:	/* END's counts disagree */
			x = s.n - 1;
			*len = emit(&s, out, true, true);
			{
				unsigned char *e = out + *len - sizeof(struct vfmig_end_payload);

				e[rnd(16)] ^= 1 + rnd(255);
				memcpy(&s.r[x].h, e - VFMIG_REC_SIZE, VFMIG_REC_SIZE);
				s.r[x].h.payload_crc = htole32(vfmig_crc32c(e, 16));
				memcpy(e - VFMIG_REC_SIZE, &s.r[x].h, VFMIG_REC_SIZE);
				vfmig_record_reseal(e - VFMIG_REC_SIZE);
			}
			return MUST_REFUSE;
		default: /* a sequence gap */
			*len = emit(&s, out, true, true);
			{
				size_t pos = sizeof(s.hdr);
				struct vfmig_record r;

				for (i = 0; i < (unsigned int)x; i++)
					pos += VFMIG_REC_SIZE + rlen(&s.r[i]);
				memcpy(&r, out + pos, sizeof(r));
				r.seq = htole32(le32toh(r.seq) + 1 + rnd(5));
				memcpy(out + pos, &r, sizeof(r));
				vfmig_record_reseal(out + pos);
			}
			return MUST_REFUSE;
		}
		*len = emit(&s, out, true, true);
		/* A MEM record at another offset inside the BAR may be valid. */
		return MUST_REFUSE;
	case M_PAYLOAD_EDIT:
		x = find_type(&s, rnd(2) ? VFMIG_REC_MEM : VFMIG_REC_INFO);
		if (x < 0 || !rlen(&s.r[x]))
			return mutate(M_VALID, out, len, pay);
		memcpy(pay, s.r[x].p, rlen(&s.r[x]));
		for (k = rnd(16) + 1; k; k--)
			pay[rnd(rlen(&s.r[x]))] ^= 1 + rnd(255);
		s.r[x].p = pay;
		*len = emit(&s, out, false, true);
		return MAY_LOAD;
	case M_SPLICE:
		/* Header of one save, records of another: same function. */
		s.hdr = base[rnd(NBASE)].hdr;
		*len = emit(&s, out, false, true);
		return MAY_LOAD;
	case M_GARBAGE:
		*len = rnd(2 * base_len[b]) + 1;
		for (i = 0; i < *len; i++)
			out[i] = rnd(256);
		return MUST_REFUSE;
	default: /* M_TRAILING */
		memcpy(out, base_raw[b], base_len[b]);
		*len = base_len[b] + 1 + rnd(64);
		for (i = base_len[b]; i < *len; i++)
			out[i] = rnd(256);
		return MUST_REFUSE;
	}
}

/* The memory a stream that loaded must have left: its MEM records, in order. */
static bool expected_memory(const unsigned char *buf, size_t len,
			    unsigned char *mem)
{
	struct vfmig_stream_view v;
	char w[256];
	size_t i;
	bool ok;

	ok = !vfmig_stream_read(buf, len, &v, w, sizeof(w));
	for (i = 0; ok && i < v.nrec; i++) {
		const struct vfmig_rec_view *r = &v.rec[i];

		if (r->type != VFMIG_REC_MEM)
			continue;
		if (r->index != 2 || r->offset + r->length > bar2_size) {
			ok = false;
			break;
		}
		memcpy(mem + r->offset, buf + r->pos + VFMIG_REC_SIZE, r->length);
	}
	vfmig_stream_free(&v);
	return ok;
}

static uint32_t state(void)
{
	uint32_t s = 0xff;

	vfmig_get_state(h.device, &s);
	return s;
}

static int save(struct vfmig_buf *b)
{
	return vfmig_save(h.device, b);
}

/* Write @buf in random pieces, as a VMM's reads of the network would. */
static int feed(int fd, const unsigned char *buf, size_t len)
{
	size_t done = 0, n;
	ssize_t w;

	while (done < len) {
		n = rnd(3) ? rnd(len - done) + 1 : len - done;
		if (!rnd(8))
			n = rnd(24) + 1;
		if (n > len - done)
			n = len - done;
		w = write(fd, buf + done, n);
		if (w < 0)
			return -errno;
		if (w == 0)
			return -ENOSPC;
		done += w;
	}
	return 0;
}

/**
 * attempt() - load one stream and judge the outcome
 * @m: its mutation class
 * @v: what the driver must do
 * @buf: the stream
 * @len: its length
 * @mem: scratch of bar2_size bytes
 *
 * Return: true if the driver did right.
 */
static bool attempt(enum mut m, enum verdict v, const unsigned char *buf,
		    size_t len, unsigned char *mem)
{
	struct vfmig_buf again = { 0 };
	struct vfmig_stream_view sv;
	int fd = -1, ret, wret;
	char w[256];
	bool ok = true;

	stats[m].tries++;
	ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_RESUMING, &fd);
	if (ret || fd < 0) {
		snprintf(why, sizeof(why), "RUNNING -> RESUMING: %s", strerror(-ret));
		return false;
	}
	wret = feed(fd, buf, len);
	if (wret && wret != -EINVAL) {
		snprintf(why, sizeof(why), "%s: write failed with %s, not EINVAL",
			 mut_name[m], strerror(-wret));
		return false;
	}
	ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_STOP, NULL);
	close(fd);
	if (wret && !ret) {
		snprintf(why, sizeof(why), "%s: a write was refused but the load then succeeded",
			 mut_name[m]);
		return false;
	}
	if (ret) {
		stats[m].refused_write += !!wret;
		stats[m].refused_stop += !wret;
		if (ret != -EINVAL || state() != VFIO_DEVICE_STATE_ERROR) {
			snprintf(why, sizeof(why),
				 "%s: refused with %s, state %s (want EINVAL, ERROR)",
				 mut_name[m], strerror(-ret), vfmig_state_name(state()));
			ok = false;
		} else if (v == MUST_LOAD) {
			snprintf(why, sizeof(why), "%s: a valid stream was refused",
				 mut_name[m]);
			ok = false;
		}
		if (ioctl(h.device, VFIO_DEVICE_RESET) ||
		    state() != VFIO_DEVICE_STATE_RUNNING) {
			snprintf(why, sizeof(why), "%s: after a refusal, reset: %s, state %s",
				 mut_name[m], strerror(errno), vfmig_state_name(state()));
			ok = false;
		}
		return ok;
	}
	stats[m].loaded++;
	if (v == MUST_REFUSE) {
		snprintf(why, sizeof(why), "%s: a bad stream of %zu bytes was loaded as good",
			 mut_name[m], len);
		ok = false;
	}
	/* What loaded must be what the stream says: save it again. */
	memset(mem, 0, bar2_size);
	if (ok && !expected_memory(buf, len, mem)) {
		snprintf(why, sizeof(why),
			 "%s: the driver loaded a stream the userspace reader refuses",
			 mut_name[m]);
		ok = false;
	}
	ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (!ret)
		ret = save(&again);
	if (ret) {
		snprintf(why, sizeof(why), "%s: save after the load: %s", mut_name[m],
			 strerror(-ret));
		ok = false;
	} else if (ok) {
		unsigned char *got = calloc(1, bar2_size);

		if (!got || vfmig_stream_read(again.data, again.len, &sv, w, sizeof(w)) ||
		    !expected_memory(again.data, again.len, got) ||
		    memcmp(got, mem, bar2_size)) {
			snprintf(why, sizeof(why),
				 "%s: the memory differs from what the stream carried",
				 mut_name[m]);
			ok = false;
		}
		vfmig_stream_free(&sv);
		free(got);
	}
	vfmig_buf_free(&again);
	return ok;
}

/*
 * setup() - open @bdf and save the base streams from random content
 *
 * Return: 0, or -1 with the reason in why.
 */
static int setup(const char *bdf)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri),
				       .index = VFIO_PCI_BAR2_REGION_INDEX };
	struct vfmig_buf b;
	unsigned char *mem;
	char err[256];
	unsigned int i, k;
	int ret;

	if (vfio_open_device(bdf, &h, err, sizeof(err))) {
		snprintf(why, sizeof(why), "%s: %s", bdf, err);
		return -1;
	}
	if (ioctl(h.device, VFIO_DEVICE_GET_REGION_INFO, &ri)) {
		snprintf(why, sizeof(why), "%s: BAR2 region info: %s", bdf, strerror(errno));
		return -1;
	}
	bar2 = ri.offset;
	bar2_size = ri.size;
	mem = malloc(bar2_size);
	if (!mem) {
		snprintf(why, sizeof(why), "out of memory");
		return -1;
	}
	/* The bases: saves of different content. */
	for (i = 0; i < NBASE; i++) {
		for (k = 0; k < bar2_size; k++)
			mem[k] = rnd(256);
		b = (struct vfmig_buf){ 0 };
		ret = pwrite(h.device, mem, bar2_size, bar2) == (ssize_t)bar2_size ?
		      save(&b) : -EIO;
		if (ret) {
			snprintf(why, sizeof(why), "%s: base %u: write and save failed", bdf, i);
			free(mem);
			return -1;
		}
		base_raw[i] = b.data;
		base_len[i] = b.len;
		parse(base_raw[i], &base[i]);
		if (base[i].n < 3) {
			snprintf(why, sizeof(why), "%s: base %u: %u records", bdf, i, base[i].n);
			free(mem);
			return -1;
		}
	}
	free(mem);
	return 0;
}

/* fuzz() - one process: @w->planned attempts on @w->bdf. */
static void fuzz(struct worker *w)
{
	size_t cap, len;
	unsigned char *out, *pay, *mem;
	struct timespec t0, t1;
	unsigned int i, m;
	enum verdict v;

	stats = w->stats;
	if (setup(w->bdf)) {
		w->bad = 1;
		snprintf(w->first, sizeof(w->first), "setup: %s", why);
		return;
	}
	printf("# %s: BAR2 %llu bytes, %u attempts\n", w->bdf,
	       (unsigned long long)bar2_size, w->planned);
	fflush(stdout);
	cap = 4 * base_len[0] + 8192;
	out = malloc(cap);
	pay = malloc(cap);
	mem = malloc(bar2_size);
	if (!out || !pay || !mem) {
		w->bad = 1;
		snprintf(w->first, sizeof(w->first), "out of memory");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < w->planned; i++) {
		m = i % 50 == 0 ? M_VALID : 1 + rnd(M_NR - 1);
		v = mutate(m, out, &len, pay);
		if (!attempt(m, v, out, len, mem) && !w->bad++) {
			snprintf(w->first, sizeof(w->first), "%s attempt %u: %s",
				 w->bdf, i, why);
			printf("# first failure: %s\n", w->first);
			fflush(stdout);
		}
		if (w->bad > 20)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	w->done = i;
	w->secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	w->finished = true;
	vfio_close_device(&h);
	free(out);
	free(pay);
	free(mem);
}

FIXTURE(fuzz) {
	int unused;
};

FIXTURE_SETUP(fuzz)
{
}

FIXTURE_TEARDOWN(fuzz)
{
}

/*
 * The functions are VFMIG_FUZZ_BDFS (a list) or VFMIG_BDF_F; each gets a
 * process and its share of VFMIG_FUZZ_ITERS, and a seed of its own
 * derived from the run's.
 */
TEST_F_TIMEOUT(fuzz, resume_path, 7200)
{
	unsigned int iters = getenv("VFMIG_FUZZ_ITERS") ?
			     atoi(getenv("VFMIG_FUZZ_ITERS")) : 100000;
	const char *list = getenv("VFMIG_FUZZ_BDFS") ? getenv("VFMIG_FUZZ_BDFS") :
			   getenv("VFMIG_BDF_F");
	unsigned int n = 0, i, m, done = 0, bad = 0, base_seed;
	struct counts total[M_NR] = { 0 };
	char bdfs[8][sizeof(((struct worker *)0)->bdf)], first[700] = "";
	struct worker *w;
	double secs = 0;
	pid_t pid[8];
	int st;

	ASSERT_NE(NULL, list) TH_LOG("set VFMIG_BDF_F or VFMIG_FUZZ_BDFS");
	for (const char *p = list; *p && n < 8; ) {
		int k = 0;

		while (*p == ' ')
			p++;
		while (*p && *p != ' ' && k < 31)
			bdfs[n][k++] = *p++;
		bdfs[n][k] = 0;
		n += k > 0;
	}
	ASSERT_LT(0, n);
	base_seed = getenv("VFMIG_FUZZ_SEED") ?
		    (unsigned int)strtoul(getenv("VFMIG_FUZZ_SEED"), NULL, 0) :
		    (unsigned int)time(NULL) ^ getpid();
	printf("# seed %u (VFMIG_FUZZ_SEED to replay), %u processes\n", base_seed, n);
	fflush(stdout);
	w = mmap(NULL, n * sizeof(*w), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, w);
	memset(w, 0, n * sizeof(*w));
	for (i = 0; i < n; i++) {
		/* Same size, NUL-terminated above (gcc 16 misjudges a snprintf). */
		memcpy(w[i].bdf, bdfs[i], sizeof(w[i].bdf));
		w[i].planned = iters / n + (i < iters % n);
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i]) {
			seed = base_seed + i * 0x9e3779b9u;
			fuzz(&w[i]);
			_exit(0);
		}
	}
	for (i = 0; i < n; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &st, 0));
		if (!WIFEXITED(st) || WEXITSTATUS(st) || !w[i].finished) {
			bad++;
			if (!first[0])
				snprintf(first, sizeof(first),
					 "%s: the process died (status %#x) after %s",
					 w[i].bdf, st, w[i].first[0] ? w[i].first : "no failure");
		}
		done += w[i].done;
		bad += w[i].bad;
		if (w[i].bad && !first[0])
			snprintf(first, sizeof(first), "%s", w[i].first);
		if (w[i].secs > secs)
			secs = w[i].secs;
		for (m = 0; m < M_NR; m++) {
			total[m].tries += w[i].stats[m].tries;
			total[m].refused_write += w[i].stats[m].refused_write;
			total[m].refused_stop += w[i].stats[m].refused_stop;
			total[m].loaded += w[i].stats[m].loaded;
		}
	}
	printf("# %u attempts in %.1f s (%.0f/s) on %u functions\n", done, secs,
	       secs > 0 ? done / secs : 0, n);
	printf("# class: tries, refused at write, refused at STOP, loaded\n");
	for (m = 0; m < M_NR; m++)
		printf("#   %-26s %6u %6u %6u %6u\n", mut_name[m], total[m].tries,
		       total[m].refused_write, total[m].refused_stop, total[m].loaded);
	check_result(done == iters, "every planned attempt ran", "%u of %u ran",
		     done, iters);
	check_result(!bad,
		     "every bad stream refused with EINVAL into ERROR, every good one loaded exactly",
		     "%u wrong outcomes, first: %s", bad, first);
	check_result(total[M_VALID].loaded == total[M_VALID].tries &&
		     total[M_VALID].tries > 0,
		     "the unmodified streams mixed in all loaded", "%u of %u",
		     total[M_VALID].loaded, total[M_VALID].tries);
	munmap(w, n * sizeof(*w));
	checks_end(_metadata);
}

TEST_HARNESS_MAIN
