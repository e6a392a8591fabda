/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfmig: the per-function state shared by the core and its backends.
 */
#ifndef _VFMIG_H
#define _VFMIG_H

#include <linux/vfio_pci_core.h>
#include <vfmig/backend.h>

/**
 * struct vfmig_device - a PCI function bound to vfmig
 * @core_device: the vfio-pci-core device; must stay first, vfio allocates
 *	the whole structure around it.
 * @backend: the device family, from the id table's driver_data.
 * @bar_size: size of each standard BAR as probed (0 if absent), so that
 *	backends and saved state can check the geometry without touching the
 *	function.
 */
struct vfmig_device {
	struct vfio_pci_core_device core_device;
	const struct vfmig_backend *backend;
	resource_size_t bar_size[PCI_STD_NUM_BARS];
};

/**
 * vfmig_pdev() - the PCI function of a vfmig device
 * @vdev: the vfmig device
 *
 * Return: the struct pci_dev the device is bound to.
 */
static inline struct pci_dev *vfmig_pdev(struct vfmig_device *vdev)
{
	return vdev->core_device.pdev;
}

#endif /* _VFMIG_H */
