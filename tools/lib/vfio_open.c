// SPDX-License-Identifier: GPL-2.0-only
/*
 * Open a PCI function through the VFIO container/group API.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>

#include "vfio_open.h"

static int fail(char *err, size_t errlen, int ret, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-ret));
	return ret;
}

static int group_of(const char *bdf, char *err, size_t errlen)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return fail(err, errlen, -errno,
			    "no IOMMU group (is the IOMMU on?)");
	link[n] = '\0';
	return atoi(basename(link));
}

int vfio_open_device(const char *bdf, struct vfio_handle *h,
		     char *err, size_t errlen)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int ret;

	h->container = -1;
	h->group = -1;
	h->device = -1;

	ret = group_of(bdf, err, errlen);
	if (ret < 0)
		return ret;
	h->groupno = ret;

	h->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (h->container < 0) {
		ret = fail(err, errlen, -errno, "open /dev/vfio/vfio");
		goto out;
	}
	if (ioctl(h->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(h->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		ret = fail(err, errlen, -EINVAL,
			   "container lacks VFIO API 0 with type1v2");
		goto out;
	}

	snprintf(path, sizeof(path), "/dev/vfio/%d", h->groupno);
	h->group = open(path, O_RDWR | O_CLOEXEC);
	if (h->group < 0) {
		ret = fail(err, errlen, -errno, path);
		goto out;
	}
	if (ioctl(h->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		ret = fail(err, errlen, -EBUSY,
			   "group not viable (another device of the group is not bound to vfio)");
		goto out;
	}
	if (ioctl(h->group, VFIO_GROUP_SET_CONTAINER, &h->container)) {
		ret = fail(err, errlen, -errno, "VFIO_GROUP_SET_CONTAINER");
		goto out;
	}
	if (ioctl(h->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		ret = fail(err, errlen, -errno, "VFIO_SET_IOMMU");
		goto out;
	}
	h->device = ioctl(h->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (h->device < 0) {
		ret = fail(err, errlen, -errno, "VFIO_GROUP_GET_DEVICE_FD");
		goto out;
	}
	return 0;
out:
	vfio_close_device(h);
	return ret;
}

void vfio_close_device(struct vfio_handle *h)
{
	if (h->device >= 0)
		close(h->device);
	if (h->group >= 0)
		close(h->group);
	if (h->container >= 0)
		close(h->container);
	h->device = -1;
	h->group = -1;
	h->container = -1;
}
