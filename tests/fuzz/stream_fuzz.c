// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the driver's stream parser
 * (drivers/vfio/pci/vfmig/stream_codec.c, built unchanged against the
 * kernel shim in tests/fuzz/shim/) fed arbitrary streams in arbitrary
 * pieces. See Documentation/fuzzing.md.
 *
 * Each input (a control block and a stream, stream_fuzz.h) is parsed twice:
 * once the way the resuming data file's write() does it (space, copy,
 * commit), in write() sizes drawn from the control block, and once in a
 * single vfmig_parser_feed(). Besides ASan and UBSan, every run checks:
 *
 *  - the record callback only ever sees MEM records of the memory BAR,
 *    inside it (so the driver's BAR write and coverage bitmap stay in
 *    bounds) and REGS records of the function's register size;
 *  - both parses agree with a reference reader written from
 *    Documentation/stream-format.rst (ref_decode() below): the same verdict,
 *    the same stream offset where a refused stream became wrong, the same
 *    callbacks with the same payloads, in the same order;
 *  - an accepted stream is byte for byte what the codec's own writer
 *    (vfmig_header_build(), vfmig_record_build()) produces for the records
 *    it holds, ending with its END record;
 *  - the parser's state after the verdict: DONE or FAILED with a reason,
 *    a sticky error, every byte accounted for in @pos.
 *
 * Any difference is a crash, with the reason on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/crc32c.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/unaligned.h>

#include "stream_fuzz.h"

#define HDR_SIZE	sizeof(struct vfmig_stream_header)
#define REC_SIZE	sizeof(struct vfmig_record)
#define END_SIZE	sizeof(struct vfmig_end_payload)

static u8 *payload_buf;			/* exactly VFMIG_MAX_PAYLOAD: ASan sees past it */
static struct vfmig_parser *parser;	/* on the heap for the same reason */
static const char *expect;		/* VFMIG_FUZZ_EXPECT: "accept" or "refuse" */

static void __attribute__((noreturn, format(printf, 1, 2)))
oracle_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vfmig-fuzz: ORACLE FAILURE: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* The shim's WARN_ON(): a WARN splat fails the kernel test rig, so it fails here. */
void vfmig_fuzz_warn(const char *file, int line, const char *cond)
{
	oracle_fail("WARN_ON(%s) at %s:%d", cond, file, line);
}

/* The format's CRC, computed apart from the codec's vfmig_crc(). */
static u32 ref_crc(const void *buf, size_t len)
{
	return ~crc32c_update(~0u, buf, len);
}

/* ---- the reference reader ---- */

struct ref_rec {
	struct vfmig_rec_info info;
	size_t hdr_off;		/* where its record header starts */
	size_t payload_off;	/* where its payload starts */
};

struct ref_result {
	int ret;		/* 0: accepted; else the errno the parser must give */
	size_t fail_pos;	/* stream bytes the parser has consumed at the verdict */
	struct ref_rec *recs;	/* every complete, valid record, END included */
	size_t nrecs;
	size_t *cbs;		/* indices in @recs of the MEM/REGS records applied */
	size_t ncbs;
};

static int ref_refuse(struct ref_result *r, int err, size_t pos)
{
	r->ret = err;
	r->fail_pos = pos;
	return err;
}

static bool ref_header_ok(const u8 *s, const struct vfmig_stream_id *id)
{
	int i;

	if (get_unaligned_le32(s + 0) != VFMIG_STREAM_MAGIC ||
	    get_unaligned_le16(s + 4) != VFMIG_STREAM_VERSION ||
	    get_unaligned_le16(s + 6) != HDR_SIZE ||
	    get_unaligned_le32(s + 76) != ref_crc(s, 76) ||
	    get_unaligned_le32(s + 12) != 0 ||		/* flags */
	    get_unaligned_le32(s + 72) != 0 ||		/* reserved */
	    get_unaligned_le32(s + 8) != id->backend_id ||
	    get_unaligned_le16(s + 16) != id->vendor ||
	    get_unaligned_le16(s + 18) != id->device ||
	    get_unaligned_le16(s + 20) != id->subsystem_vendor ||
	    get_unaligned_le16(s + 22) != id->subsystem_device)
		return false;
	for (i = 0; i < VFMIG_NUM_BARS; i++)
		if (get_unaligned_le64(s + 24 + 8 * i) != id->bar_size[i])
			return false;
	return true;
}

/* The type-specific rules of stream-format.rst, "Record types". */
static bool ref_record_ok(const struct vfmig_rec_info *ri,
			  const struct vfmig_stream_id *id)
{
	u64 size = id->bar_size[id->mem_bar];

	switch (ri->type) {
	case VFMIG_REC_MEM:
		return ri->index == (u32)id->mem_bar && ri->length &&
		       ri->offset <= size && ri->length <= size - ri->offset &&
		       ri->offset % VFMIG_MEM_ALIGN == 0 &&
		       (ri->length % VFMIG_MEM_ALIGN == 0 ||
			ri->offset + ri->length == size);
	case VFMIG_REC_REGS:
		return !ri->index && !ri->offset && ri->length == id->regs_size;
	case VFMIG_REC_END:
		return !ri->index && !ri->offset && ri->length == END_SIZE;
	case VFMIG_REC_INFO:
		return !ri->index && !ri->offset;
	default:
		return !(ri->flags & VFMIG_REC_F_MANDATORY);
	}
}

/*
 * Read a whole stream as stream-format.rst says a reader must, and work
 * out what the incremental parser must conclude, and when: a unit (header,
 * record header, payload) is judged once its last byte arrives; a stream
 * that stops early is judged at its end; bytes after END are refused where
 * END stops; callback @fail_at (counting from 1) fails with -EIO.
 */
static int ref_decode(const u8 *s, size_t len, const struct vfmig_stream_id *id,
		      int fail_at, struct ref_result *r)
{
	u64 records = 0, payload_bytes = 0;
	size_t pos = HDR_SIZE;

	r->nrecs = 0;
	r->ncbs = 0;
	if (len < HDR_SIZE)
		return ref_refuse(r, -EINVAL, len);
	if (!ref_header_ok(s, id))
		return ref_refuse(r, -EINVAL, HDR_SIZE);
	for (;;) {
		struct ref_rec *rr = &r->recs[r->nrecs];
		struct vfmig_rec_info *ri = &rr->info;
		const u8 *h = s + pos;

		if (len - pos < REC_SIZE)
			return ref_refuse(r, -EINVAL, len);
		rr->hdr_off = pos;
		pos += REC_SIZE;
		ri->type = get_unaligned_le16(h + 0);
		ri->flags = get_unaligned_le16(h + 2);
		ri->length = get_unaligned_le32(h + 4);
		ri->index = get_unaligned_le32(h + 8);
		ri->offset = get_unaligned_le64(h + 16);
		ri->seq = get_unaligned_le32(h + 24);
		if (get_unaligned_le32(h + 28) != ref_crc(h, 28) ||
		    ri->seq != records ||
		    (ri->flags & ~VFMIG_REC_F_KNOWN) ||
		    ri->length > VFMIG_MAX_PAYLOAD ||
		    !ref_record_ok(ri, id))
			return ref_refuse(r, -EINVAL, pos);
		if (len - pos < ri->length)
			return ref_refuse(r, -EINVAL, len);
		rr->payload_off = pos;
		pos += ri->length;
		if (get_unaligned_le32(h + 12) != ref_crc(s + rr->payload_off,
							   ri->length))
			return ref_refuse(r, -EINVAL, pos);
		r->nrecs++;
		if (ri->type == VFMIG_REC_END) {
			const u8 *e = s + rr->payload_off;

			if (get_unaligned_le64(e) != records ||
			    get_unaligned_le64(e + 8) != payload_bytes)
				return ref_refuse(r, -EINVAL, pos);
			if (pos != len)		/* data after END */
				return ref_refuse(r, -EINVAL, pos);
			r->ret = 0;
			r->fail_pos = 0;
			return 0;
		}
		if (ri->type == VFMIG_REC_MEM || ri->type == VFMIG_REC_REGS) {
			r->cbs[r->ncbs++] = r->nrecs - 1;
			if ((int)r->ncbs == fail_at)
				return ref_refuse(r, -EIO, pos);
		}
		records++;
		payload_bytes += ri->length;
	}
}

/* ---- the parser under test ---- */

struct sink {
	const struct vfmig_stream_id *id;
	const u8 *stream;
	const struct ref_result *ref;
	size_t ncbs;
	int fail_at;
	const char *how;	/* which parse, for messages */
};

static int sink_record(void *ctx, const struct vfmig_rec_info *rec,
		       const void *payload)
{
	struct sink *s = ctx;
	const struct vfmig_stream_id *id = s->id;
	u64 size = id->bar_size[id->mem_bar];
	u64 units = DIV_ROUND_UP(size, VFMIG_MEM_ALIGN);
	const struct ref_rec *want;

	/* What the driver's resume_record() relies on, whatever the stream. */
	if (rec->length > VFMIG_MAX_PAYLOAD ||
	    (const u8 *)payload < payload_buf ||
	    (const u8 *)payload + rec->length > payload_buf + VFMIG_MAX_PAYLOAD)
		oracle_fail("%s: payload of %u bytes outside the payload buffer",
			    s->how, rec->length);
	if (rec->type == VFMIG_REC_MEM) {
		if (rec->index != (u32)id->mem_bar || !rec->length ||
		    rec->offset > size || rec->length > size - rec->offset)
			oracle_fail("%s: MEM record %u: BAR%u %#llx+%#x outside BAR%d of %llu bytes",
				    s->how, rec->seq, rec->index, rec->offset,
				    rec->length, id->mem_bar, size);
		/* bitmap_set(mem_map, offset / 4K, DIV_ROUND_UP(length, 4K)) */
		if (rec->offset / VFMIG_MEM_ALIGN +
		    DIV_ROUND_UP((u64)rec->length, VFMIG_MEM_ALIGN) > units)
			oracle_fail("%s: MEM record %u: units past the coverage bitmap",
				    s->how, rec->seq);
	} else if (rec->type == VFMIG_REC_REGS) {
		if (rec->length != id->regs_size)
			oracle_fail("%s: REGS record %u of %u bytes, not %u",
				    s->how, rec->seq, rec->length, id->regs_size);
	} else {
		oracle_fail("%s: callback for record type %#x", s->how, rec->type);
	}

	/* The reference reader's record, in the same order. */
	if (s->ncbs >= s->ref->ncbs)
		oracle_fail("%s: callback %zu (record %u, type %#x): the reference applies only %zu",
			    s->how, s->ncbs + 1, rec->seq, rec->type, s->ref->ncbs);
	want = &s->ref->recs[s->ref->cbs[s->ncbs]];
	if (rec->type != want->info.type || rec->flags != want->info.flags ||
	    rec->length != want->info.length || rec->index != want->info.index ||
	    rec->offset != want->info.offset || rec->seq != want->info.seq)
		oracle_fail("%s: callback %zu: record %u type %#x %u@%#llx, the reference has record %u type %#x %u@%#llx",
			    s->how, s->ncbs + 1, rec->seq, rec->type, rec->length,
			    rec->offset, want->info.seq, want->info.type,
			    want->info.length, want->info.offset);
	if (memcmp(payload, s->stream + want->payload_off, rec->length))
		oracle_fail("%s: callback %zu: payload differs from the stream's",
			    s->how, s->ncbs + 1);
	s->ncbs++;
	return (int)s->ncbs == s->fail_at ? -EIO : 0;
}

/* splitmix64: the write() sizes, reproducible from the input. */
static u64 rng_next(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * The size of the next write(): mostly sizes that split units where the
 * parser has to carry state over (one byte, just around a 32- or 80-byte
 * header, a page), sometimes the rest of the stream.
 */
static size_t write_size(u64 *state, size_t left)
{
	static const size_t edges[] = { 1, 2, 31, 32, 33, 79, 80, 81, 112,
					4095, 4096, 4097, 32768 };
	u64 r = rng_next(state);
	size_t n;

	switch (r % 4) {
	case 0:
		n = edges[(r >> 8) % ARRAY_SIZE(edges)];
		break;
	case 1:
		n = 1 + (r >> 8) % 64;
		break;
	case 2:
		n = 1 + (r >> 8) % 8192;
		break;
	default:
		n = left;
		break;
	}
	return min(n, left);
}

/*
 * The parser side of the resuming data file's write() (migf.c,
 * resume_write()); its completeness check at END needs the file's coverage
 * map and is KUnit's (resume_test.c).
 */
static int parse_like_write(const u8 *s, size_t len, u64 seed)
{
	struct vfmig_parser *p = parser;
	size_t off = 0, room, n, chunk;
	void *space;
	int ret = 0;

	while (off < len && !ret) {
		chunk = write_size(&seed, len - off);
		while (!ret && chunk) {
			space = vfmig_parser_space(p, &room);
			if (!room) {
				ret = vfmig_parser_extra(p);
				break;
			}
			n = min(chunk, room);
			memcpy(space, s + off, n);
			ret = vfmig_parser_commit(p, n);
			if (!ret) {
				off += n;
				chunk -= n;
			}
		}
		if (!ret && p->pos != off)
			oracle_fail("write: %zu bytes taken, the parser counts %llu",
				    off, p->pos);
	}
	if (ret) {
		/* The error sticks: the next write() fails the same way. */
		if (vfmig_parser_commit(p, 0) != ret)
			oracle_fail("write: error %d did not stick", ret);
		return ret;
	}
	return vfmig_parser_finish(p);
}

static int parse_in_one_feed(const u8 *s, size_t len)
{
	ssize_t ret = vfmig_parser_feed(parser, s, len);

	if (ret >= 0 && (size_t)ret != len)
		oracle_fail("feed: took %zd of %zu bytes", ret, len);
	if (ret < 0)
		return ret;
	return vfmig_parser_finish(parser);
}

/* Check the parser's verdict against the reference's. */
static void check_verdict(const char *how, int ret, const struct sink *sink,
			  const struct ref_result *ref)
{
	const struct vfmig_parser *p = parser;

	if (ret != ref->ret)
		oracle_fail("%s: parser says %d (%s), reference says %d at stream offset %zu",
			    how, ret, p->why, ref->ret, ref->fail_pos);
	if (sink->ncbs != ref->ncbs)
		oracle_fail("%s: %zu callbacks, the reference applies %zu",
			    how, sink->ncbs, ref->ncbs);
	if (ret) {
		if (p->stage != VFMIG_PARSE_FAILED || p->error != ret ||
		    !p->why[0] || !memchr(p->why, 0, sizeof(p->why)))
			oracle_fail("%s: refused (%d) but stage %d, error %d, why \"%s\"",
				    how, ret, p->stage, p->error, p->why);
		if (p->pos != ref->fail_pos)
			oracle_fail("%s: refused at stream offset %llu (%s), the reference at %zu",
				    how, p->pos, p->why, ref->fail_pos);
		if (vfmig_parser_finish(parser) != ret ||
		    vfmig_parser_feed(parser, "", 1) != ret ||
		    vfmig_parser_extra(parser) != ret)
			oracle_fail("%s: error %d did not stick", how, ret);
	} else {
		if (p->stage != VFMIG_PARSE_DONE || p->error || p->why[0])
			oracle_fail("%s: accepted but stage %d, error %d, why \"%s\"",
				    how, p->stage, p->error, p->why);
		if (vfmig_parser_finish(parser) != 0 ||
		    vfmig_parser_commit(parser, 0) != 0)
			oracle_fail("%s: an accepted stream stopped being so", how);
		/* Nothing may follow END, and that is final too. */
		if (vfmig_parser_feed(parser, "", 1) != -EINVAL ||
		    vfmig_parser_finish(parser) != -EINVAL)
			oracle_fail("%s: a byte after END was taken", how);
	}
}

/*
 * An accepted stream is exactly what the codec's writer makes of its
 * records: the header for this function, each record header from its
 * fields and payload, END counting the records and bytes before it, and
 * nothing after.
 */
static void check_rebuild(const u8 *s, size_t len,
			  const struct vfmig_stream_id *id,
			  const struct ref_result *ref)
{
	struct vfmig_stream_header hdr;
	struct vfmig_end_payload end;
	struct vfmig_record rec;
	u64 payload_bytes = 0;
	size_t i, pos = HDR_SIZE;

	vfmig_header_build(&hdr, id);
	if (memcmp(s, &hdr, HDR_SIZE))
		oracle_fail("accepted header is not vfmig_header_build()'s");
	for (i = 0; i < ref->nrecs; i++) {
		const struct ref_rec *rr = &ref->recs[i];
		const struct vfmig_rec_info *ri = &rr->info;

		vfmig_record_build(&rec, ri->type, ri->flags, ri->index,
				   ri->offset, i, s + rr->payload_off,
				   ri->length);
		if (rr->hdr_off != pos || memcmp(s + pos, &rec, REC_SIZE))
			oracle_fail("accepted record %zu at %zu is not vfmig_record_build()'s",
				    i, rr->hdr_off);
		pos += REC_SIZE + ri->length;
		if (ri->type == VFMIG_REC_END) {
			end.records = cpu_to_le64(i);
			end.payload_bytes = cpu_to_le64(payload_bytes);
			if (i != ref->nrecs - 1 || pos != len ||
			    memcmp(s + rr->payload_off, &end, END_SIZE))
				oracle_fail("accepted stream does not end with its END record");
		}
		payload_bytes += ri->length;
	}
	if (!ref->nrecs || pos != len)
		oracle_fail("accepted stream has no END record");
}

/* The repairs of stream_fuzz.h's VFMIG_FUZZ_FIX_* on the stream @s. */
static void fix_up(u8 *s, size_t len, unsigned int fix)
{
	u64 records = 0, payload_bytes = 0;
	size_t pos = HDR_SIZE;

	if (len < HDR_SIZE)
		return;
	if (fix & VFMIG_FUZZ_FIX_CRC)
		put_unaligned_le32(ref_crc(s, 76), s + 76);
	while (len - pos >= REC_SIZE) {
		u8 *h = s + pos;
		u32 length = get_unaligned_le32(h + 4);
		u16 type = get_unaligned_le16(h);
		bool whole = len - pos - REC_SIZE >= length;

		if (fix & VFMIG_FUZZ_FIX_SEQ)
			put_unaligned_le32(records, h + 24);
		if (whole && type == VFMIG_REC_END && length == END_SIZE &&
		    (fix & VFMIG_FUZZ_FIX_END)) {
			put_unaligned_le64(records, h + REC_SIZE);
			put_unaligned_le64(payload_bytes, h + REC_SIZE + 8);
		}
		if (whole && (fix & VFMIG_FUZZ_FIX_CRC))
			put_unaligned_le32(ref_crc(h + REC_SIZE, length), h + 12);
		if (fix & VFMIG_FUZZ_FIX_CRC)
			put_unaligned_le32(ref_crc(h, 28), h + 28);
		if (!whole)
			break;
		pos += REC_SIZE + length;
		records++;
		payload_bytes += length;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* The shim's CRC must be the format's, or every check below is moot. */
	if (vfmig_crc("123456789", 9) != 0xe3069283 ||
	    ref_crc("123456789", 9) != 0xe3069283) {
		fprintf(stderr, "vfmig-fuzz: CRC32C check value wrong\n");
		abort();
	}
	payload_buf = malloc(VFMIG_MAX_PAYLOAD);
	parser = malloc(sizeof(*parser));
	if (!payload_buf || !parser)
		abort();
	expect = getenv("VFMIG_FUZZ_EXPECT");
	return 0;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	const struct vfmig_stream_id *id;
	struct ref_result ref;
	struct sink sink;
	unsigned int fix;
	size_t len;
	int fail_at, ret;
	u8 *s;

	if (size < VFMIG_FUZZ_CTL)
		return -1;	/* not an input: keep it out of the corpus */
	id = &vfmig_fuzz_ids[data[0] % VFMIG_FUZZ_NUM_IDS];
	fix = data[1];
	fail_at = data[3] <= VFMIG_FUZZ_FAIL_MAX ? data[3] : 0;
	len = size - VFMIG_FUZZ_CTL;

	/* A copy of exactly @len bytes: ASan sees a read past the stream. */
	s = malloc(len ? len : 1);
	ref.recs = malloc((len / REC_SIZE + 1) * sizeof(*ref.recs));
	ref.cbs = malloc((len / REC_SIZE + 1) * sizeof(*ref.cbs));
	if (!s || !ref.recs || !ref.cbs)
		abort();
	memcpy(s, data + VFMIG_FUZZ_CTL, len);
	fix_up(s, len, fix);
	ref_decode(s, len, id, fail_at, &ref);

	sink = (struct sink){ .id = id, .stream = s, .ref = &ref,
			      .fail_at = fail_at, .how = "write" };
	vfmig_parser_init(parser, id, payload_buf, sink_record, &sink);
	ret = parse_like_write(s, len, data[2]);
	check_verdict("write", ret, &sink, &ref);
	if (!ret)
		check_rebuild(s, len, id, &ref);

	/* Again in one piece: chunking must change nothing. */
	sink = (struct sink){ .id = id, .stream = s, .ref = &ref,
			      .fail_at = fail_at, .how = "feed" };
	vfmig_parser_init(parser, id, payload_buf, sink_record, &sink);
	check_verdict("feed", parse_in_one_feed(s, len), &sink, &ref);

	if (expect) {
		fprintf(stderr, "vfmig-fuzz: %s (%d%s%s)\n",
			ret ? "refused" : "accepted", ret, ret ? ": " : "",
			ret ? parser->why : "");
		if (strcmp(expect, ret ? "refuse" : "accept"))
			oracle_fail("expected the stream to be %sed", expect);
	}
	free(ref.cbs);
	free(ref.recs);
	free(s);
	return 0;
}
