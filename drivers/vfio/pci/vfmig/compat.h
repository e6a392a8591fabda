/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfmig: the kernel interfaces vfmig and its KUnit suites use that changed
 * between Linux 6.12 (Debian trixie) and 7.2 (Debian sid), in one place.
 *
 * Every VFMIG_HAVE_* below is set by the Makefile from a probe of the
 * headers the module is built against (a grep for the new symbol), never
 * inferred from LINUX_VERSION_CODE: distributions and stable releases
 * backport interfaces, and a probe sees what the headers really hold.
 * Documentation/kernels.rst lists each change with its upstream origin.
 */
#ifndef _VFMIG_COMPAT_H
#define _VFMIG_COMPAT_H

#include <linux/err.h>
#include <linux/ratelimit.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

/**
 * vfmig_setup_bar() - make sure a BAR is mapped for vfmig's own access
 * @core: the function, inside open_device after vfio_pci_core_enable()
 * @bar: the BAR
 *
 * Up to 7.1 vfio-pci-core mapped a BAR on first use and variant drivers
 * asked for it with vfio_pci_core_setup_barmap(). 7.2 removed that:
 * vfio_pci_core_enable() maps the BARs and vfio_pci_core_get_iomap() says
 * whether that worked (an ERR_PTR if not). barmap[] is filled either way.
 *
 * Return: 0 or a negative errno.
 */
static inline int vfmig_setup_bar(struct vfio_pci_core_device *core,
				  unsigned int bar)
{
#ifdef VFMIG_HAVE_GET_IOMAP
	return PTR_ERR_OR_ZERO(vfio_pci_core_get_iomap(core, bar));
#else
	return vfio_pci_core_setup_barmap(core, bar);
#endif
}

/**
 * vfmig_check_precopy_ioctl() - copy in and check VFIO_MIG_GET_PRECOPY_INFO
 * @vdev: the vfio device the data file belongs to
 * @cmd: the ioctl number
 * @arg: its user pointer
 * @info: filled from userspace
 *
 * Since 7.1 the core offers vfio_check_precopy_ioctl(), which also clears
 * @info->flags once userspace has opted in to
 * VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, where flags is an output
 * (VFIO_PRECOPY_INFO_REINIT, which vfmig never reports: its initial data
 * never changes within a session). Before it, or without the opt-in,
 * flags is reserved; the caller writes 0 there in every case rather than
 * echo what userspace passed in, as drivers did before 7.1.
 *
 * Return: 0, -ENOTTY for another ioctl, -EFAULT, or -EINVAL when argsz is
 * too small.
 */
static inline int vfmig_check_precopy_ioctl(struct vfio_device *vdev,
					    unsigned int cmd, unsigned long arg,
					    struct vfio_precopy_info *info)
{
#ifdef VFMIG_HAVE_CHECK_PRECOPY_IOCTL
	return vfio_check_precopy_ioctl(vdev, cmd, arg, info);
#else
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	if (copy_from_user(info, (void __user *)arg, minsz))
		return -EFAULT;
	return info->argsz < minsz ? -EINVAL : 0;
#endif
}

/*
 * vfio_device_ops members that vfio-pci itself sets on newer kernels and a
 * variant driver must set alike:
 * - .get_region_info_caps (6.19): VFIO_DEVICE_GET_REGION_INFO goes through
 *   it, and without it the ioctl fails with EINVAL;
 * - .match_token_uuid (6.17): the VF token checked on the iommufd cdev
 *   path, as on the group path;
 * - .pasid_attach_ioas and .pasid_detach_ioas (6.15): PASID attachment
 *   through iommufd, which vfio-pci offers for every function.
 */
#ifdef VFMIG_HAVE_GET_REGION_INFO_CAPS
#define VFMIG_OPS_REGION_INFO_CAPS \
	.get_region_info_caps = vfio_pci_ioctl_get_region_info,
#else
#define VFMIG_OPS_REGION_INFO_CAPS
#endif

#ifdef VFMIG_HAVE_MATCH_TOKEN_UUID
#define VFMIG_OPS_MATCH_TOKEN_UUID \
	.match_token_uuid = vfio_pci_core_match_token_uuid,
#else
#define VFMIG_OPS_MATCH_TOKEN_UUID
#endif

#ifdef VFMIG_HAVE_PASID_ATTACH
#define VFMIG_OPS_PASID \
	.pasid_attach_ioas = vfio_iommufd_physical_pasid_attach_ioas, \
	.pasid_detach_ioas = vfio_iommufd_physical_pasid_detach_ioas,
#else
#define VFMIG_OPS_PASID
#endif

/*
 * For the KUnit suites (tests/) only: the driver uses none of these.
 */

/**
 * vfmig_rs_missed() - lines a rate limit suppressed in its interval
 * @rs: the rate limit, one of &struct vfmig_device.log_rs
 *
 * After 6.12 (7.2 has it) &struct ratelimit_state.missed is an atomic_t,
 * read through ratelimit_state_get_miss().
 *
 * Return: the count.
 */
static inline int vfmig_rs_missed(struct ratelimit_state *rs)
{
#ifdef VFMIG_HAVE_RATELIMIT_GET_MISS
	return ratelimit_state_get_miss(rs);
#else
	return rs->missed;
#endif
}

/**
 * vfmig_rs_printed() - lines a rate limit let through in its interval
 * @rs: the rate limit, once it has been asked at least once
 *
 * After 6.12 (7.2 has it) &struct ratelimit_state counts down what is
 * left of the burst (rs_n_left, which callers racing for the last line
 * can take below 0) instead of counting up what was printed.
 *
 * Return: the count.
 */
static inline int vfmig_rs_printed(struct ratelimit_state *rs)
{
#ifdef VFMIG_HAVE_RATELIMIT_N_LEFT
	return rs->burst - max(atomic_read(&rs->rs_n_left), 0);
#else
	return rs->printed;
#endif
}

/*
 * The namespace EXPORT_SYMBOL_IF_KUNIT() exports into, as
 * MODULE_IMPORT_NS() takes it: a string literal since 6.13, a bare
 * identifier that it stringified before.
 */
#ifdef VFMIG_HAVE_NS_STRING
#define VFMIG_KUNIT_NS	"EXPORTED_FOR_KUNIT_TESTING"
#else
#define VFMIG_KUNIT_NS	EXPORTED_FOR_KUNIT_TESTING
#endif

#endif /* _VFMIG_COMPAT_H */
