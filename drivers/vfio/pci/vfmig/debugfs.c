// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig debugfs: status and fault injection, so that VMMs and management
 * stacks can test their error paths without vendor hardware.
 *
 * /sys/kernel/debug/vfmig/<BDF>/
 *	status		read: state, open data files, bytes saved and loaded,
 *			resets seen, the last error
 *	fail_arc	write "FROM TO ERRNO": the next arc FROM -> TO fails
 *			with -ERRNO (state names as in the uAPI, e.g.
 *			"STOP STOP_COPY 5"); -EIO moves the device to ERROR
 *	fail_resume	write 1: the next RESUMING -> STOP refuses the stream
 *	reset_at	write "save N" or "load N": when a saving (resuming)
 *			file has moved N bytes, the function is reset (a real
 *			pci_reset_function(), from a work item)
 *
 * Every fault fires once and clears itself. Documentation/fault-injection.md.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "migf.h"

static struct dentry *vfmig_debugfs_root;

/**
 * vfmig_note_error() - remember the last error, for the status file
 * @vdev: the device
 * @err: negative errno
 * @why: what failed
 */
void vfmig_note_error(struct vfmig_device *vdev, int err, const char *why)
{
	spin_lock(&vdev->faults.lock);
	vdev->faults.last_errno = err;
	strscpy(vdev->faults.last_error, why, sizeof(vdev->faults.last_error));
	spin_unlock(&vdev->faults.lock);
}

/**
 * vfmig_fault_arc() - should this arc fail, by request?
 * @vdev: the device
 * @from: the arc's start
 * @to: its end
 *
 * Return: 0, or the negative errno the arc must fail with (once).
 */
int vfmig_fault_arc(struct vfmig_device *vdev, enum vfio_device_mig_state from,
		    enum vfio_device_mig_state to)
{
	struct vfmig_faults *f = &vdev->faults;
	int err = 0;

	spin_lock(&f->lock);
	if (f->arc_err && f->arc_from == from && f->arc_to == to) {
		err = f->arc_err;
		f->arc_err = 0;
	}
	spin_unlock(&f->lock);
	if (err)
		pci_warn(vfmig_pdev(vdev), "vfmig: fault injection: arc %s -> %s fails with %d\n",
			 vfmig_state_name(from), vfmig_state_name(to), err);
	return err;
}

/**
 * vfmig_fault_resume() - should this RESUMING -> STOP refuse the stream?
 * @vdev: the device
 *
 * Return: true once after "1" was written to fail_resume.
 */
bool vfmig_fault_resume(struct vfmig_device *vdev)
{
	bool fire;

	spin_lock(&vdev->faults.lock);
	fire = vdev->faults.fail_resume;
	vdev->faults.fail_resume = false;
	spin_unlock(&vdev->faults.lock);
	return fire;
}

static void vfmig_fault_reset_work(struct work_struct *work)
{
	struct vfmig_faults *f = container_of(work, struct vfmig_faults,
					      reset_work);
	struct vfmig_device *vdev = container_of(f, struct vfmig_device, faults);
	struct pci_dev *pdev = vfmig_pdev(vdev);

	pci_warn(pdev, "vfmig: fault injection: resetting the function\n");
	/*
	 * Not pci_reset_function(): remove holds the device lock while it
	 * waits for the user's close and then cancels this work, so waiting
	 * for the lock here would deadlock both. Try, and give up once
	 * remove has begun.
	 */
	while (pci_try_reset_function(pdev) == -EAGAIN) {
		if (READ_ONCE(vdev->unbinding)) {
			pci_warn(pdev, "vfmig: fault injection: reset abandoned, the function is being unbound\n");
			return;
		}
		usleep_range(1000, 2000);
	}
}

/**
 * vfmig_account() - count bytes a data file moved; fire a reset if asked
 * @vdev: the device
 * @saving: a saving file (else resuming)
 * @total: bytes the file has moved so far
 * @n: bytes just moved
 */
void vfmig_account(struct vfmig_device *vdev, bool saving, u64 total, u64 n)
{
	struct vfmig_faults *f = &vdev->faults;
	u64 *at = saving ? &f->reset_save_at : &f->reset_load_at;
	bool fire = false;

	atomic64_add(n, saving ? &f->bytes_saved : &f->bytes_loaded);
	spin_lock(&f->lock);
	if (*at && total >= *at) {
		*at = 0;
		fire = true;
	}
	/*
	 * Scheduled under the lock that vfmig_debugfs_remove() takes to mark
	 * the device removed before it cancels the work: a data file that
	 * outlives the device cannot queue it again afterwards.
	 */
	if (fire && !f->removed)
		schedule_work(&f->reset_work);
	spin_unlock(&f->lock);
}

static int status_show(struct seq_file *s, void *unused)
{
	struct vfmig_device *vdev = s->private;
	struct vfmig_faults *f = &vdev->faults;
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
		   atomic64_read(&f->bytes_saved), atomic64_read(&f->bytes_loaded));
	seq_printf(s, "resets: %d\n", atomic_read(&f->resets));
	seq_printf(s, "dirty_tracking: %s\n",
		   vfmig_dirty_tracking(vdev) ? "on" : "off");
	seq_printf(s, "dma_logging: %s, %d reports\n",
		   vdev->core_device.vdev.log_ops ?
		   (READ_ONCE(vdev->dma_logging) ? "on" : "off") : "not offered",
		   atomic_read(&vdev->dma_log_reports));
	seq_printf(s, "held_bytes: %lld\n",
		   (long long)atomic64_read(&vdev->held_bytes));
	spin_lock(&f->lock);
	seq_printf(s, "last_error: %d %s\n", f->last_errno,
		   f->last_errno ? f->last_error : "");
	seq_printf(s, "pending_faults: arc %s%s%s, resume %d, reset_at save %llu load %llu\n",
		   f->arc_err ? vfmig_state_name(f->arc_from) : "none",
		   f->arc_err ? "->" : "",
		   f->arc_err ? vfmig_state_name(f->arc_to) : "",
		   f->fail_resume, f->reset_save_at, f->reset_load_at);
	spin_unlock(&f->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(status);

static int state_by_name(const char *name)
{
	int i;

	for (i = 0; i <= VFIO_DEVICE_STATE_PRE_COPY_P2P; i++)
		if (!strcmp(name, vfmig_state_name(i)))
			return i;
	return -EINVAL;
}

/* Parse the small commands of the fault files; errors say why. */
static ssize_t faults_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	struct vfmig_device *vdev = file_inode(file)->i_private;
	const char *name = file->f_path.dentry->d_name.name;
	struct vfmig_faults *f = &vdev->faults;
	char buf[64], a[16], b[16];
	int from, to, err, n;
	unsigned long long at;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';

	if (!strcmp(name, "fail_arc")) {
		n = sscanf(buf, "%15s %15s %d", a, b, &err);
		from = n == 3 ? state_by_name(a) : -EINVAL;
		to = n == 3 ? state_by_name(b) : -EINVAL;
		if (from < 0 || to < 0 || err <= 0 || err >= MAX_ERRNO)
			return -EINVAL;
		spin_lock(&f->lock);
		f->arc_from = from;
		f->arc_to = to;
		f->arc_err = -err;
		spin_unlock(&f->lock);
	} else if (!strcmp(name, "fail_resume")) {
		if (kstrtoint(strim(buf), 0, &n))
			return -EINVAL;
		spin_lock(&f->lock);
		f->fail_resume = n;
		spin_unlock(&f->lock);
	} else {
		if (sscanf(buf, "%15s %llu", a, &at) != 2 ||
		    (strcmp(a, "save") && strcmp(a, "load")))
			return -EINVAL;
		spin_lock(&f->lock);
		if (!strcmp(a, "save"))
			f->reset_save_at = at;
		else
			f->reset_load_at = at;
		spin_unlock(&f->lock);
	}
	return len;
}

static const struct file_operations faults_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = faults_write,
};

/**
 * vfmig_faults_init() - set up status and fault injection of a device
 * @vdev: the device, being probed
 */
void vfmig_faults_init(struct vfmig_device *vdev)
{
	spin_lock_init(&vdev->faults.lock);
	INIT_WORK(&vdev->faults.reset_work, vfmig_fault_reset_work);
}

/**
 * vfmig_debugfs_add() - the device's debugfs directory
 * @vdev: the device, being probed
 */
void vfmig_debugfs_add(struct vfmig_device *vdev)
{
	struct vfmig_faults *f = &vdev->faults;

	if (!vfmig_debugfs_root)
		return;
	f->dir = debugfs_create_dir(pci_name(vfmig_pdev(vdev)), vfmig_debugfs_root);
	debugfs_create_file("status", 0400, f->dir, vdev, &status_fops);
	debugfs_create_file("fail_arc", 0200, f->dir, vdev, &faults_fops);
	debugfs_create_file("fail_resume", 0200, f->dir, vdev, &faults_fops);
	debugfs_create_file("reset_at", 0200, f->dir, vdev, &faults_fops);
}

/**
 * vfmig_debugfs_remove() - remove the device's directory
 * @vdev: the device, being removed
 */
void vfmig_debugfs_remove(struct vfmig_device *vdev)
{
	debugfs_remove_recursive(vdev->faults.dir);
	vdev->faults.dir = NULL;
	spin_lock(&vdev->faults.lock);
	vdev->faults.removed = true;
	spin_unlock(&vdev->faults.lock);
	cancel_work_sync(&vdev->faults.reset_work);
}

/** vfmig_debugfs_init() - create /sys/kernel/debug/vfmig */
void vfmig_debugfs_init(void)
{
	vfmig_debugfs_root = debugfs_create_dir("vfmig", NULL);
}

/** vfmig_debugfs_exit() - remove /sys/kernel/debug/vfmig */
void vfmig_debugfs_exit(void)
{
	debugfs_remove_recursive(vfmig_debugfs_root);
	vfmig_debugfs_root = NULL;
}
