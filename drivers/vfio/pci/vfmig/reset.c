// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig deferred reset.
 *
 * A reset of the function (VFIO_DEVICE_RESET, a bus reset, FLR from sysfs)
 * ends any migration: the state becomes RUNNING and every data file dies
 * at once. The reset path calls reset_done() holding vfio-pci-core's
 * memory_lock, and a state-mutex holder may be waiting for memory_lock
 * (device access, or a user copy faulting on a BAR mapping), so reset_done()
 * must not wait for the state mutex. It raises deferred_reset under
 * reset_lock and takes the state mutex only if it is free; otherwise the
 * holder applies the reset in vfmig_state_mutex_unlock(), which every
 * holder uses to unlock. The race then resolves as if the two events had
 * happened one after the other.
 *
 * All of the reset's effect is vfmig_reset_state(), so that it can move to
 * a core hook if vfio grows one.
 */
#include <kunit/visibility.h>
#include <linux/file.h>

#include "migf.h"

/**
 * vfmig_reset_state() - what a reset does to migration
 * @vdev: the device, state mutex held
 *
 * State RUNNING, every data file disabled and released by the device.
 * Takes no lock above memory_lock: callable from the reset path.
 */
void vfmig_reset_state(struct vfmig_device *vdev)
{
	lockdep_assert_held(&vdev->state_mutex);
	if (vdev->mig_state != VFIO_DEVICE_STATE_RUNNING || vdev->saving_migf ||
	    vdev->resuming_migf)
		vfmig_log_limited(vdev, VFMIG_LOG_RESET, pci_info,
				  "vfmig: reset or close in %s ends the migration: state RUNNING, data files closed\n",
				  vfmig_state_name(vdev->mig_state));
	vfmig_dirty_stop(vdev);
	if (vdev->saving_migf) {
		vfmig_migf_disable(vdev->saving_migf);
		fput(vdev->saving_migf->filp);
		vdev->saving_migf = NULL;
	}
	if (vdev->resuming_migf) {
		vfmig_migf_disable(vdev->resuming_migf);
		fput(vdev->resuming_migf->filp);
		vdev->resuming_migf = NULL;
	}
	vdev->mig_state = VFIO_DEVICE_STATE_RUNNING;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_reset_state);

/**
 * vfmig_close_migration() - what closing the device fd does to migration
 * @vdev: the device, being closed (no lock held)
 *
 * Ends a migration as a reset does, through the same path. Data files may
 * outlive the device fd: they are disabled here, and taking memory_lock
 * once for write then waits out any device access they began before that
 * (they hold it for read), so the caller can unmap the BARs; any later
 * access sees them disabled (see vfmig_access_begin()). Called by the
 * driver's close_device and by the KUnit fake's close, so the tests run
 * this code, not a copy of it.
 */
void vfmig_close_migration(struct vfmig_device *vdev)
{
	struct rw_semaphore *memory_lock = &vdev->core_device.memory_lock;

	mutex_lock(&vdev->state_mutex);
	vfmig_reset_state(vdev);
	/* A reset keeps DMA logging (the VMM started it); a close ends it. */
	vdev->dma_logging = false;
	vfmig_state_mutex_unlock(vdev);
	down_write(memory_lock);
	up_write(memory_lock);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_close_migration);

/**
 * vfmig_state_mutex_unlock() - release the state mutex
 * @vdev: the device, state mutex held
 *
 * Applies a reset that arrived while the mutex was held, as often as one
 * did, before letting go. The mutex is released before reset_lock so a
 * reset_done() that finds deferred_reset clear and the mutex taken knows
 * the holder has not yet looked.
 */
void vfmig_state_mutex_unlock(struct vfmig_device *vdev)
{
	lockdep_assert_held(&vdev->state_mutex);
again:
	spin_lock(&vdev->reset_lock);
	if (vdev->deferred_reset) {
		vdev->deferred_reset = false;
		spin_unlock(&vdev->reset_lock);
		vfmig_reset_state(vdev);
		goto again;
	}
	mutex_unlock(&vdev->state_mutex);
	spin_unlock(&vdev->reset_lock);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_state_mutex_unlock);

/**
 * vfmig_state_now() - the migration state, as userspace must see it
 * @vdev: the device, state mutex held
 *
 * A reset that came while the mutex was held is applied only when the
 * mutex is released, but it has already happened to the function and its
 * reset_done has returned: what GET_STATE and the status report is its
 * outcome, RUNNING, not the state it ended.
 *
 * Return: RUNNING if a reset is deferred, else the current state.
 */
enum vfio_device_mig_state vfmig_state_now(struct vfmig_device *vdev)
{
	enum vfio_device_mig_state state;

	lockdep_assert_held(&vdev->state_mutex);
	spin_lock(&vdev->reset_lock);
	state = vdev->deferred_reset ? VFIO_DEVICE_STATE_RUNNING :
				       vdev->mig_state;
	spin_unlock(&vdev->reset_lock);
	return state;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_state_now);

/**
 * vfmig_reset_ioctl() - VFIO_DEVICE_RESET on a function with no reset method
 * @vdev: the device (an ioctl: no lock held)
 *
 * ERROR is left by a reset, but vfio-pci-core refuses VFIO_DEVICE_RESET
 * with -EINVAL when the function has no PCI reset method (no FLR, no PM
 * reset, no bus reset: a root-bus function, or one sharing its bridge),
 * so such a device would stay in ERROR until it is closed, and QEMU's
 * recovery after a failed migration fails. In ERROR, if the backend can
 * reset what it carries without a PCI reset (&vfmig_backend.reset), that
 * reset runs here instead, under the same locks as any state access, and
 * the migration ends as at a function reset. Anything else is vfio's.
 *
 * Return: -ENOTTY to pass the ioctl on to vfio-pci-core, else its result:
 * 0 (the device is RUNNING), or the access's or the backend's errno (the
 * device stays in ERROR).
 */
int vfmig_reset_ioctl(struct vfmig_device *vdev)
{
	const struct vfmig_backend *be = vdev->backend;
	struct vfmig_access acc;
	int ret;

	if (vdev->core_device.reset_works || !be->reset)
		return -ENOTTY;
	mutex_lock(&vdev->state_mutex);
	if (vfmig_state_now(vdev) != VFIO_DEVICE_STATE_ERROR) {
		vfmig_state_mutex_unlock(vdev);
		return -ENOTTY;
	}
	ret = vfmig_access_begin(vdev, &acc, NULL, NULL);
	if (!ret) {
		ret = be->reset(vdev);
		/* Files of the old session stay dead, as after any reset. */
		atomic_inc(&vdev->reset_gen);
		vfmig_access_end(vdev, &acc);
	}
	if (ret) {
		dev_warn_ratelimited(&vfmig_pdev(vdev)->dev, "vfmig: the function has no reset method and the %s backend's reset failed (%d): still in ERROR\n",
				     be->name, ret);
	} else {
		vfmig_log_limited(vdev, VFMIG_LOG_RESET, pci_info,
				  "vfmig: no PCI reset method: the %s backend reset the function's state instead, to leave ERROR\n",
				  be->name);
		vfmig_reset_state(vdev);
	}
	vfmig_state_mutex_unlock(vdev);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_reset_ioctl);

static struct vfmig_device *vfmig_from_pdev(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core = dev_get_drvdata(&pdev->dev);

	/* Gate on migration being set up, not on a particular flag set. */
	if (!core || !core->vdev.mig_ops)
		return NULL;
	return container_of(core, struct vfmig_device, core_device);
}

/**
 * vfmig_reset_done() - pci_error_handlers.reset_done
 * @pdev: the function, just reset
 */
void vfmig_reset_done(struct pci_dev *pdev)
{
	struct vfmig_device *vdev = vfmig_from_pdev(pdev);

	if (!vdev)
		return;
	/* First: from here on the gate refuses the files this reset ends. */
	atomic_inc(&vdev->reset_gen);
	atomic_inc(&vdev->stats.resets);
	spin_lock(&vdev->reset_lock);
	vdev->deferred_reset = true;
	if (!mutex_trylock(&vdev->state_mutex)) {
		spin_unlock(&vdev->reset_lock);
		return;
	}
	spin_unlock(&vdev->reset_lock);
	vfmig_state_mutex_unlock(vdev);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_reset_done);

/**
 * vfmig_error_detected() - pci_error_handlers.error_detected
 * @pdev: the function
 * @state: the channel state
 *
 * Signals userspace as vfio-pci does. When the channel is no longer
 * normal the function's state cannot be trusted: an ongoing save or load
 * fails with -EIO from its next operation, and so does an arc that would
 * read or load the function (the ERROR policy then applies). The PCI core
 * calls this holding the device lock, which a state-mutex holder may be
 * waiting for (a device access, an unbind): so it takes no vfmig lock, it
 * only raises channel_failed, which the data files and the state
 * machine's device accesses read. vfmig_err_resume() ends the migration
 * after the recovery.
 *
 * Return: the vfio-pci-core verdict.
 */
pci_ers_result_t vfmig_error_detected(struct pci_dev *pdev,
				      pci_channel_state_t state)
{
	struct vfmig_device *vdev = vfmig_from_pdev(pdev);

	if (vdev && state != pci_channel_io_normal) {
		WRITE_ONCE(vdev->channel_failed, true);
		pci_warn(pdev, "vfmig: PCI channel %s: data files fail until the recovery ends the migration\n",
			 state == pci_channel_io_frozen ? "frozen" : "failed");
	}
	return vfio_pci_core_aer_err_detected(pdev, state);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_error_detected);

/**
 * vfmig_err_resume() - pci_error_handlers.resume
 * @pdev: the function, recovered
 *
 * A recovery that found the channel frozen has reset the function, but a
 * bus reset by AER or DPC (pci_bus_error_reset()) calls no reset_done: the
 * migration would stay in its state with failed files. It ends here as a
 * reset ends it, through the same hand-off (no lock is waited for). A
 * recovery of a normal channel reset nothing and changes nothing.
 */
void vfmig_err_resume(struct pci_dev *pdev)
{
	struct vfmig_device *vdev = vfmig_from_pdev(pdev);

	if (!vdev || !xchg(&vdev->channel_failed, false))
		return;
	pci_info(pdev, "vfmig: PCI channel recovered: the migration ends as at a reset\n");
	vfmig_reset_done(pdev);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_err_resume);
