/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfmig data files: the saving file (PRE_COPY, PRE_COPY_P2P, STOP_COPY)
 * and the resuming file (RESUMING) handed to userspace by SET_STATE.
 */
#ifndef _VFMIG_MIGF_H
#define _VFMIG_MIGF_H

#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/wait.h>

#include "stream_codec.h"
#include "vfmig.h"

#define VFMIG_REGS_MAX		4096
#define VFMIG_INFO_MAX		128

/* Where a saving file is in its stream. */
enum vfmig_save_step {
	VFMIG_SAVE_HEADER,
	VFMIG_SAVE_INFO,
	VFMIG_SAVE_MEM_ALL,	/* the whole memory BAR, in order */
	VFMIG_SAVE_MEM_DIRTY,	/* the pages in @send */
	VFMIG_SAVE_PRECOPY_END,	/* -ENOMSG until a round or STOP_COPY */
	VFMIG_SAVE_REGS,
	VFMIG_SAVE_END,
	VFMIG_SAVE_EOF,
};

/**
 * struct vfmig_migf - one data file
 * @filp: the anon-inode file
 * @vdev: the device; valid while the file is not disabled
 * @saving: a saving file, else a resuming one
 * @io_lock: one read/write/ioctl at a time; held across user copies and
 *	device access, never taken by the reset path
 * @lock: protects @disabled and @error; taken under memory_lock and by the
 *	reset path, so nothing is taken under it
 * @disabled: the file is dead: every operation fails with -ENODEV
 * @error: a sticky stream error (negative errno) or 0
 * @reset_gen: the device's reset generation when the file was made: a
 *	reset since (even one still deferred) makes the file dead
 * @wq: poll waiters
 * @id: the function's identity, as written to or checked in the stream
 * @info: the INFO record text of a saving file
 * @info_len: its length
 * @step: (saving) the next thing to emit; owned by @io_lock, written with
 *	WRITE_ONCE for poll
 * @stop_copy: (saving) the device reached STOP_COPY; set under @io_lock
 * @mem_off: (saving) next memory offset of the whole-BAR pass
 * @send: (saving, from PRE_COPY) pages written since the whole-BAR pass
 *	or the last round copied them, still to send; one bit per page
 * @send_from: (saving) where the search of @send resumes
 * @seq: (saving) next record number
 * @payload_bytes: (saving) payload emitted so far, for END
 * @precopy_size: (saving) bytes of the initial PRE_COPY data: the
 *	header, INFO and the whole-BAR pass; 0 for a file opened in
 *	STOP_COPY
 * @consumed: (saving) bytes read by userspace
 * @sc_from: (saving) @consumed when the function stopped (STOP_COPY)
 * @sc_start: (saving) when the STOP_COPY arc began
 * @buf: (saving) one staged record; (resuming) one payload
 * @buf_len: (saving) staged bytes
 * @buf_pos: (saving) staged bytes already read
 * @held: bytes of @buf, @mem_map and @send, as accounted to the device
 * @regs: the register block: saved at STOP_COPY, or received in RESUMING
 * @regs_seen: (resuming) a register record arrived
 * @mem_map: (resuming) which VFMIG_MEM_ALIGN units of the memory BAR
 *	arrived
 * @parser: (resuming) the stream reader
 */
struct vfmig_migf {
	struct file *filp;
	struct vfmig_device *vdev;
	bool saving;
	struct mutex io_lock;	/* see @io_lock above */
	struct mutex lock;	/* see @lock above */
	bool disabled;
	int error;
	int reset_gen;
	wait_queue_head_t wq;
	struct vfmig_stream_id id;
	char info[VFMIG_INFO_MAX];
	u32 info_len;

	enum vfmig_save_step step;
	bool stop_copy;
	u64 mem_off;
	unsigned long *send;
	u64 send_from;
	u32 seq;
	u64 payload_bytes;
	u64 precopy_size;
	u64 consumed;
	u64 sc_from;
	ktime_t sc_start;
	u8 *buf;
	size_t buf_len;
	size_t buf_pos;
	u64 held;

	u8 regs[VFMIG_REGS_MAX];
	bool regs_seen;
	unsigned long *mem_map;
	struct vfmig_parser parser;
};

void vfmig_stream_id_init(struct vfmig_device *vdev, struct vfmig_stream_id *id);
u32 vfmig_info_text(struct vfmig_device *vdev, char *buf, size_t len);

struct vfmig_migf *vfmig_saving_create(struct vfmig_device *vdev,
				       bool stop_copy);
int vfmig_saving_stop_copy(struct vfmig_migf *migf);
int vfmig_saving_remaining(struct vfmig_migf *migf, u64 *bytes);
struct vfmig_migf *vfmig_resuming_create(struct vfmig_device *vdev);
int vfmig_resuming_finish(struct vfmig_migf *migf);
void vfmig_migf_disable(struct vfmig_migf *migf);
void vfmig_migf_disable_sync(struct vfmig_migf *migf);
int vfmig_migf_live(void);

#endif /* _VFMIG_MIGF_H */
