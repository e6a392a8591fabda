/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * VFIO migration (uAPI v2) helpers for the vfmig tools and guest tests:
 * the device features, the state machine and the data files, each call
 * returning 0 or a negative errno so callers can report what failed.
 */
#ifndef VFMIG_VFIO_MIG_H
#define VFMIG_VFIO_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/vfio.h>

/**
 * vfmig_state_name() - the name of a migration state
 * @state: a value of enum vfio_device_mig_state
 *
 * Return: "RUNNING", "STOP_COPY", ... or "?" for a value the uAPI lacks.
 */
const char *vfmig_state_name(uint32_t state);

/**
 * vfmig_state_parse() - a migration state from its name
 * @name: as vfmig_state_name() prints it (case-insensitive)
 *
 * Return: the state, or -1.
 */
int vfmig_state_parse(const char *name);

/**
 * vfmig_flags_str() - the VFIO_MIGRATION_* flags as text
 * @flags: the flags
 * @buf: where to write, e.g. "STOP_COPY|P2P|PRE_COPY"
 * @len: size of @buf
 *
 * Return: @buf.
 */
char *vfmig_flags_str(uint64_t flags, char *buf, size_t len);

/**
 * vfmig_mig_flags() - VFIO_DEVICE_FEATURE_MIGRATION (GET)
 * @dev: the device descriptor
 * @flags: set to the VFIO_MIGRATION_* flags
 *
 * Return: 0 or a negative errno (-ENOTTY or -EINVAL: no migration).
 */
int vfmig_mig_flags(int dev, uint64_t *flags);

/**
 * vfmig_get_state() - VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE (GET)
 * @dev: the device descriptor
 * @state: set to the current state
 *
 * Return: 0 or a negative errno.
 */
int vfmig_get_state(int dev, uint32_t *state);

/**
 * vfmig_set_state() - VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE (SET)
 * @dev: the device descriptor
 * @state: the state to go to
 * @data_fd: if not NULL, set to the data file the arc opened, or -1; if
 *	NULL, a data file the arc opens is closed at once
 *
 * Return: 0 or a negative errno.
 */
int vfmig_set_state(int dev, uint32_t state, int *data_fd);

/**
 * vfmig_feature() - one VFIO_DEVICE_FEATURE call
 * @dev: the device descriptor
 * @flags: VFIO_DEVICE_FEATURE_* (GET, SET, PROBE and the feature)
 * @data: the feature's payload, updated from the kernel on success
 * @size: its size, at most 64 bytes (0 for none, or a PROBE)
 *
 * Return: 0 or a negative errno (-E2BIG for a payload over 64 bytes).
 */
int vfmig_feature(int dev, uint32_t flags, void *data, size_t size);

/**
 * vfmig_data_size() - VFIO_DEVICE_FEATURE_MIG_DATA_SIZE (GET)
 * @dev: the device descriptor
 * @size: set to the estimated STOP_COPY length
 *
 * Return: 0 or a negative errno.
 */
int vfmig_data_size(int dev, uint64_t *size);

/**
 * vfmig_precopy_info() - VFIO_MIG_GET_PRECOPY_INFO on a saving data file
 * @fd: the data file
 * @initial: set to initial_bytes
 * @dirty: set to dirty_bytes
 *
 * Return: 0 or a negative errno.
 */
int vfmig_precopy_info(int fd, uint64_t *initial, uint64_t *dirty);

/**
 * struct vfmig_buf - a growing byte buffer
 * @data: the bytes (malloc'ed)
 * @len: bytes used
 * @cap: bytes allocated
 */
struct vfmig_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

/**
 * vfmig_buf_free() - release a buffer and empty it
 * @b: the buffer
 */
void vfmig_buf_free(struct vfmig_buf *b);

/**
 * vfmig_read_data() - read a saving data file until it has nothing more
 * @fd: the data file
 * @b: the bytes are appended here
 * @eof: set true if read() returned 0 (end of stream), false if it failed
 *	with ENOMSG (the temporary end of the PRE_COPY data)
 *
 * Return: 0 at either end, or a negative errno (a failed read or no
 * memory); @b keeps what was read before.
 */
int vfmig_read_data(int fd, struct vfmig_buf *b, bool *eof);

/**
 * vfmig_save() - save a RUNNING device whole and leave it RUNNING
 * @dev: the device descriptor
 * @b: the stream is appended here
 *
 * RUNNING -> STOP_COPY, the data file read to its end and closed, then
 * STOP_COPY -> RUNNING: the shortest full save, for tests.
 *
 * Return: 0, -EIO if the stream ended early, or a negative errno.
 */
int vfmig_save(int dev, struct vfmig_buf *b);

/**
 * vfmig_write_data() - write a stream into a resuming data file
 * @fd: the data file
 * @buf: the stream
 * @len: its length
 * @chunk: bytes per write() (QEMU writes 32 KiB at most)
 * @done: if not NULL, set to the bytes accepted before an error
 *
 * Return: 0 or the negative errno of the failed write().
 */
int vfmig_write_data(int fd, const void *buf, size_t len, size_t chunk,
		     size_t *done);

/**
 * vfmig_status_open() - open a function's vfmig debugfs status file
 * @bdf: the function, e.g. "0000:01:00.0"
 *
 * In vfio's per-device directory on a kernel with CONFIG_VFIO_DEBUGFS,
 * in vfmig's own otherwise (drivers/vfio/pci/vfmig/debugfs.c).
 *
 * Return: the open file, or NULL (errno set) if neither exists.
 */
FILE *vfmig_status_open(const char *bdf);

#endif /* VFMIG_VFIO_MIG_H */
