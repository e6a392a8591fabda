// SPDX-License-Identifier: GPL-2.0-only
/*
 * Offline reader of vfmig migration streams.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "vfmig_stream.h"

static int __attribute__((format(printf, 3, 4)))
bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *vfmig_rec_type_name(uint16_t type)
{
	switch (type) {
	case VFMIG_REC_MEM:
		return "MEM";
	case VFMIG_REC_REGS:
		return "REGS";
	case VFMIG_REC_INFO:
		return "INFO";
	case VFMIG_REC_END:
		return "END";
	default:
		return "?";
	}
}

void vfmig_header_reseal(void *buf)
{
	struct vfmig_stream_header h;

	memcpy(&h, buf, sizeof(h));
	h.crc = htole32(vfmig_crc32c(&h, offsetof(struct vfmig_stream_header,
						  crc)));
	memcpy(buf, &h, sizeof(h));
}

void vfmig_record_reseal(void *rec)
{
	struct vfmig_record r;

	memcpy(&r, rec, sizeof(r));
	r.crc = htole32(vfmig_crc32c(&r, offsetof(struct vfmig_record, crc)));
	memcpy(rec, &r, sizeof(r));
}

void vfmig_stream_free(struct vfmig_stream_view *v)
{
	free(v->rec);
	v->rec = NULL;
	v->nrec = 0;
}

static int read_header(const unsigned char *buf, size_t len,
		       struct vfmig_stream_view *v, char *why, size_t whylen)
{
	struct vfmig_stream_header h;
	uint32_t crc;
	int i;

	if (len < sizeof(h))
		return bad(why, whylen,
			   "truncated: %zu bytes, the header alone is %zu",
			   len, sizeof(h));
	memcpy(&h, buf, sizeof(h));
	v->magic = le32toh(h.magic);
	v->version = le16toh(h.version);
	v->header_size = le16toh(h.header_size);
	v->backend_id = le32toh(h.backend_id);
	v->flags = le32toh(h.flags);
	v->vendor = le16toh(h.vendor);
	v->device = le16toh(h.device);
	v->subsystem_vendor = le16toh(h.subsystem_vendor);
	v->subsystem_device = le16toh(h.subsystem_device);
	for (i = 0; i < VFMIG_NUM_BARS; i++)
		v->bar_size[i] = le64toh(h.bar_size[i]);
	crc = vfmig_crc32c(&h, offsetof(struct vfmig_stream_header, crc));

	if (v->magic != VFMIG_STREAM_MAGIC)
		return bad(why, whylen, "not a vfmig stream (magic %#x)",
			   v->magic);
	if (v->version != VFMIG_STREAM_VERSION)
		return bad(why, whylen, "stream version %u, this tool reads %u",
			   v->version, VFMIG_STREAM_VERSION);
	if (v->header_size != sizeof(h))
		return bad(why, whylen, "header size %u, expected %zu",
			   v->header_size, sizeof(h));
	if (le32toh(h.crc) != crc)
		return bad(why, whylen,
			   "header CRC mismatch (stored %#010x, computed %#010x)",
			   le32toh(h.crc), crc);
	if (h.flags || h.reserved)
		return bad(why, whylen,
			   "header flags %#x / reserved %#x not zero",
			   v->flags, le32toh(h.reserved));
	v->header_ok = 1;
	return 0;
}

static int add_rec(struct vfmig_stream_view *v, const struct vfmig_rec_view *r)
{
	struct vfmig_rec_view *p;

	if (!(v->nrec & (v->nrec + 1)) || !v->rec) {
		/* Grow at 0, 1, 3, 7, ... entries: doubling. */
		p = realloc(v->rec, (v->nrec + 1) * 2 * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->rec = p;
	}
	v->rec[v->nrec++] = *r;
	return 0;
}

static int check_rec(const struct vfmig_stream_view *v,
		     const struct vfmig_rec_view *r, char *why, size_t whylen)
{
	uint64_t size;

	if (r->flags & ~VFMIG_REC_F_KNOWN)
		return bad(why, whylen, "record %u at %zu: unknown flags %#x",
			   r->seq, r->pos, r->flags);
	if (r->length > VFMIG_MAX_PAYLOAD)
		return bad(why, whylen,
			   "record %u at %zu: length %u exceeds the %u-byte limit",
			   r->seq, r->pos, r->length, VFMIG_MAX_PAYLOAD);
	switch (r->type) {
	case VFMIG_REC_MEM:
		if (r->index >= VFMIG_NUM_BARS || !v->bar_size[r->index])
			return bad(why, whylen,
				   "record %u at %zu: memory of BAR%u, which the header says is absent",
				   r->seq, r->pos, r->index);
		size = v->bar_size[r->index];
		if (!r->length || r->offset > size ||
		    r->length > size - r->offset)
			return bad(why, whylen,
				   "record %u at %zu: range %#llx+%#x outside BAR%u (%llu bytes)",
				   r->seq, r->pos,
				   (unsigned long long)r->offset, r->length,
				   r->index, (unsigned long long)size);
		if (r->offset % VFMIG_MEM_ALIGN ||
		    (r->length % VFMIG_MEM_ALIGN && r->offset + r->length != size))
			return bad(why, whylen,
				   "record %u at %zu: range %#llx+%#x not aligned to %u",
				   r->seq, r->pos,
				   (unsigned long long)r->offset, r->length,
				   VFMIG_MEM_ALIGN);
		return 0;
	case VFMIG_REC_END:
		if (r->length != sizeof(struct vfmig_end_payload))
			return bad(why, whylen,
				   "record %u at %zu: END payload of %u bytes, expected %zu",
				   r->seq, r->pos, r->length,
				   sizeof(struct vfmig_end_payload));
		return 0;
	case VFMIG_REC_REGS:
	case VFMIG_REC_INFO:
		return 0;
	default:
		if (r->flags & VFMIG_REC_F_MANDATORY)
			return bad(why, whylen,
				   "record %u at %zu: unknown mandatory type %#x",
				   r->seq, r->pos, r->type);
		return 0;
	}
}

static void count_type(struct vfmig_stream_view *v, uint16_t type)
{
	switch (type) {
	case VFMIG_REC_MEM:
		v->by_type[VFMIG_T_MEM]++;
		break;
	case VFMIG_REC_REGS:
		v->by_type[VFMIG_T_REGS]++;
		break;
	case VFMIG_REC_INFO:
		v->by_type[VFMIG_T_INFO]++;
		break;
	case VFMIG_REC_END:
		v->by_type[VFMIG_T_END]++;
		break;
	default:
		v->by_type[VFMIG_T_OTHER]++;
	}
}

int vfmig_stream_read(const void *buf, size_t len,
		      struct vfmig_stream_view *v, char *why, size_t whylen)
{
	const unsigned char *p = buf;
	struct vfmig_end_payload end;
	struct vfmig_rec_view r;
	struct vfmig_record raw;
	size_t pos;
	uint32_t crc;
	int ret;

	memset(v, 0, sizeof(*v));
	why[0] = '\0';
	ret = read_header(p, len, v, why, whylen);
	if (ret)
		return ret;

	for (pos = VFMIG_HDR_SIZE; ; pos += VFMIG_REC_SIZE + r.length) {
		if (len - pos < VFMIG_REC_SIZE)
			return bad(why, whylen,
				   "truncated at %zu: %zu bytes of a %zu-byte record header (no END)",
				   pos, len - pos, VFMIG_REC_SIZE);
		memcpy(&raw, p + pos, sizeof(raw));
		crc = vfmig_crc32c(&raw, offsetof(struct vfmig_record, crc));
		if (le32toh(raw.crc) != crc)
			return bad(why, whylen,
				   "record %llu at %zu: header CRC mismatch (stored %#010x, computed %#010x)",
				   (unsigned long long)v->records, pos,
				   le32toh(raw.crc), crc);
		r.pos = pos;
		r.type = le16toh(raw.type);
		r.flags = le16toh(raw.flags);
		r.length = le32toh(raw.length);
		r.index = le32toh(raw.index);
		r.offset = le64toh(raw.offset);
		r.seq = le32toh(raw.seq);
		r.payload_crc = le32toh(raw.payload_crc);
		if (r.seq != v->records)
			return bad(why, whylen,
				   "record at %zu is number %u where %llu was due",
				   pos, r.seq, (unsigned long long)v->records);
		ret = check_rec(v, &r, why, whylen);
		if (ret)
			return ret;
		if (len - pos - VFMIG_REC_SIZE < r.length)
			return bad(why, whylen,
				   "truncated in record %u (%s) at %zu: %zu of %u payload bytes",
				   r.seq, vfmig_rec_type_name(r.type), pos,
				   len - pos - VFMIG_REC_SIZE, r.length);
		crc = vfmig_crc32c(p + pos + VFMIG_REC_SIZE, r.length);
		if (crc != r.payload_crc)
			return bad(why, whylen,
				   "record %u (%s) at %zu: payload CRC mismatch (stored %#010x, computed %#010x)",
				   r.seq, vfmig_rec_type_name(r.type), pos,
				   r.payload_crc, crc);
		ret = add_rec(v, &r);
		if (ret)
			return ret;
		count_type(v, r.type);
		if (r.type == VFMIG_REC_REGS) {
			v->regs = pos + VFMIG_REC_SIZE;
			v->regs_len = r.length;
		} else if (r.type == VFMIG_REC_INFO && !v->info) {
			v->info = pos + VFMIG_REC_SIZE;
			v->info_len = r.length;
		}
		if (r.type == VFMIG_REC_END)
			break;
		v->records++;
		v->payload_bytes += r.length;
	}

	memcpy(&end, p + pos + VFMIG_REC_SIZE, sizeof(end));
	if (le64toh(end.records) != v->records ||
	    le64toh(end.payload_bytes) != v->payload_bytes)
		return bad(why, whylen,
			   "END counts %llu records and %llu bytes, the stream has %llu and %llu",
			   (unsigned long long)le64toh(end.records),
			   (unsigned long long)le64toh(end.payload_bytes),
			   (unsigned long long)v->records,
			   (unsigned long long)v->payload_bytes);
	v->records++;
	v->end_pos = pos + VFMIG_REC_SIZE + r.length;
	if (v->end_pos != len)
		return bad(why, whylen, "%zu bytes of data after END (at %zu)",
			   len - v->end_pos, v->end_pos);
	return 0;
}
