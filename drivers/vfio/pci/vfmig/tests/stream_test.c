// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit: the stream codec (drivers/vfio/pci/vfmig/stream_codec.c).
 *
 * A small stream (a 2-unit memory BAR, registers, INFO, END) is built with
 * the codec's own writer, then fed to the parser whole, in pieces, cut at
 * every byte, corrupted in every header field and extended in every way a
 * hostile or broken source could.
 */
#include <kunit/test.h>
#include <linux/string.h>

#include "stream_codec.h"

#define MEM_SIZE	(2 * VFMIG_MEM_ALIGN)
#define REGS_SIZE	8

static const struct vfmig_stream_id test_id = {
	.backend_id = 77,
	.vendor = 0x1af4, .device = 0x1110,
	.subsystem_vendor = 0x1af4, .subsystem_device = 0x1100,
	.bar_size = { 256, 0, MEM_SIZE, 0, 0, 0 },
	.mem_bar = 2,
	.regs_size = REGS_SIZE,
};

struct sink {
	u8 mem[MEM_SIZE];
	u8 regs[REGS_SIZE];
	int mem_records;
	int regs_records;
	int fail_with;
};

static int sink_record(void *ctx, const struct vfmig_rec_info *rec,
		       const void *payload)
{
	struct sink *s = ctx;

	if (s->fail_with)
		return s->fail_with;
	if (rec->type == VFMIG_REC_REGS) {
		memcpy(s->regs, payload, rec->length);
		s->regs_records++;
	} else {
		memcpy(s->mem + rec->offset, payload, rec->length);
		s->mem_records++;
	}
	return 0;
}

/* A stream under construction. */
struct sbuf {
	u8 *data;
	size_t len;
	u32 seq;
	u64 payload_bytes;
};

static void put(struct sbuf *b, const void *p, size_t len)
{
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

static void put_record(struct sbuf *b, u16 type, u16 flags, u32 index,
		       u64 offset, const void *payload, u32 len)
{
	struct vfmig_record rec;

	vfmig_record_build(&rec, type, flags, index, offset, b->seq++, payload,
			   len);
	put(b, &rec, sizeof(rec));
	put(b, payload, len);
	b->payload_bytes += len;
}

static void put_end(struct sbuf *b)
{
	struct vfmig_end_payload end = {
		.records = cpu_to_le64(b->seq),
		.payload_bytes = cpu_to_le64(b->payload_bytes),
	};
	struct vfmig_record rec;

	vfmig_record_build(&rec, VFMIG_REC_END, VFMIG_REC_F_MANDATORY, 0, 0,
			   b->seq++, &end, sizeof(end));
	put(b, &rec, sizeof(rec));
	put(b, &end, sizeof(end));
}

static void put_header(struct sbuf *b, const struct vfmig_stream_id *id)
{
	struct vfmig_stream_header hdr;

	vfmig_header_build(&hdr, id);
	put(b, &hdr, sizeof(hdr));
}

static u8 *mem_pattern(struct kunit *test)
{
	u8 *mem = kunit_kmalloc(test, MEM_SIZE, GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, mem);
	for (i = 0; i < MEM_SIZE; i++)
		mem[i] = i * 7 + 3;
	return mem;
}

/* The good stream: header, INFO, MEM x2, REGS, END. */
static struct sbuf *good_stream(struct kunit *test)
{
	static const u8 regs[REGS_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct sbuf *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	u8 *mem = mem_pattern(test);

	KUNIT_ASSERT_NOT_NULL(test, b);
	b->data = kunit_kzalloc(test, 4 * MEM_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b->data);
	put_header(b, &test_id);
	put_record(b, VFMIG_REC_INFO, 0, 0, 0, "kunit", 5);
	put_record(b, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2, 0, mem,
		   VFMIG_MEM_ALIGN);
	put_record(b, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2, VFMIG_MEM_ALIGN,
		   mem + VFMIG_MEM_ALIGN, VFMIG_MEM_ALIGN);
	put_record(b, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   REGS_SIZE);
	put_end(b);
	return b;
}

struct ctx {
	struct vfmig_parser p;
	struct sink sink;
	u8 *payload;
};

/* Start a new stream on @c, reusing its 1 MiB payload buffer. */
static void restart(struct ctx *c)
{
	memset(&c->sink, 0, sizeof(c->sink));
	vfmig_parser_init(&c->p, &test_id, c->payload, sink_record, &c->sink);
}

static struct ctx *new_parser(struct kunit *test)
{
	struct ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->payload = kunit_kmalloc(test, VFMIG_MAX_PAYLOAD, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c->payload);
	restart(c);
	return c;
}

/* Feed @len bytes in pieces of @step; the parser's final verdict. */
static int parse(struct ctx *c, const u8 *data, size_t len, size_t step)
{
	size_t off, n;
	ssize_t ret;

	for (off = 0; off < len; off += n) {
		n = min(step, len - off);
		ret = vfmig_parser_feed(&c->p, data + off, n);
		if (ret < 0)
			return ret;
	}
	return vfmig_parser_finish(&c->p);
}

static void stream_good_whole_and_in_pieces(struct kunit *test)
{
	static const size_t steps[] = { 1, 3, 31, 32, 33, 80, 4096, 65536 };
	struct sbuf *b = good_stream(test);
	struct ctx *c = new_parser(test);
	u8 *mem = mem_pattern(test);
	int i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		restart(c);
		KUNIT_EXPECT_EQ_MSG(test, parse(c, b->data, b->len, steps[i]), 0,
				    "step %zu: %s", steps[i], c->p.why);
		KUNIT_EXPECT_EQ(test, c->sink.mem_records, 2);
		KUNIT_EXPECT_EQ(test, c->sink.regs_records, 1);
		KUNIT_EXPECT_MEMEQ(test, c->sink.mem, mem, MEM_SIZE);
		KUNIT_EXPECT_EQ(test, c->sink.regs[7], 8);
		KUNIT_EXPECT_EQ(test, c->p.stage, VFMIG_PARSE_DONE);
	}
}

static void stream_truncated_at_every_byte(struct kunit *test)
{
	struct sbuf *b = good_stream(test);
	struct ctx *c = new_parser(test);
	size_t cut;

	for (cut = 0; cut < b->len; cut++) {
		restart(c);
		KUNIT_EXPECT_EQ_MSG(test, parse(c, b->data, cut, 4096), -EINVAL,
				    "cut at %zu of %zu accepted", cut, b->len);
		KUNIT_EXPECT_NOT_NULL(test, strstr(c->p.why, "truncated"));
	}
}

/* Corrupt one byte of the header; the stream must be refused with @why. */
static void expect_header_refused(struct kunit *test, struct ctx *c,
				  size_t off, u8 xor, bool fix_crc,
				  const char *why)
{
	struct sbuf *b = good_stream(test);
	struct vfmig_stream_header *h = (void *)b->data;

	restart(c);
	b->data[off] ^= xor;
	if (fix_crc)
		h->crc = cpu_to_le32(vfmig_crc(h, offsetof(typeof(*h), crc)));
	KUNIT_EXPECT_EQ_MSG(test, parse(c, b->data, b->len, 1000), -EINVAL,
			    "header byte %zu ^ %#x accepted", off, xor);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(c->p.why, why),
				  "byte %zu: \"%s\" lacks \"%s\"", off, c->p.why,
				  why);
	/* The failure is final: the first header bytes fail it again. */
	KUNIT_EXPECT_EQ(test, vfmig_parser_feed(&c->p, b->data, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, c->sink.mem_records, 0);
}

#define HOFF(f) offsetof(struct vfmig_stream_header, f)

static void stream_header_fields(struct kunit *test)
{
	struct ctx *c = new_parser(test);
	size_t off;
	int i;

	expect_header_refused(test, c, HOFF(magic), 0x01, true, "not a vfmig stream");
	expect_header_refused(test, c, HOFF(version), 0x03, true, "stream version 2");
	expect_header_refused(test, c, HOFF(header_size), 0x01, true, "header size");
	expect_header_refused(test, c, HOFF(backend_id), 0x01, true, "backend");
	expect_header_refused(test, c, HOFF(flags), 0x01, true, "flags");
	expect_header_refused(test, c, HOFF(vendor), 0x01, true, "this function is");
	expect_header_refused(test, c, HOFF(device), 0x01, true, "this function is");
	expect_header_refused(test, c, HOFF(subsystem_vendor), 0x01, true,
			      "this function is");
	expect_header_refused(test, c, HOFF(subsystem_device), 0x80, true,
			      "this function is");
	for (i = 0; i < VFMIG_NUM_BARS; i++)
		expect_header_refused(test, c, HOFF(bar_size) + 8 * i + 1, 0x10,
				      true, "bytes in the stream");
	expect_header_refused(test, c, HOFF(reserved), 0x01, true, "flags");
	/* Without the CRC fixed, every byte after the size fields is caught. */
	for (off = HOFF(backend_id); off < sizeof(struct vfmig_stream_header);
	     off++)
		expect_header_refused(test, c, off, 0x20, false, "CRC");
}

static void stream_record_corruption(struct kunit *test)
{
	size_t rec0 = sizeof(struct vfmig_stream_header);
	struct sbuf *good = good_stream(test);
	u8 *scratch = kunit_kmalloc(test, good->len, GFP_KERNEL);
	struct ctx *c = new_parser(test);
	size_t off;

	KUNIT_ASSERT_NOT_NULL(test, scratch);
	/* Every bit of the first two record headers and some payload. */
	for (off = rec0; off < good->len; off += (off < rec0 + 128 ? 1 : 509)) {
		int bit;

		for (bit = 0; bit < 8; bit += 3) {
			restart(c);
			memcpy(scratch, good->data, good->len);
			scratch[off] ^= 1 << bit;
			KUNIT_EXPECT_EQ_MSG(test, parse(c, scratch, good->len, 777),
					    -EINVAL, "bit %d of byte %zu", bit,
					    off);
		}
	}
}

/* A stream with extra records after the MEM records, before REGS/END. */
static int parse_with(struct kunit *test, struct ctx *c,
		      void (*extra)(struct sbuf *b, const u8 *mem))
{
	static const u8 regs[REGS_SIZE];
	struct sbuf *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	u8 *mem = mem_pattern(test);

	b->data = kunit_kzalloc(test, 2 * VFMIG_MAX_PAYLOAD + 8 * MEM_SIZE,
				GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b->data);
	put_header(b, &test_id);
	put_record(b, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2, 0, mem, MEM_SIZE);
	extra(b, mem);
	put_record(b, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   REGS_SIZE);
	put_end(b);
	return parse(c, b->data, b->len, 4096);
}

static void extra_unknown_optional(struct sbuf *b, const u8 *mem)
{
	put_record(b, 0x4242, 0, 9, 9, mem, 100);
}

static void extra_unknown_mandatory(struct sbuf *b, const u8 *mem)
{
	put_record(b, 0x4242, VFMIG_REC_F_MANDATORY, 0, 0, mem, 100);
}

static void extra_unknown_flag(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_INFO, 0x8000, 0, 0, mem, 10);
}

static void extra_second_header(struct sbuf *b, const u8 *mem)
{
	put_header(b, &test_id);
}

static void extra_end_early(struct sbuf *b, const u8 *mem)
{
	put_end(b);
}

static void extra_mem_past_bar(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2, VFMIG_MEM_ALIGN,
		   mem, MEM_SIZE);
}

static void extra_mem_offset_overflow(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2,
		   U64_MAX - VFMIG_MEM_ALIGN + 1, mem, VFMIG_MEM_ALIGN);
}

static void extra_mem_unaligned(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2, 512, mem, 512);
}

static void extra_mem_wrong_bar(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 0, 0, mem,
		   VFMIG_MEM_ALIGN);
}

static void extra_mem_empty(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2, 0, mem, 0);
}

static void extra_regs_short(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, mem, 4);
}

static void extra_skipped_seq(struct sbuf *b, const u8 *mem)
{
	b->seq++;
}

/* A record header claiming more than the limit (its payload is not sent). */
static void extra_oversized(struct sbuf *b, const u8 *mem)
{
	struct vfmig_record rec;

	vfmig_record_build(&rec, VFMIG_REC_INFO, 0, 0, 0, b->seq++, mem, 0);
	rec.length = cpu_to_le32(VFMIG_MAX_PAYLOAD + 1);
	rec.crc = cpu_to_le32(vfmig_crc(&rec, offsetof(typeof(rec), crc)));
	put(b, &rec, sizeof(rec));
}

static void extra_length_u32_max(struct sbuf *b, const u8 *mem)
{
	struct vfmig_record rec;

	vfmig_record_build(&rec, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2, 0,
			   b->seq++, mem, 0);
	rec.length = cpu_to_le32(U32_MAX);
	rec.crc = cpu_to_le32(vfmig_crc(&rec, offsetof(typeof(rec), crc)));
	put(b, &rec, sizeof(rec));
}

/* Index and offset place MEM records only; the other known types carry 0. */
static void extra_regs_indexed(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 2, 0, mem,
		   REGS_SIZE);
}

static void extra_info_offset(struct sbuf *b, const u8 *mem)
{
	put_record(b, VFMIG_REC_INFO, 0, 0, VFMIG_MEM_ALIGN, mem, 10);
}

static void extra_end_indexed(struct sbuf *b, const u8 *mem)
{
	struct vfmig_end_payload end = {};

	put_record(b, VFMIG_REC_END, VFMIG_REC_F_MANDATORY, 1, 0, &end,
		   sizeof(end));
}

struct extra_case {
	const char *name;
	void (*extra)(struct sbuf *b, const u8 *mem);
	int ret;
	const char *why;
};

static const struct extra_case extra_cases[] = {
	{ "unknown optional record skipped", extra_unknown_optional, 0, "" },
	{ "unknown mandatory record", extra_unknown_mandatory, -EINVAL,
	  "unknown mandatory" },
	{ "unknown record flag", extra_unknown_flag, -EINVAL, "unknown flags" },
	{ "second header", extra_second_header, -EINVAL, "CRC" },
	{ "data after END", extra_end_early, -EINVAL, "after the END" },
	{ "memory past the BAR", extra_mem_past_bar, -EINVAL, "outside" },
	{ "memory offset overflow", extra_mem_offset_overflow, -EINVAL,
	  "outside" },
	{ "unaligned memory", extra_mem_unaligned, -EINVAL, "aligned" },
	{ "memory of another BAR", extra_mem_wrong_bar, -EINVAL, "BAR0" },
	{ "empty memory record", extra_mem_empty, -EINVAL, "outside" },
	{ "short register record", extra_regs_short, -EINVAL, "registers" },
	{ "skipped record number", extra_skipped_seq, -EINVAL, "lost or replayed" },
	{ "length over the limit", extra_oversized, -EINVAL, "exceeds" },
	{ "length U32_MAX", extra_length_u32_max, -EINVAL, "exceeds" },
	{ "register record with an index", extra_regs_indexed, -EINVAL,
	  "must be 0" },
	{ "info record with an offset", extra_info_offset, -EINVAL,
	  "must be 0" },
	{ "END record with an index", extra_end_indexed, -EINVAL,
	  "must be 0" },
};

static void extra_desc(const struct extra_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(extra, extra_cases, extra_desc);

static void stream_records(struct kunit *test)
{
	const struct extra_case *ec = test->param_value;
	struct ctx *c = new_parser(test);
	int ret = parse_with(test, c, ec->extra);

	KUNIT_EXPECT_EQ_MSG(test, ret, ec->ret, "%s", c->p.why);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(c->p.why, ec->why),
				  "\"%s\" lacks \"%s\"", c->p.why, ec->why);
}

static void stream_end_counts(struct kunit *test)
{
	struct sbuf *b = good_stream(test);
	struct vfmig_record *end = (void *)(b->data + b->len -
		sizeof(struct vfmig_end_payload) - sizeof(struct vfmig_record));
	struct vfmig_end_payload *ep = (void *)(end + 1);
	struct ctx *c = new_parser(test);

	/* A consistent END that lies about the count (a dropped record). */
	ep->records = cpu_to_le64(le64_to_cpu(ep->records) + 1);
	end->payload_crc = cpu_to_le32(vfmig_crc(ep, sizeof(*ep)));
	end->crc = cpu_to_le32(vfmig_crc(end, offsetof(typeof(*end), crc)));
	KUNIT_EXPECT_EQ(test, parse(c, b->data, b->len, 100), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(c->p.why, "END counts"));
}

static void stream_apply_error_sticks(struct kunit *test)
{
	struct sbuf *b = good_stream(test);
	struct ctx *c = new_parser(test);

	c->sink.fail_with = -EIO;
	KUNIT_EXPECT_EQ(test, parse(c, b->data, b->len, 100), -EIO);
	KUNIT_EXPECT_EQ(test, vfmig_parser_finish(&c->p), -EIO);
	KUNIT_EXPECT_NOT_NULL(test, strstr(c->p.why, "could not be applied"));
}

/*
 * The consumer's refusal of a stream the parser accepted (migf.c, at END:
 * registers or memory missing) sticks like the parser's own.
 */
static void stream_refusal_after_end_sticks(struct kunit *test)
{
	struct sbuf *b = good_stream(test);
	struct ctx *c = new_parser(test);

	KUNIT_ASSERT_EQ(test, parse(c, b->data, b->len, 100), 0);
	KUNIT_ASSERT_EQ(test, vfmig_parser_finish(&c->p), 0);
	KUNIT_EXPECT_EQ(test, vfmig_parser_refuse(&c->p, -EINVAL, "wanting"),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, c->p.error, -EINVAL);
	KUNIT_EXPECT_STREQ(test, c->p.why, "wanting");
	KUNIT_EXPECT_EQ(test, vfmig_parser_finish(&c->p), -EINVAL);
	KUNIT_EXPECT_EQ(test, vfmig_parser_feed(&c->p, b->data, 1),
			(ssize_t)-EINVAL);
	/* A second refusal does not replace the first. */
	KUNIT_EXPECT_EQ(test, vfmig_parser_refuse(&c->p, -EIO, "later"), -EINVAL);
	KUNIT_EXPECT_STREQ(test, c->p.why, "wanting");
}

static void stream_full_size_matches_writer(struct kunit *test)
{
	struct sbuf *b = good_stream(test);

	/*
	 * good_stream() is a full stream with a 5-byte INFO whose memory is
	 * split in two records; the writer sends it in one (it is smaller
	 * than VFMIG_MAX_PAYLOAD).
	 */
	KUNIT_EXPECT_EQ(test, vfmig_stream_full_size(&test_id, 5),
			(u64)b->len - sizeof(struct vfmig_record));
}

static void stream_crc_is_crc32c(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vfmig_crc("123456789", 9), 0xe3069283);
}

static struct kunit_case stream_cases[] = {
	KUNIT_CASE(stream_crc_is_crc32c),
	KUNIT_CASE(stream_full_size_matches_writer),
	KUNIT_CASE(stream_good_whole_and_in_pieces),
	KUNIT_CASE(stream_truncated_at_every_byte),
	KUNIT_CASE(stream_header_fields),
	KUNIT_CASE(stream_record_corruption),
	KUNIT_CASE_PARAM(stream_records, extra_gen_params),
	KUNIT_CASE(stream_end_counts),
	KUNIT_CASE(stream_apply_error_sticks),
	KUNIT_CASE(stream_refusal_after_end_sticks),
	{}
};

static struct kunit_suite stream_suite = {
	.name = "vfmig_stream",
	.test_cases = stream_cases,
};

kunit_test_suite(stream_suite);
