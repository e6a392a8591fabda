// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig debugfs: the device's status, and the directory the fault files
 * (fault_inject.c) go in.
 *
 * Where: in vfio's own per-device directory when the kernel has it
 * (CONFIG_VFIO_DEBUGFS), beside vfio's migration state file, as hisi_acc
 * does; otherwise in a directory of our own:
 *
 *	/sys/kernel/debug/vfio/<BDF>/migration/vfmig/	CONFIG_VFIO_DEBUGFS
 *	/sys/kernel/debug/vfmig/<BDF>/			otherwise
 *
 *	status		read: state, backend, open data files, bytes saved
 *			and loaded, resets seen, arcs taken, dirty tracking,
 *			DMA logging, memory held, the last error, the last
 *			save's STOP_COPY bytes and time (and the pending
 *			faults, with CONFIG_VFMIG_FAULT_INJECTION)
 *
 * Documentation/fault-injection.rst.
 */
#include <linux/debugfs.h>
#include <linux/pci.h>
#include <linux/seq_file.h>

#include "vfmig.h"

/* Our own root, only when vfio has no per-device directories. */
static struct dentry *vfmig_debugfs_root;

static int status_show(struct seq_file *s, void *unused)
{
	struct vfmig_device *vdev = s->private;
	struct vfmig_stats *st = &vdev->stats;
	enum vfio_device_mig_state state;
	bool saving, resuming;

	mutex_lock(&vdev->state_mutex);
	state = vfmig_state_now(vdev);
	saving = vdev->saving_migf;
	resuming = vdev->resuming_migf;
	vfmig_state_mutex_unlock(vdev);

	seq_printf(s, "state: %s\n", vfmig_state_name(state));
	seq_printf(s, "backend: %s\n", vdev->backend->name);
	seq_printf(s, "saving_file: %s\nresuming_file: %s\n",
		   saving ? "open" : "none", resuming ? "open" : "none");
	seq_printf(s, "bytes_saved: %lld\nbytes_loaded: %lld\n",
		   atomic64_read(&st->bytes_saved), atomic64_read(&st->bytes_loaded));
	seq_printf(s, "resets: %d\n", atomic_read(&st->resets));
	seq_printf(s, "arcs: %lld\n", (long long)atomic64_read(&st->arcs));
	seq_printf(s, "dirty_tracking: %s\n",
		   vfmig_dirty_tracking(vdev) ? "on" : "off");
	seq_printf(s, "dma_logging: %s, %d reports\n",
		   vdev->core_device.vdev.log_ops ?
		   (READ_ONCE(vdev->dma_logging) ? "on" : "off") : "not offered",
		   atomic_read(&vdev->dma_log_reports));
	seq_printf(s, "held_bytes: %lld\n",
		   (long long)atomic64_read(&vdev->held_bytes));
	spin_lock(&st->lock);
	seq_printf(s, "last_error: %d %s\n", st->last_errno,
		   st->last_errno ? st->last_error : "");
	seq_printf(s, "last_stop_copy: %llu bytes in %llu us\n",
		   st->stop_copy_bytes, div_u64(st->stop_copy_ns, NSEC_PER_USEC));
	spin_unlock(&st->lock);
	vfmig_faults_show(vdev, s);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(status);

/*
 * vfio's directory for this device, or NULL. It exists from the end of
 * vfio_register_group_dev() to the end of vfio_unregister_group_dev(),
 * which removes it with everything in it, ours included.
 */
static struct dentry *vfio_device_dir(struct vfmig_device *vdev)
{
#if IS_ENABLED(CONFIG_VFIO_DEBUGFS)
	struct dentry *root = vdev->core_device.vdev.debug_root;
	struct dentry *mig;

	if (IS_ERR_OR_NULL(root))
		return NULL;
	/* vfio makes "migration" for every device with mig_ops, as ours. */
	mig = debugfs_lookup("migration", root);
	if (!mig)
		return root;
	dput(mig);
	return mig;
#else
	return NULL;
#endif
}

/**
 * vfmig_debugfs_add() - the device's debugfs directory and files
 * @vdev: the device, registered with vfio (its directory exists by then)
 */
void vfmig_debugfs_add(struct vfmig_device *vdev)
{
	struct dentry *parent = IS_ENABLED(CONFIG_VFIO_DEBUGFS) ?
				vfio_device_dir(vdev) : vfmig_debugfs_root;
	struct dentry *dir;

	if (IS_ERR_OR_NULL(parent))
		return;
	dir = debugfs_create_dir(IS_ENABLED(CONFIG_VFIO_DEBUGFS) ? "vfmig" :
				 pci_name(vfmig_pdev(vdev)), parent);
	if (IS_ERR(dir))
		return;
	vdev->debugfs_dir = dir;
	debugfs_create_file("status", 0400, dir, vdev, &status_fops);
	vfmig_faults_debugfs(vdev, dir);
}

/**
 * vfmig_debugfs_remove() - remove the device's directory
 * @vdev: the device, being removed, after vfio unregistered it
 *
 * Inside vfio's directory, vfio_unregister_group_dev() has already
 * removed ours (debugfs waits for the files' running operations), and
 * the dentry may be gone: only our own directory is ours to remove.
 */
void vfmig_debugfs_remove(struct vfmig_device *vdev)
{
	if (!IS_ENABLED(CONFIG_VFIO_DEBUGFS))
		debugfs_remove_recursive(vdev->debugfs_dir);
	vdev->debugfs_dir = NULL;
}

/** vfmig_debugfs_init() - create /sys/kernel/debug/vfmig if vfio has none */
void vfmig_debugfs_init(void)
{
	if (!IS_ENABLED(CONFIG_VFIO_DEBUGFS))
		vfmig_debugfs_root = debugfs_create_dir("vfmig", NULL);
}

/** vfmig_debugfs_exit() - remove /sys/kernel/debug/vfmig */
void vfmig_debugfs_exit(void)
{
	debugfs_remove_recursive(vfmig_debugfs_root);
	vfmig_debugfs_root = NULL;
}
