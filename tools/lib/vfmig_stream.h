/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Offline reader of vfmig migration streams (include/vfmig/stream.h) for
 * vfmigctl and the guest tests: walks a whole stream held in memory,
 * checks every field and CRC the format defines, and reports each record
 * with its position, so tests can cut or corrupt a stream at chosen places.
 */
#ifndef VFMIG_STREAM_READER_H
#define VFMIG_STREAM_READER_H

#include <stddef.h>
#include <stdint.h>

#include "../../include/vfmig/stream.h"

#define VFMIG_HDR_SIZE	sizeof(struct vfmig_stream_header)
#define VFMIG_REC_SIZE	sizeof(struct vfmig_record)

/**
 * struct vfmig_rec_view - one record as the reader found it
 * @pos: stream offset of its struct vfmig_record
 * @type: VFMIG_REC_*
 * @flags: VFMIG_REC_F_*
 * @length: payload bytes, at @pos + VFMIG_REC_SIZE
 * @index: BAR number (memory records)
 * @offset: BAR offset (memory records)
 * @seq: record number
 * @payload_crc: the stored payload CRC
 */
struct vfmig_rec_view {
	size_t pos;
	uint16_t type;
	uint16_t flags;
	uint32_t length;
	uint32_t index;
	uint64_t offset;
	uint32_t seq;
	uint32_t payload_crc;
};

/**
 * struct vfmig_stream_view - what the reader learned of a stream
 * @magic: header fields, host byte order
 * @version: see struct vfmig_stream_header
 * @header_size: see struct vfmig_stream_header
 * @backend_id: see struct vfmig_stream_header
 * @flags: see struct vfmig_stream_header
 * @vendor: see struct vfmig_stream_header
 * @device: see struct vfmig_stream_header
 * @subsystem_vendor: see struct vfmig_stream_header
 * @subsystem_device: see struct vfmig_stream_header
 * @bar_size: see struct vfmig_stream_header
 * @header_ok: the header was complete and passed every check
 * @records: records read, END included
 * @by_type: how many records of each type (MEM, REGS, INFO, END, other)
 * @payload_bytes: payload bytes of the records before END
 * @end_pos: stream offset just after END, 0 if END was not reached
 * @rec: the records, in order (malloc'ed; free with vfmig_stream_free())
 * @nrec: entries in @rec
 * @regs: offset of the last REGS payload in the stream, 0 if none
 * @regs_len: its length
 * @info: offset of the first INFO payload, 0 if none
 * @info_len: its length
 */
struct vfmig_stream_view {
	uint32_t magic;
	uint16_t version;
	uint16_t header_size;
	uint32_t backend_id;
	uint32_t flags;
	uint16_t vendor;
	uint16_t device;
	uint16_t subsystem_vendor;
	uint16_t subsystem_device;
	uint64_t bar_size[VFMIG_NUM_BARS];
	int header_ok;
	uint64_t records;
	uint64_t by_type[5];
	uint64_t payload_bytes;
	size_t end_pos;
	struct vfmig_rec_view *rec;
	size_t nrec;
	size_t regs;
	uint32_t regs_len;
	size_t info;
	uint32_t info_len;
};

enum { VFMIG_T_MEM, VFMIG_T_REGS, VFMIG_T_INFO, VFMIG_T_END, VFMIG_T_OTHER };

/**
 * vfmig_stream_read() - check a whole stream
 * @buf: the stream
 * @len: its length
 * @v: filled with what was found, also on failure (up to the bad spot)
 * @why: on failure, what is wrong and at which offset
 * @whylen: size of @why
 *
 * Checks, as a destination would: magic, version, header size, header CRC,
 * zero flags and reserved; each record's header CRC, its number, flags,
 * length limit, payload CRC, a memory record's BAR and range; END's
 * length and counts; nothing after END; the stream not cut short.
 * Identity fields (vendor, BAR sizes) are reported, not judged: only the
 * destination knows what it is.
 *
 * Return: 0 if the stream is valid, -EINVAL if not, -ENOMEM.
 */
int vfmig_stream_read(const void *buf, size_t len,
		      struct vfmig_stream_view *v, char *why, size_t whylen);

/**
 * vfmig_stream_free() - release what vfmig_stream_read() allocated
 * @v: the view
 */
void vfmig_stream_free(struct vfmig_stream_view *v);

/**
 * vfmig_rec_type_name() - a record type as text
 * @type: VFMIG_REC_*
 *
 * Return: "MEM", "REGS", "INFO", "END" or "?".
 */
const char *vfmig_rec_type_name(uint16_t type);

/**
 * vfmig_header_reseal() - recompute the CRC of a stream header in place
 * @buf: the stream, at least VFMIG_HDR_SIZE bytes, header fields edited
 */
void vfmig_header_reseal(void *buf);

/**
 * vfmig_record_reseal() - recompute a record header's CRC in place
 * @rec: the record header, fields edited (payload_crc included)
 */
void vfmig_record_reseal(void *rec);

#endif /* VFMIG_STREAM_READER_H */
