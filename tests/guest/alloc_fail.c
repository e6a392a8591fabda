// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allocation failures in vfmig's paths, injected one at a time, in the test
 * VM on the rig's debug kernel (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC,
 * CONFIG_FAULT_INJECTION_STACKTRACE_FILTER). The suite aims failslab and
 * fail_page_alloc at vfmig's module text (require-start/require-end), so
 * only allocations with a vfmig frame on the stack can fail, sleeping ones
 * included (ignore-gfp-wait N). Each operation below is then run with
 * /proc/thread-self/fail-nth set to 1, 2, 3, ...: the Nth allocation in
 * vfmig's path fails, until a run reaches the end without meeting an Nth
 * one (every site has been failed once).
 *
 * After each injected failure: the operation must have failed with an
 * errno (or succeeded, if the driver has a fallback for that allocation),
 * and the function must be whole again: bound, RUNNING once its device is
 * reset or reopened, and a save and load of known memory must round-trip.
 * Leaks are kmemleak's to find (the suite scans at its end); splats are
 * the log scan's.
 *
 * The function should be small (the rig's F, 4 KiB, no reset method):
 * each step saves and loads it.
 *
 * Usage: VFMIG_BDF_F=BDF [VFMIG_DRIVER=vfmig_vfio_pci] alloc_fail
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "check.h"
#include "../../tools/lib/vfio_open.h"
#include "../../tools/lib/vfio_mig.h"

#define MAX_SITES	4000

static const char *bdf;
static struct vfio_handle h = { -1, -1, -1, -1 };
static uint64_t bar2, bar2_size;
static struct vfmig_buf good;
static char why[512];

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Arm the Nth fault site of this thread (0 disarms). */
static int fail_nth(unsigned int n)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", n);
	return sysfs_write("/proc/thread-self/fail-nth", v);
}

/* Whether the armed fault was injected (reading 0), and disarm. */
static bool fault_fired(void)
{
	char v[16] = "";
	int fd = open("/proc/thread-self/fail-nth", O_RDONLY | O_CLOEXEC);
	bool fired;

	if (fd < 0 || read(fd, v, sizeof(v) - 1) < 0)
		fired = false;
	else
		fired = atoi(v) == 0;
	if (fd >= 0)
		close(fd);
	fail_nth(0);
	return fired;
}

static int dev_open(void)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri),
				       .index = VFIO_PCI_BAR2_REGION_INDEX };
	int ret;

	ret = vfio_open_device(bdf, &h, why, sizeof(why));
	if (ret)
		return ret;
	if (ioctl(h.device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	bar2 = ri.offset;
	bar2_size = ri.size;
	return 0;
}

static void dev_close(void)
{
	if (h.device >= 0)
		vfio_close_device(&h);
	h.device = -1;
}

static int save(struct vfmig_buf *b, bool precopy)
{
	struct vfio_precopy_info pi = { .argsz = sizeof(pi) };
	bool eof = false;
	int fd = -1, ret;

	ret = vfmig_set_state(h.device, precopy ? VFIO_DEVICE_STATE_PRE_COPY :
			      VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (!ret && precopy) {
		ret = vfmig_read_data(fd, b, &eof);
		if (!ret && ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi))
			ret = -errno;
		if (!ret)
			ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_STOP_COPY,
					      NULL);
	}
	if (!ret)
		ret = vfmig_read_data(fd, b, &eof);
	if (fd >= 0)
		close(fd);
	if (!ret)
		ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_RUNNING, NULL);
	return ret ? ret : eof ? 0 : -EIO;
}

static int load(const struct vfmig_buf *b)
{
	int fd = -1, ret;

	ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_RESUMING, &fd);
	if (!ret)
		ret = vfmig_write_data(fd, b->data, b->len, 32768, NULL);
	if (!ret)
		ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_STOP, NULL);
	if (fd >= 0)
		close(fd);
	if (!ret)
		ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_RUNNING, NULL);
	return ret;
}

/* The operations swept; each returns 0 or a negative errno. */
static int op_save(void)
{
	struct vfmig_buf b = { 0 };
	int ret = save(&b, false);

	vfmig_buf_free(&b);
	return ret;
}

static int op_precopy_save(void)
{
	struct vfmig_buf b = { 0 };
	int ret = save(&b, true);

	vfmig_buf_free(&b);
	return ret;
}

static int op_load(void)
{
	return load(&good);
}

static int op_open(void)
{
	dev_close();
	return dev_open();
}

static int op_bind(void)
{
	char path[160];

	dev_close();
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	sysfs_write(path, bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind",
		 getenv("VFMIG_DRIVER") ? : "vfmig_vfio_pci");
	return sysfs_write(path, bdf);
}

/*
 * After a failure: the function must be bound, open, RUNNING (by
 * SET_STATE, or a reset if a failed arc left ERROR), and must round-trip
 * known memory.
 */
static unsigned int nodes_lost;

/* Whether F's vfio group is registered (in sysfs) but has no /dev node. */
static bool devnode_missing(void)
{
	char path[200], grp[160], *n;
	ssize_t len;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	len = readlink(path, grp, sizeof(grp) - 1);
	if (len <= 0)
		return false;
	grp[len] = 0;
	n = strrchr(grp, '/');
	n = n ? n + 1 : grp;
	snprintf(path, sizeof(path), "/sys/class/vfio/%s", n);
	if (access(path, F_OK))
		return false;
	snprintf(path, sizeof(path), "/dev/vfio/%s", n);
	return access(path, F_OK) != 0;
}

static bool whole_again(void)
{
	unsigned char *a = malloc(bar2_size), *b = malloc(bar2_size);
	struct vfmig_buf s = { 0 };
	uint32_t st = 0xff;
	bool ok = false;
	size_t i;
	int ret;

	if (h.device < 0) {
		char path[160], drv[160];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
		if (readlink(path, drv, sizeof(drv)) < 0)
			sysfs_write("/sys/bus/pci/drivers_probe", bdf);
		ret = dev_open();
		if (ret == -ENOENT && readlink(path, drv, sizeof(drv)) > 0 &&
		    devnode_missing()) {
			/*
			 * Bound, but no /dev/vfio node: device_add() ignores
			 * devtmpfs_create_node()'s errors, so a failure there
			 * is invisible to vfio and to vfmig. Counted, not
			 * failed (Documentation/hardening.md); a rebind
			 * makes the node.
			 */
			nodes_lost++;
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind",
				 bdf);
			sysfs_write(path, bdf);
			sysfs_write("/sys/bus/pci/drivers_probe", bdf);
			ret = dev_open();
		}
		if (ret) {
			snprintf(why, sizeof(why), "reopen: %s", strerror(-ret));
			goto out;
		}
	}
	/*
	 * As QEMU recovers from a failed migration: back to RUNNING by
	 * SET_STATE, and a reset only if that fails (ERROR). A failed arc
	 * may leave a state on its path (STOP); a reset need not leave that
	 * on a function with no reset method (vfmig_reset_ioctl()).
	 */
	if (vfmig_get_state(h.device, &st) || st != VFIO_DEVICE_STATE_RUNNING) {
		if (vfmig_set_state(h.device, VFIO_DEVICE_STATE_RUNNING, NULL))
			ioctl(h.device, VFIO_DEVICE_RESET);
	}
	if (vfmig_get_state(h.device, &st) || st != VFIO_DEVICE_STATE_RUNNING) {
		snprintf(why, sizeof(why), "state %s after SET_STATE(RUNNING) or a reset",
			 vfmig_state_name(st));
		goto out;
	}
	for (i = 0; a && i < bar2_size; i++)
		a[i] = (unsigned char)(i * 7 + st + 1);
	ret = !a || !b ? -ENOMEM : pwrite(h.device, a, bar2_size, bar2) ==
		(ssize_t)bar2_size ? 0 : -errno;
	if (!ret)
		ret = save(&s, false);
	if (!ret && pwrite(h.device, b, 1, bar2) != 1)
		ret = -errno;
	if (!ret)
		ret = load(&s);
	if (!ret && (pread(h.device, b, bar2_size, bar2) != (ssize_t)bar2_size ||
		     memcmp(a, b, bar2_size)))
		ret = -EBADMSG;
	if (ret)
		snprintf(why, sizeof(why), "save and load: %s", strerror(-ret));
	ok = !ret;
out:
	vfmig_buf_free(&s);
	free(a);
	free(b);
	return ok;
}

/**
 * sweep() - fail each allocation site of one operation in turn
 * @name: the operation
 * @op: it
 *
 * Prints the sites found and the errnos seen; fails the check if the
 * function was not whole after one of them, or the sweep never ended.
 */
static void sweep(const char *name, int (*op)(void))
{
	unsigned int n, sites = 0, failed = 0, survived = 0, bad = 0;
	char first[600] = "", errs[256] = "", e[32];
	bool fired;
	int ret;

	nodes_lost = 0;
	for (n = 1; n <= MAX_SITES; n++) {
		if (fail_nth(n)) {
			snprintf(first, sizeof(first), "fail-nth: %s", strerror(errno));
			bad++;
			break;
		}
		ret = op();
		fired = fault_fired();
		if (!fired) {
			if (ret && !bad++)
				snprintf(first, sizeof(first),
					 "with no fault left to inject it failed: %s",
					 strerror(-ret));
			break;
		}
		sites++;
		if (ret) {
			failed++;
			snprintf(e, sizeof(e), " %s", strerror(-ret));
			if (!strstr(errs, e) && strlen(errs) + strlen(e) < sizeof(errs))
				strcat(errs, e);
		} else {
			survived++;
		}
		if (!whole_again() && !bad++)
			snprintf(first, sizeof(first), "site %u (op %s): %s", n,
				 ret ? strerror(-ret) : "succeeded", why);
	}
	printf("# %s: %u allocation sites failed in turn: %u made it fail (%s), %u were survived\n",
	       name, sites, failed, *errs ? errs + 1 : "-", survived);
	if (nodes_lost)
		printf("# %s: %u left it bound with no /dev/vfio node (devtmpfs; rebound)\n",
		       name, nodes_lost);
	check_result(!bad && n <= MAX_SITES && sites > 0,
		     name, "%u problems, first: %s; %u sites", bad, first, sites);
}

FIXTURE(alloc) {
	int unused;
};

FIXTURE_SETUP(alloc)
{
	bdf = getenv("VFMIG_BDF_F");
	ASSERT_NE(NULL, bdf) TH_LOG("set VFMIG_BDF_F");
	ASSERT_EQ(0, access("/proc/thread-self/fail-nth", W_OK))
		TH_LOG("no fail-nth: a kernel without CONFIG_FAULT_INJECTION");
	ASSERT_EQ(0, dev_open()) TH_LOG("%s", why);
	ASSERT_EQ(0, save(&good, false));
}

FIXTURE_TEARDOWN(alloc)
{
	vfmig_buf_free(&good);
	dev_close();
}

TEST_F_TIMEOUT(alloc, every_site, 3600)
{
	sweep("an allocation failure in a STOP_COPY save", op_save);
	sweep("an allocation failure in a PRE_COPY save", op_precopy_save);
	sweep("an allocation failure in a load", op_load);
	sweep("an allocation failure in opening the device", op_open);
	sweep("an allocation failure in binding the driver", op_bind);
	checks_end(_metadata);
}

TEST_HARNESS_MAIN
