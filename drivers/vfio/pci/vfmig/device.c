// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig device access: reading and writing a function's state BARs on
 * behalf of the data files and the state machine.
 *
 * Userspace owns the function's command register, and QEMU clears memory
 * decoding on a destination function before it loads the device state
 * (vfio_pci_pre_reset()), so the state BARs may be undecoded exactly when
 * we must write them. Every access therefore happens inside
 * vfmig_access_begin()/vfmig_access_end(): vfio-pci-core's memory_lock
 * held (no reset by vfio, no change of memory decoding), the function's
 * device lock held (no other reset runs), memory decoding switched on if
 * it was off, and put back as it was.
 *
 * memory_lock is taken for writing, as vfio does to change decoding; a data
 * file's copy with decoding already on (the common case: the source in
 * PRE_COPY, where the guest runs) downgrades it to reading at once, so the
 * guest's trapped BAR accesses, config writes and mapping faults wait for
 * no 1 MiB uncached copy. Register accesses by the state machine keep it
 * for writing: save_regs undoes INTRSTATUS's read-to-clear, which no other
 * access may see half done.
 */
#include <kunit/visibility.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/pci.h>
#include <linux/sched/signal.h>

#include "compat.h"
#include "vfmig.h"

/**
 * vfmig_access_begin() - make the state BARs accessible
 * @vdev: the device
 * @acc: filled with what vfmig_access_end() must undo
 * @gate: if not NULL, called once memory_lock and the device lock are
 *	held; a non-zero return ends the access with that errno. A data file
 *	checks there that no reset or close ended it: a close disables it
 *	under memory_lock, and a reset of any kind raises the reset
 *	generation under the device lock, so the file never touches a
 *	function that was reset or unmapped under it, even when the reset is
 *	still deferred to the state mutex's holder.
 * @ctx: passed to @gate
 *
 * Takes memory_lock (for reading only in a data file's access, @gate set,
 * to a function whose memory decoding is on) and the function's device
 * lock, so that no reset of any kind runs during the access. On success the caller must
 * call vfmig_access_end(); on failure no lock is held.
 *
 * Return: 0, @gate's errno, -ENODEV if the function is being unbound or
 * (no @gate: a state-machine access) was reset under the state mutex,
 * -EINTR on a fatal signal, or -EIO if the PCI channel failed (no @gate)
 * or the function is not in D0 or not mapped.
 */
int vfmig_access_begin(struct vfmig_device *vdev, struct vfmig_access *acc,
		       int (*gate)(void *ctx), void *ctx)
{
	struct vfio_pci_core_device *core = &vdev->core_device;
	struct pci_dev *pdev = vfmig_pdev(vdev);
	const struct vfmig_backend *be = vdev->backend;
	int ret;

	for (;;) {
		down_write(&core->memory_lock);
		/*
		 * memory_lock keeps out vfio's own resets, not a reset from
		 * sysfs or a bus reset through another function; every reset
		 * holds the function's device lock. Only a trylock: the device
		 * lock is also held across unbind, which waits for the user to
		 * close the device, and the caller may be an ioctl keeping it
		 * open: once remove has begun, give up.
		 */
		if (device_trylock(&pdev->dev))
			break;
		up_write(&core->memory_lock);
		if (READ_ONCE(vdev->unbinding)) {
			dev_warn_ratelimited(&pdev->dev, "vfmig: the function is being unbound: its state cannot be accessed\n");
			return -ENODEV;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
		usleep_range(500, 1000);
	}
	/*
	 * No reset can run now. The state machine's own accesses run under
	 * the state mutex: a reset deferred to its holder has reset this
	 * function already, and a failed channel leaves it unknown.
	 */
	if (gate)
		ret = gate(ctx);
	else if (READ_ONCE(vdev->deferred_reset))
		ret = -ENODEV;
	else if (READ_ONCE(vdev->channel_failed))
		ret = -EIO;
	else
		ret = 0;
	if (ret)
		goto out_unlock;
	ret = -EIO;
	if (pdev->current_state != PCI_D0) {
		dev_warn_ratelimited(&pdev->dev, "vfmig: function is in D%d, its state cannot be accessed\n",
				     pdev->current_state);
		goto out_unlock;
	}
	if (!core->barmap[be->mem_bar] || !core->barmap[be->regs_bar]) {
		dev_warn_ratelimited(&pdev->dev, "vfmig: state BARs are not mapped\n");
		goto out_unlock;
	}
	pci_read_config_word(pdev, PCI_COMMAND, &acc->cmd);
	acc->shared = gate && (acc->cmd & PCI_COMMAND_MEMORY);
	if (acc->shared)
		downgrade_write(&core->memory_lock);
	else if (!(acc->cmd & PCI_COMMAND_MEMORY))
		pci_write_config_word(pdev, PCI_COMMAND,
				      acc->cmd | PCI_COMMAND_MEMORY);
	return 0;

out_unlock:
	device_unlock(&pdev->dev);
	up_write(&core->memory_lock);
	return ret;
}

/**
 * vfmig_access_end() - end an access begun by vfmig_access_begin()
 * @vdev: the device
 * @acc: as vfmig_access_begin() filled it
 */
void vfmig_access_end(struct vfmig_device *vdev, struct vfmig_access *acc)
{
	struct vfio_pci_core_device *core = &vdev->core_device;

	lockdep_assert_held(&core->memory_lock);
	if (!(acc->cmd & PCI_COMMAND_MEMORY))
		pci_write_config_word(vfmig_pdev(vdev), PCI_COMMAND, acc->cmd);
	device_unlock(&vfmig_pdev(vdev)->dev);
	if (acc->shared)
		up_read(&core->memory_lock);
	else
		up_write(&core->memory_lock);
}

/*
 * Bulk copies of the memory BAR. memcpy_fromio() and memcpy_toio() are
 * "rep movsl" on x86: four bytes an access (and, in an emulated VM, one
 * emulated iteration an access). The memory BAR is memory to the function
 * (struct vfmig_backend): any access width reads and writes it alike, so
 * aligned copies go eight bytes an access, eight accesses a loop: half the
 * bus transactions on hardware, and straight-line code an emulator runs
 * fast. No barriers between the accesses (the __raw_ forms): the copy is
 * ordered against the function by memory_lock and the stopped state, not
 * access by access. Not with CONFIG_INDIRECT_IOMEM (UML's emulated regions,
 * KUnit's fake function): there each access is a call into the emulator
 * and memcpy_fromio() one call for the whole copy.
 */
static void vfmig_copy_from_bar(void *dst, const void __iomem *src,
				size_t len)
{
#if defined(CONFIG_64BIT) && !defined(CONFIG_INDIRECT_IOMEM)
	u64 *d = dst;

	if (IS_ALIGNED((unsigned long)dst | (unsigned long)src | len, 8)) {
		for (; len >= 64; len -= 64, d += 8, src += 64) {
			d[0] = __raw_readq(src);
			d[1] = __raw_readq(src + 8);
			d[2] = __raw_readq(src + 16);
			d[3] = __raw_readq(src + 24);
			d[4] = __raw_readq(src + 32);
			d[5] = __raw_readq(src + 40);
			d[6] = __raw_readq(src + 48);
			d[7] = __raw_readq(src + 56);
		}
		for (; len; len -= 8, d++, src += 8)
			*d = __raw_readq(src);
		return;
	}
#endif
	memcpy_fromio(dst, src, len);
}

static void vfmig_copy_to_bar(void __iomem *dst, const void *src, size_t len)
{
#if defined(CONFIG_64BIT) && !defined(CONFIG_INDIRECT_IOMEM)
	const u64 *s = src;

	if (IS_ALIGNED((unsigned long)dst | (unsigned long)src | len, 8)) {
		for (; len >= 64; len -= 64, s += 8, dst += 64) {
			__raw_writeq(s[0], dst);
			__raw_writeq(s[1], dst + 8);
			__raw_writeq(s[2], dst + 16);
			__raw_writeq(s[3], dst + 24);
			__raw_writeq(s[4], dst + 32);
			__raw_writeq(s[5], dst + 40);
			__raw_writeq(s[6], dst + 48);
			__raw_writeq(s[7], dst + 56);
		}
		for (; len; len -= 8, s++, dst += 8)
			__raw_writeq(*s, dst);
		/* Posted writes land before the load or the next arc. */
		wmb();
		return;
	}
#endif
	memcpy_toio(dst, src, len);
}

/**
 * vfmig_mem_read() - copy from the memory BAR
 * @vdev: the device, inside vfmig_access_begin()
 * @offset: byte offset in the BAR; offset + @len within it
 * @buf: destination
 * @len: bytes
 */
void vfmig_mem_read(struct vfmig_device *vdev, u64 offset, void *buf,
		    size_t len)
{
	struct vfio_pci_core_device *core = &vdev->core_device;

	lockdep_assert_held(&core->memory_lock);
	vfmig_copy_from_bar(buf, core->barmap[vdev->backend->mem_bar] + offset,
			    len);
}

/**
 * vfmig_mem_write() - copy to the memory BAR
 * @vdev: the device, inside vfmig_access_begin()
 * @offset: byte offset in the BAR; offset + @len within it
 * @buf: source
 * @len: bytes
 */
void vfmig_mem_write(struct vfmig_device *vdev, u64 offset, const void *buf,
		     size_t len)
{
	struct vfio_pci_core_device *core = &vdev->core_device;

	lockdep_assert_held(&core->memory_lock);
	vfmig_copy_to_bar(core->barmap[vdev->backend->mem_bar] + offset, buf,
			  len);
}

/**
 * vfmig_map_state_bars() - map the BARs that carry state
 * @vdev: the device, being opened
 *
 * Return: 0 or a negative errno from vfmig_setup_bar().
 */
int vfmig_map_state_bars(struct vfmig_device *vdev)
{
	const struct vfmig_backend *be = vdev->backend;
	int ret;

	ret = vfmig_setup_bar(&vdev->core_device, be->mem_bar);
	if (!ret)
		ret = vfmig_setup_bar(&vdev->core_device, be->regs_bar);
	if (ret)
		pci_err(vfmig_pdev(vdev), "vfmig: cannot map the state BARs: %d\n",
			ret);
	return ret;
}

/**
 * vfmig_regs_bar() - the mapped register BAR, for backends
 * @vdev: the device, inside vfmig_access_begin()
 *
 * Return: the iomem address of the backend's register BAR.
 */
void __iomem *vfmig_regs_bar(struct vfmig_device *vdev)
{
	lockdep_assert_held_write(&vdev->core_device.memory_lock);
	return vdev->core_device.barmap[vdev->backend->regs_bar];
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_regs_bar);

/**
 * vfmig_unbind_begin() - remove has begun: end waits for the device lock
 * @vdev: the device; the caller (remove) holds the function's device lock
 *
 * Remove holds the device lock until the user closes the device. A state
 * machine access spinning for that lock inside an ioctl would keep the
 * device open for ever; from here on it fails with -ENODEV instead, and so
 * does a debugfs reset waiting for the lock.
 */
void vfmig_unbind_begin(struct vfmig_device *vdev)
{
	device_lock_assert(&vfmig_pdev(vdev)->dev);
	WRITE_ONCE(vdev->unbinding, true);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_unbind_begin);
