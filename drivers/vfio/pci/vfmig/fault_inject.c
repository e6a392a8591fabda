// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig fault injection (CONFIG_VFMIG_FAULT_INJECTION): files in the
 * device's debugfs directory (debugfs.c says where that is)
 *
 *	fail_arc	write "FROM TO ERRNO": the next arc FROM -> TO fails
 *			with -ERRNO (state names as in the uAPI, e.g.
 *			"STOP STOP_COPY 5"); -EIO moves the device to ERROR
 *	fail_resume	write 1: the next RESUMING -> STOP refuses the stream
 *	reset_at	write "save N" or "load N": when a saving (resuming)
 *			file has moved N bytes, the function is reset (a real
 *			pci_reset_function(), from a work item)
 *
 * Every fault fires once and clears itself; the status file lists those
 * pending. Documentation/fault-injection.rst.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "vfmig.h"

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
 * vfmig_fault_moved() - a data file has moved @total bytes: reset if asked
 * @vdev: the device
 * @saving: a saving file (else resuming)
 * @total: bytes the file has moved so far
 */
void vfmig_fault_moved(struct vfmig_device *vdev, bool saving, u64 total)
{
	struct vfmig_faults *f = &vdev->faults;
	u64 *at = saving ? &f->reset_save_at : &f->reset_load_at;
	bool fire = false;

	spin_lock(&f->lock);
	if (*at && total >= *at) {
		*at = 0;
		fire = true;
	}
	/*
	 * Scheduled under the lock that vfmig_faults_stop() takes to mark
	 * the device removed before it cancels the work: a data file that
	 * outlives the device cannot queue it again afterwards.
	 */
	if (fire && !f->removed)
		schedule_work(&f->reset_work);
	spin_unlock(&f->lock);
}

/**
 * vfmig_faults_show() - the pending faults, for the status file
 * @vdev: the device
 * @s: the status file
 */
void vfmig_faults_show(struct vfmig_device *vdev, struct seq_file *s)
{
	struct vfmig_faults *f = &vdev->faults;

	spin_lock(&f->lock);
	seq_printf(s, "pending_faults: arc %s%s%s, resume %d, reset_at save %llu load %llu\n",
		   f->arc_err ? vfmig_state_name(f->arc_from) : "none",
		   f->arc_err ? "->" : "",
		   f->arc_err ? vfmig_state_name(f->arc_to) : "",
		   f->fail_resume, f->reset_save_at, f->reset_load_at);
	spin_unlock(&f->lock);
}

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
 * vfmig_faults_init() - set up fault injection of a device
 * @vdev: the device, being probed
 */
void vfmig_faults_init(struct vfmig_device *vdev)
{
	spin_lock_init(&vdev->faults.lock);
	INIT_WORK(&vdev->faults.reset_work, vfmig_fault_reset_work);
}

/**
 * vfmig_faults_debugfs() - the fault files, in the device's directory
 * @vdev: the device, being probed
 * @dir: its debugfs directory
 */
void vfmig_faults_debugfs(struct vfmig_device *vdev, struct dentry *dir)
{
	debugfs_create_file("fail_arc", 0200, dir, vdev, &faults_fops);
	debugfs_create_file("fail_resume", 0200, dir, vdev, &faults_fops);
	debugfs_create_file("reset_at", 0200, dir, vdev, &faults_fops);
}

/**
 * vfmig_faults_stop() - no injected reset runs or is queued after this
 * @vdev: the device, being removed, after its debugfs files are gone
 */
void vfmig_faults_stop(struct vfmig_device *vdev)
{
	spin_lock(&vdev->faults.lock);
	vdev->faults.removed = true;
	spin_unlock(&vdev->faults.lock);
	cancel_work_sync(&vdev->faults.reset_work);
}
