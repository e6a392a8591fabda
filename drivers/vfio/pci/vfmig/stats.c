// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig's counters and last error: kept by the core whether or not
 * debugfs or fault injection is built, read by the status file
 * (debugfs.c) and by the KUnit suites.
 */
#include <linux/string.h>

#include "vfmig.h"

/**
 * vfmig_stats_init() - zero counters, no error yet
 * @vdev: the device, being probed
 */
void vfmig_stats_init(struct vfmig_device *vdev)
{
	spin_lock_init(&vdev->stats.lock);
	atomic64_set(&vdev->stats.bytes_saved, 0);
	atomic64_set(&vdev->stats.bytes_loaded, 0);
	atomic_set(&vdev->stats.resets, 0);
	atomic64_set(&vdev->stats.arcs, 0);
	vdev->stats.last_errno = 0;
	vdev->stats.last_error[0] = '\0';
	vdev->stats.stop_copy_bytes = 0;
	vdev->stats.stop_copy_ns = 0;
}

/**
 * vfmig_note_error() - remember the last error, for the status file
 * @vdev: the device
 * @err: negative errno
 * @why: what failed
 */
void vfmig_note_error(struct vfmig_device *vdev, int err, const char *why)
{
	spin_lock(&vdev->stats.lock);
	vdev->stats.last_errno = err;
	strscpy(vdev->stats.last_error, why, sizeof(vdev->stats.last_error));
	spin_unlock(&vdev->stats.lock);
}

/**
 * vfmig_account() - count bytes a data file moved
 * @vdev: the device
 * @saving: a saving file (else resuming)
 * @total: bytes the file has moved so far
 * @n: bytes just moved
 *
 * Also the point where an injected reset_at fault fires, if built.
 */
void vfmig_account(struct vfmig_device *vdev, bool saving, u64 total, u64 n)
{
	atomic64_add(n, saving ? &vdev->stats.bytes_saved :
				 &vdev->stats.bytes_loaded);
	vfmig_fault_moved(vdev, saving, total);
}

/**
 * vfmig_note_stop_copy() - a saving file's STOP_COPY share, at its end
 * @vdev: the device
 * @bytes: bytes read from the file since the function stopped
 * @ns: time from the STOP_COPY arc to the end's last byte
 *
 * The device's part of a VM's downtime, as the driver sees it: how much
 * the stopped function had left to send and how long userspace took to
 * read it, so that a benchmark can tell the device's share of a
 * migration's downtime from the rest.
 */
void vfmig_note_stop_copy(struct vfmig_device *vdev, u64 bytes, u64 ns)
{
	spin_lock(&vdev->stats.lock);
	vdev->stats.stop_copy_bytes = bytes;
	vdev->stats.stop_copy_ns = ns;
	spin_unlock(&vdev->stats.lock);
}
