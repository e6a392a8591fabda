/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vfmig migration stream, version 1: what the saving data file yields
 * and the resuming data file accepts. Documented in
 * Documentation/stream-format.rst; this header is its definition, shared by
 * the driver and by userspace tools that inspect or craft streams.
 *
 * All fields are little-endian. Every CRC is CRC32C (Castagnoli), seed ~0,
 * final xor ~0 (the kernel's crc32c(~0, ...) ^ ~0). A stream is:
 *
 *	header, record, record, ..., END record
 *
 * and each record is a struct vfmig_record followed by @length payload
 * bytes.
 */
#ifndef _VFMIG_STREAM_H
#define _VFMIG_STREAM_H

#include <linux/types.h>

#define VFMIG_STREAM_MAGIC	0x474d4656	/* "VFMG" */
#define VFMIG_STREAM_VERSION	1

/* Largest record payload; a reader buffers at most one payload. */
#define VFMIG_MAX_PAYLOAD	(1024 * 1024)
/* Memory records start on, and cover whole, units of this size. */
#define VFMIG_MEM_ALIGN		4096

#define VFMIG_NUM_BARS		6

/**
 * struct vfmig_stream_header - the first bytes of every stream
 * @magic: VFMIG_STREAM_MAGIC
 * @version: VFMIG_STREAM_VERSION; a reader refuses versions it lacks
 * @header_size: sizeof(struct vfmig_stream_header)
 * @backend_id: the backend that wrote the stream (VFMIG_BACKEND_*)
 * @flags: none defined, must be 0
 * @vendor: PCI vendor id of the source function
 * @device: PCI device id
 * @subsystem_vendor: PCI subsystem vendor id
 * @subsystem_device: PCI subsystem id
 * @bar_size: size of each standard BAR of the source function (0: none);
 *	the destination must have the same geometry
 * @reserved: must be 0
 * @crc: CRC32C of every byte of the header before this field
 */
struct vfmig_stream_header {
	__le32 magic;
	__le16 version;
	__le16 header_size;
	__le32 backend_id;
	__le32 flags;
	__le16 vendor;
	__le16 device;
	__le16 subsystem_vendor;
	__le16 subsystem_device;
	__le64 bar_size[VFMIG_NUM_BARS];
	__le32 reserved;
	__le32 crc;
};

/* Record types. */
#define VFMIG_REC_MEM		1	/* memory BAR content */
#define VFMIG_REC_REGS		2	/* the backend's register block */
#define VFMIG_REC_INFO		3	/* text about the writer; optional */
#define VFMIG_REC_END		0x7fff	/* the last record */

/* Record flags. */
#define VFMIG_REC_F_MANDATORY	0x1	/* a reader that lacks the type fails */
#define VFMIG_REC_F_KNOWN	VFMIG_REC_F_MANDATORY

/**
 * struct vfmig_record - the header of one record
 * @type: VFMIG_REC_*
 * @flags: VFMIG_REC_F_*; unknown bits make the record invalid
 * @length: payload bytes that follow, at most VFMIG_MAX_PAYLOAD
 * @index: type-specific: the BAR number for VFMIG_REC_MEM, else 0
 * @payload_crc: CRC32C of the payload (of nothing when @length is 0)
 * @offset: type-specific: the byte offset in the BAR for VFMIG_REC_MEM,
 *	else 0
 * @seq: the record's number in the stream, counting from 0; a gap or a
 *	repeat means records were lost or replayed
 * @crc: CRC32C of every byte of this struct before this field
 */
struct vfmig_record {
	__le16 type;
	__le16 flags;
	__le32 length;
	__le32 index;
	__le32 payload_crc;
	__le64 offset;
	__le32 seq;
	__le32 crc;
};

/**
 * struct vfmig_end_payload - the payload of the VFMIG_REC_END record
 * @records: the number of records before END
 * @payload_bytes: the sum of their payload lengths
 */
struct vfmig_end_payload {
	__le64 records;
	__le64 payload_bytes;
};

#endif /* _VFMIG_STREAM_H */
