/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Open a PCI function through the VFIO container/group API, for the vfmig
 * tools and the guest tests. (The trixie kernel the rig boots has no
 * iommufd, so the group API is the one every supported host has.)
 */
#ifndef VFMIG_VFIO_OPEN_H
#define VFMIG_VFIO_OPEN_H

#include <stddef.h>
#include <stdint.h>

/**
 * struct vfio_handle - the three descriptors of an open VFIO device
 * @container: /dev/vfio/vfio, with the type1 IOMMU set
 * @group: /dev/vfio/N of the function's IOMMU group
 * @device: the device descriptor
 * @groupno: the IOMMU group number
 */
struct vfio_handle {
	int container;
	int group;
	int device;
	int groupno;
};

/**
 * vfio_open_device() - open a PCI function bound to a vfio driver
 * @bdf: the function's address, as in sysfs (0000:01:00.0)
 * @h: filled on success
 * @err: a message saying what failed, on failure
 * @errlen: size of @err
 *
 * Return: 0, or a negative errno with @err set.
 */
int vfio_open_device(const char *bdf, struct vfio_handle *h,
		     char *err, size_t errlen);

/**
 * vfio_close_device() - close what vfio_open_device() opened
 * @h: the handle; its descriptors are set to -1
 */
void vfio_close_device(struct vfio_handle *h);

#endif /* VFMIG_VFIO_OPEN_H */
