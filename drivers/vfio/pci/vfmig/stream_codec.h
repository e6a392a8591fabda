/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfmig stream codec: builds stream headers and records, and parses a
 * stream as it arrives. Pure code: no device access, no locks, so the
 * KUnit tests drive it directly with the same sources as the module.
 */
#ifndef _VFMIG_STREAM_CODEC_H
#define _VFMIG_STREAM_CODEC_H

#include <linux/types.h>
#include <vfmig/stream.h>

/**
 * struct vfmig_stream_id - who a stream is for: the function's identity
 * and geometry, as written in the header and checked by the reader
 * @backend_id: VFMIG_BACKEND_*
 * @vendor: PCI vendor id
 * @device: PCI device id
 * @subsystem_vendor: PCI subsystem vendor id
 * @subsystem_device: PCI subsystem id
 * @bar_size: size of each standard BAR
 * @mem_bar: the BAR carried by VFMIG_REC_MEM records
 * @regs_size: the length of the VFMIG_REC_REGS payload
 */
struct vfmig_stream_id {
	u32 backend_id;
	u16 vendor;
	u16 device;
	u16 subsystem_vendor;
	u16 subsystem_device;
	u64 bar_size[VFMIG_NUM_BARS];
	int mem_bar;
	u32 regs_size;
};

u32 vfmig_crc(const void *buf, size_t len);
void vfmig_header_build(struct vfmig_stream_header *hdr,
			const struct vfmig_stream_id *id);
void vfmig_record_build(struct vfmig_record *rec, u16 type, u16 flags,
			u32 index, u64 offset, u32 seq, const void *payload,
			u32 length);
u64 vfmig_stream_full_size(const struct vfmig_stream_id *id, u32 info_len);

/**
 * struct vfmig_rec_info - a record header as the parser decoded it
 * @type: VFMIG_REC_*
 * @flags: VFMIG_REC_F_*
 * @length: payload bytes
 * @index: BAR number of a memory record
 * @offset: BAR offset of a memory record
 * @seq: the record's number
 */
struct vfmig_rec_info {
	u16 type;
	u16 flags;
	u32 length;
	u32 index;
	u64 offset;
	u32 seq;
};

/**
 * typedef vfmig_record_fn - called for each complete, checked record
 * @ctx: the parser's @ctx
 * @rec: the record
 * @payload: its payload, @rec->length bytes, CRC already checked
 *
 * Called for VFMIG_REC_MEM and VFMIG_REC_REGS records only; optional
 * records the parser does not know are checked and skipped. Return 0, or
 * a negative errno that fails the stream.
 */
typedef int (*vfmig_record_fn)(void *ctx, const struct vfmig_rec_info *rec,
			       const void *payload);

enum vfmig_parse_stage {
	VFMIG_PARSE_HEADER,
	VFMIG_PARSE_RECORD,
	VFMIG_PARSE_PAYLOAD,
	VFMIG_PARSE_DONE,
	VFMIG_PARSE_FAILED,
};

/**
 * struct vfmig_parser - an incremental stream reader
 * @stage: what the next bytes are
 * @id: the identity the stream must match
 * @record: called for each complete record
 * @ctx: passed to @record
 * @payload: buffer of VFMIG_MAX_PAYLOAD bytes, owned by the caller
 * @raw: the header or record header being received
 * @have: bytes of the current unit received so far
 * @cur: the record whose payload is being received
 * @records: records received before END
 * @payload_bytes: their payload bytes
 * @pos: stream bytes consumed, for messages
 * @error: 0, or the negative errno the stream failed with (sticky)
 * @why: what was wrong, once @error is set
 */
struct vfmig_parser {
	enum vfmig_parse_stage stage;
	const struct vfmig_stream_id *id;
	vfmig_record_fn record;
	void *ctx;
	u8 *payload;
	union {
		struct vfmig_stream_header hdr;
		struct vfmig_record rec;
	} raw;
	size_t have;
	struct vfmig_rec_info cur;
	u64 records;
	u64 payload_bytes;
	u64 pos;
	int error;
	char why[128];
};

void vfmig_parser_init(struct vfmig_parser *p,
		       const struct vfmig_stream_id *id, void *payload_buf,
		       vfmig_record_fn record, void *ctx);
void *vfmig_parser_space(struct vfmig_parser *p, size_t *room);
int vfmig_parser_commit(struct vfmig_parser *p, size_t n);
int vfmig_parser_extra(struct vfmig_parser *p);
ssize_t vfmig_parser_feed(struct vfmig_parser *p, const void *buf,
			  size_t len);
int vfmig_parser_finish(struct vfmig_parser *p);
int vfmig_parser_refuse(struct vfmig_parser *p, int err, const char *why);

#endif /* _VFMIG_STREAM_CODEC_H */
