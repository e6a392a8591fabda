// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig stream codec: see Documentation/stream-format.rst.
 *
 * The parser is fed the stream in arbitrary pieces (userspace writes any
 * size; QEMU writes 32 KiB). It hands out the exact place where the next
 * bytes belong (vfmig_parser_space()), so write() copies from userspace
 * straight into the header or payload buffer, and checks every unit as
 * soon as it is complete (vfmig_parser_commit()). The first problem fails
 * the stream for good and is described in @why.
 */
#include <kunit/visibility.h>
#include <linux/crc32c.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/unaligned.h>

#include "stream_codec.h"

/**
 * vfmig_crc() - the CRC32C used by the stream format
 * @buf: data
 * @len: its length
 *
 * Return: the standard CRC32C (Castagnoli) of @buf.
 */
u32 vfmig_crc(const void *buf, size_t len)
{
	return ~crc32c(~0, buf, len);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_crc);

/**
 * vfmig_header_build() - fill a stream header for a function
 * @hdr: the header
 * @id: the function's identity and geometry
 */
void vfmig_header_build(struct vfmig_stream_header *hdr,
			const struct vfmig_stream_id *id)
{
	int i;

	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = cpu_to_le32(VFMIG_STREAM_MAGIC);
	hdr->version = cpu_to_le16(VFMIG_STREAM_VERSION);
	hdr->header_size = cpu_to_le16(sizeof(*hdr));
	hdr->backend_id = cpu_to_le32(id->backend_id);
	hdr->vendor = cpu_to_le16(id->vendor);
	hdr->device = cpu_to_le16(id->device);
	hdr->subsystem_vendor = cpu_to_le16(id->subsystem_vendor);
	hdr->subsystem_device = cpu_to_le16(id->subsystem_device);
	for (i = 0; i < VFMIG_NUM_BARS; i++)
		hdr->bar_size[i] = cpu_to_le64(id->bar_size[i]);
	hdr->crc = cpu_to_le32(vfmig_crc(hdr, offsetof(typeof(*hdr), crc)));
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_header_build);

/**
 * vfmig_record_build() - fill a record header for a payload
 * @rec: the record header
 * @type: VFMIG_REC_*
 * @flags: VFMIG_REC_F_*
 * @index: type-specific index (the BAR of a memory record)
 * @offset: type-specific offset (in the BAR of a memory record)
 * @seq: the record's number in the stream
 * @payload: the payload
 * @length: its length, at most VFMIG_MAX_PAYLOAD
 */
void vfmig_record_build(struct vfmig_record *rec, u16 type, u16 flags,
			u32 index, u64 offset, u32 seq, const void *payload,
			u32 length)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = cpu_to_le16(type);
	rec->flags = cpu_to_le16(flags);
	rec->length = cpu_to_le32(length);
	rec->index = cpu_to_le32(index);
	rec->payload_crc = cpu_to_le32(vfmig_crc(payload, length));
	rec->offset = cpu_to_le64(offset);
	rec->seq = cpu_to_le32(seq);
	rec->crc = cpu_to_le32(vfmig_crc(rec, offsetof(typeof(*rec), crc)));
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_record_build);

/**
 * vfmig_stream_full_size() - bytes of a complete STOP_COPY stream
 * @id: the function
 * @info_len: payload length of the INFO record
 *
 * Return: header, INFO, one pass over the memory BAR, REGS and END.
 */
u64 vfmig_stream_full_size(const struct vfmig_stream_id *id, u32 info_len)
{
	u64 mem = id->bar_size[id->mem_bar];
	u64 chunks = DIV_ROUND_UP(mem, VFMIG_MAX_PAYLOAD);

	return sizeof(struct vfmig_stream_header) +
	       (chunks + 3) * sizeof(struct vfmig_record) + info_len + mem +
	       id->regs_size + sizeof(struct vfmig_end_payload);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_stream_full_size);

static __printf(3, 4) int parse_fail(struct vfmig_parser *p, int err,
				     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	p->error = err;
	p->stage = VFMIG_PARSE_FAILED;
	return err;
}

/**
 * vfmig_parser_init() - start reading a stream
 * @p: the parser
 * @id: the identity the stream must match (kept by reference)
 * @payload_buf: a buffer of VFMIG_MAX_PAYLOAD bytes
 * @record: called for each complete memory or register record
 * @ctx: passed to @record
 */
void vfmig_parser_init(struct vfmig_parser *p,
		       const struct vfmig_stream_id *id, void *payload_buf,
		       vfmig_record_fn record, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->stage = VFMIG_PARSE_HEADER;
	p->id = id;
	p->payload = payload_buf;
	p->record = record;
	p->ctx = ctx;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_parser_init);

/**
 * vfmig_parser_space() - where the next stream bytes go
 * @p: the parser
 * @room: set to how many bytes complete the current unit (0 once the
 *	stream ended or failed)
 *
 * Return: the place to copy at most @room next bytes to.
 */
void *vfmig_parser_space(struct vfmig_parser *p, size_t *room)
{
	switch (p->stage) {
	case VFMIG_PARSE_HEADER:
		*room = sizeof(p->raw.hdr) - p->have;
		return (u8 *)&p->raw.hdr + p->have;
	case VFMIG_PARSE_RECORD:
		*room = sizeof(p->raw.rec) - p->have;
		return (u8 *)&p->raw.rec + p->have;
	case VFMIG_PARSE_PAYLOAD:
		*room = p->cur.length - p->have;
		return p->payload + p->have;
	default:
		*room = 0;
		return NULL;
	}
}

static int check_header(struct vfmig_parser *p)
{
	const struct vfmig_stream_header *h = &p->raw.hdr;
	const struct vfmig_stream_id *id = p->id;
	u32 crc = vfmig_crc(h, offsetof(typeof(*h), crc));
	int i;

	if (le32_to_cpu(h->magic) != VFMIG_STREAM_MAGIC)
		return parse_fail(p, -EINVAL, "not a vfmig stream (magic %#x)",
				  le32_to_cpu(h->magic));
	if (le16_to_cpu(h->version) != VFMIG_STREAM_VERSION)
		return parse_fail(p, -EINVAL,
				  "stream version %u, this driver reads version %u",
				  le16_to_cpu(h->version), VFMIG_STREAM_VERSION);
	if (le16_to_cpu(h->header_size) != sizeof(*h))
		return parse_fail(p, -EINVAL, "header size %u, expected %zu",
				  le16_to_cpu(h->header_size), sizeof(*h));
	if (le32_to_cpu(h->crc) != crc)
		return parse_fail(p, -EINVAL, "header CRC mismatch");
	if (h->flags || h->reserved)
		return parse_fail(p, -EINVAL, "unknown header flags %#x",
				  le32_to_cpu(h->flags));
	if (le32_to_cpu(h->backend_id) != id->backend_id)
		return parse_fail(p, -EINVAL,
				  "stream of backend %u, this function uses backend %u",
				  le32_to_cpu(h->backend_id), id->backend_id);
	if (le16_to_cpu(h->vendor) != id->vendor ||
	    le16_to_cpu(h->device) != id->device ||
	    le16_to_cpu(h->subsystem_vendor) != id->subsystem_vendor ||
	    le16_to_cpu(h->subsystem_device) != id->subsystem_device)
		return parse_fail(p, -EINVAL,
				  "stream of %04x:%04x (subsystem %04x:%04x), this function is %04x:%04x (subsystem %04x:%04x)",
				  le16_to_cpu(h->vendor), le16_to_cpu(h->device),
				  le16_to_cpu(h->subsystem_vendor),
				  le16_to_cpu(h->subsystem_device), id->vendor,
				  id->device, id->subsystem_vendor,
				  id->subsystem_device);
	for (i = 0; i < VFMIG_NUM_BARS; i++)
		if (le64_to_cpu(h->bar_size[i]) != id->bar_size[i])
			return parse_fail(p, -EINVAL,
					  "BAR%d is %llu bytes in the stream, %llu here",
					  i, le64_to_cpu(h->bar_size[i]),
					  id->bar_size[i]);
	return 0;
}

static int check_mem_record(struct vfmig_parser *p)
{
	const struct vfmig_rec_info *r = &p->cur;
	u64 size = p->id->bar_size[p->id->mem_bar];

	if (r->index != p->id->mem_bar)
		return parse_fail(p, -EINVAL,
				  "record %u: memory of BAR%u, this function keeps state in BAR%d",
				  r->seq, r->index, p->id->mem_bar);
	if (!r->length || r->offset > size || r->length > size - r->offset)
		return parse_fail(p, -EINVAL,
				  "record %u: memory range %#llx+%#x outside the %llu-byte BAR",
				  r->seq, r->offset, r->length, size);
	if (!IS_ALIGNED(r->offset, VFMIG_MEM_ALIGN) ||
	    (!IS_ALIGNED(r->length, VFMIG_MEM_ALIGN) &&
	     r->offset + r->length != size))
		return parse_fail(p, -EINVAL,
				  "record %u: memory range %#llx+%#x not aligned to %u",
				  r->seq, r->offset, r->length, VFMIG_MEM_ALIGN);
	return 0;
}

/*
 * Only a MEM record has a place in a BAR. The other known types carry
 * zeros there (stream-format.rst): anything else was not written by this
 * format, and refusing it keeps those fields free for a later version.
 */
static int check_unplaced(struct vfmig_parser *p)
{
	const struct vfmig_rec_info *r = &p->cur;

	if (r->index || r->offset)
		return parse_fail(p, -EINVAL,
				  "record %u: type %#x has index %u and offset %llu, both must be 0",
				  r->seq, r->type, r->index, r->offset);
	return 0;
}

static int check_record(struct vfmig_parser *p)
{
	const struct vfmig_record *raw = &p->raw.rec;
	struct vfmig_rec_info *r = &p->cur;

	if (le32_to_cpu(raw->crc) != vfmig_crc(raw, offsetof(typeof(*raw), crc)))
		return parse_fail(p, -EINVAL,
				  "record %llu: header CRC mismatch at stream offset %llu",
				  p->records, p->pos - sizeof(*raw));
	r->type = le16_to_cpu(raw->type);
	r->flags = le16_to_cpu(raw->flags);
	r->length = le32_to_cpu(raw->length);
	r->index = le32_to_cpu(raw->index);
	r->offset = le64_to_cpu(raw->offset);
	r->seq = le32_to_cpu(raw->seq);

	if (r->seq != p->records)
		return parse_fail(p, -EINVAL,
				  "record number %u where %llu was due (lost or replayed records)",
				  r->seq, p->records);
	if (r->flags & ~VFMIG_REC_F_KNOWN)
		return parse_fail(p, -EINVAL, "record %u: unknown flags %#x",
				  r->seq, r->flags);
	if (r->length > VFMIG_MAX_PAYLOAD)
		return parse_fail(p, -EINVAL,
				  "record %u: length %u exceeds the %u-byte limit",
				  r->seq, r->length, VFMIG_MAX_PAYLOAD);

	switch (r->type) {
	case VFMIG_REC_MEM:
		return check_mem_record(p);
	case VFMIG_REC_REGS:
		if (check_unplaced(p))
			return p->error;
		if (r->length != p->id->regs_size)
			return parse_fail(p, -EINVAL,
					  "record %u: %u bytes of registers, this function has %u",
					  r->seq, r->length, p->id->regs_size);
		return 0;
	case VFMIG_REC_END:
		if (check_unplaced(p))
			return p->error;
		if (r->length != sizeof(struct vfmig_end_payload))
			return parse_fail(p, -EINVAL,
					  "record %u: END payload of %u bytes",
					  r->seq, r->length);
		return 0;
	case VFMIG_REC_INFO:
		return check_unplaced(p);
	default:
		if (r->flags & VFMIG_REC_F_MANDATORY)
			return parse_fail(p, -EINVAL,
					  "record %u: unknown mandatory record type %#x",
					  r->seq, r->type);
		return 0;	/* unknown optional: checked, then skipped */
	}
}

static int check_end(struct vfmig_parser *p)
{
	const struct vfmig_end_payload *end = (const void *)p->payload;

	if (le64_to_cpu(get_unaligned(&end->records)) != p->records ||
	    le64_to_cpu(get_unaligned(&end->payload_bytes)) != p->payload_bytes)
		return parse_fail(p, -EINVAL,
				  "END counts %llu records and %llu bytes, %llu and %llu arrived",
				  le64_to_cpu(get_unaligned(&end->records)),
				  le64_to_cpu(get_unaligned(&end->payload_bytes)),
				  p->records, p->payload_bytes);
	p->stage = VFMIG_PARSE_DONE;
	return 0;
}

static int payload_done(struct vfmig_parser *p)
{
	const struct vfmig_rec_info *r = &p->cur;
	u32 crc = le32_to_cpu(p->raw.rec.payload_crc);
	int ret;

	if (vfmig_crc(p->payload, r->length) != crc)
		return parse_fail(p, -EINVAL,
				  "record %u (type %#x): payload CRC mismatch",
				  r->seq, r->type);
	if (r->type == VFMIG_REC_END)
		return check_end(p);

	if (r->type == VFMIG_REC_MEM || r->type == VFMIG_REC_REGS) {
		ret = p->record(p->ctx, r, p->payload);
		if (ret)
			return parse_fail(p, ret,
					  "record %u (type %#x) could not be applied: %d",
					  r->seq, r->type, ret);
	}
	p->records++;
	p->payload_bytes += r->length;
	p->stage = VFMIG_PARSE_RECORD;
	p->have = 0;
	return 0;
}

/**
 * vfmig_parser_commit() - account for bytes copied to the space
 * @p: the parser
 * @n: bytes copied to vfmig_parser_space(), at most its @room
 *
 * Checks and consumes every unit @n completes.
 *
 * Return: 0, or the stream's negative errno, then and from now on.
 */
int vfmig_parser_commit(struct vfmig_parser *p, size_t n)
{
	size_t room;
	int ret;

	if (p->error)
		return p->error;
	vfmig_parser_space(p, &room);
	if (WARN_ON_ONCE(n > room))
		return parse_fail(p, -EINVAL, "internal: commit past the space");
	p->have += n;
	p->pos += n;
	if (n < room)
		return 0;

	switch (p->stage) {
	case VFMIG_PARSE_HEADER:
		ret = check_header(p);
		if (ret)
			return ret;
		p->stage = VFMIG_PARSE_RECORD;
		break;
	case VFMIG_PARSE_RECORD:
		ret = check_record(p);
		if (ret)
			return ret;
		p->stage = VFMIG_PARSE_PAYLOAD;
		break;
	case VFMIG_PARSE_PAYLOAD:
		return payload_done(p);
	default:
		return 0;
	}
	p->have = 0;
	/* A record without payload is complete with its header. */
	if (p->stage == VFMIG_PARSE_PAYLOAD && !p->cur.length)
		return payload_done(p);
	return 0;
}

/**
 * vfmig_parser_extra() - bytes arrived where the stream had ended
 * @p: the parser, with no room left
 *
 * Return: the stream's errno: its earlier one, or -EINVAL now.
 */
int vfmig_parser_extra(struct vfmig_parser *p)
{
	if (p->error)
		return p->error;
	return parse_fail(p, -EINVAL, "data after the END record");
}

/**
 * vfmig_parser_feed() - parse bytes from a kernel buffer
 * @p: the parser
 * @buf: the next stream bytes
 * @len: how many
 *
 * Return: @len, or a negative errno if the stream failed (bytes after
 * the END record fail it too).
 */
ssize_t vfmig_parser_feed(struct vfmig_parser *p, const void *buf, size_t len)
{
	size_t done = 0, room, n;
	void *space;
	int ret;

	while (done < len) {
		if (p->error)
			return p->error;
		space = vfmig_parser_space(p, &room);
		if (!room)
			return vfmig_parser_extra(p);
		n = min(room, len - done);
		memcpy(space, (const u8 *)buf + done, n);
		ret = vfmig_parser_commit(p, n);
		if (ret)
			return ret;
		done += n;
	}
	return done;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_parser_feed);

/**
 * vfmig_parser_finish() - the stream is over: was it whole?
 * @p: the parser
 *
 * Return: 0 if the END record arrived and checked, else the stream's
 * errno (-EINVAL for a truncated stream, with @why saying where).
 */
int vfmig_parser_finish(struct vfmig_parser *p)
{
	static const char * const where[] = {
		[VFMIG_PARSE_HEADER] = "in the header",
		[VFMIG_PARSE_RECORD] = "in a record header",
		[VFMIG_PARSE_PAYLOAD] = "in a record payload",
	};

	if (p->error)
		return p->error;
	if (p->stage == VFMIG_PARSE_DONE)
		return 0;
	return parse_fail(p, -EINVAL,
			  "truncated: the stream stops %s after %llu bytes, before its END record",
			  where[p->stage], p->pos);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_parser_finish);

/**
 * vfmig_parser_refuse() - the consumer refuses a stream the parser accepted
 * @p: the parser
 * @err: the negative errno
 * @why: what the stream lacks, for the log
 *
 * For what only the whole stream can show: its END record checked, but it
 * never carried the registers, say. From then on the parser fails as if it
 * had found the fault itself, with @why. Only for a stream whose END
 * checked; a stream that already failed keeps its first error.
 *
 * Return: @err, or the error the parser already had.
 */
int vfmig_parser_refuse(struct vfmig_parser *p, int err, const char *why)
{
	/* The first failure is the one the log and the arc report. */
	if (p->error)
		return p->error;
	if (WARN_ON_ONCE(p->stage != VFMIG_PARSE_DONE))
		return parse_fail(p, -EINVAL, "internal: refused before END");
	return parse_fail(p, err, "%s", why);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_parser_refuse);
