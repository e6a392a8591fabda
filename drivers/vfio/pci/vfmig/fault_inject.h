/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfmig fault injection (fault_inject.c), for testing the error paths of
 * VMMs and management stacks without vendor hardware.
 *
 * Built only with CONFIG_VFMIG_FAULT_INJECTION. Without it every hook below
 * is an empty inline: a production module carries no fault files, no reset
 * work and no branch on a request that can never come, and the core files
 * (fsm.c, migf.c, main.c) call the hooks the same way either way.
 * Documentation/fault-injection.rst.
 */
#ifndef _VFMIG_FAULT_INJECT_H
#define _VFMIG_FAULT_INJECT_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <linux/workqueue.h>

struct dentry;
struct seq_file;
struct vfmig_device;

#if IS_ENABLED(CONFIG_VFMIG_FAULT_INJECTION)

/**
 * struct vfmig_faults - the faults requested through debugfs
 * @lock: protects every field but @reset_work
 * @arc_from: the arc to fail: its start
 * @arc_to: its end
 * @arc_err: the negative errno it fails with; 0: none
 * @fail_resume: the next RESUMING -> STOP refuses the stream
 * @reset_save_at: reset the function when a saving file has read this many
 *	bytes; 0: never
 * @reset_load_at: the same for a resuming file
 * @reset_work: runs the reset outside the data path
 * @removed: the device is being removed: @reset_work is not queued again
 */
struct vfmig_faults {
	spinlock_t lock;	/* see @lock above */
	int arc_from;
	int arc_to;
	int arc_err;
	bool fail_resume;
	u64 reset_save_at;
	u64 reset_load_at;
	struct work_struct reset_work;
	bool removed;
};

void vfmig_faults_init(struct vfmig_device *vdev);
void vfmig_faults_debugfs(struct vfmig_device *vdev, struct dentry *dir);
void vfmig_faults_show(struct vfmig_device *vdev, struct seq_file *s);
void vfmig_faults_stop(struct vfmig_device *vdev);
int vfmig_fault_arc(struct vfmig_device *vdev, enum vfio_device_mig_state from,
		    enum vfio_device_mig_state to);
bool vfmig_fault_resume(struct vfmig_device *vdev);
void vfmig_fault_moved(struct vfmig_device *vdev, bool saving, u64 total);

#else /* !CONFIG_VFMIG_FAULT_INJECTION */

struct vfmig_faults {};

static inline void vfmig_faults_init(struct vfmig_device *vdev) {}
static inline void vfmig_faults_debugfs(struct vfmig_device *vdev,
					struct dentry *dir) {}
static inline void vfmig_faults_show(struct vfmig_device *vdev,
				     struct seq_file *s) {}
static inline void vfmig_faults_stop(struct vfmig_device *vdev) {}
static inline int vfmig_fault_arc(struct vfmig_device *vdev,
				  enum vfio_device_mig_state from,
				  enum vfio_device_mig_state to)
{
	return 0;
}

static inline bool vfmig_fault_resume(struct vfmig_device *vdev)
{
	return false;
}

static inline void vfmig_fault_moved(struct vfmig_device *vdev, bool saving,
				     u64 total) {}

#endif /* CONFIG_VFMIG_FAULT_INJECTION */
#endif /* _VFMIG_FAULT_INJECT_H */
