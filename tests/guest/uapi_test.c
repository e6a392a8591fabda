// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig uAPI test, run in the test VM on an ivshmem-plain function bound to
 * vfmig-vfio-pci: the function must work as a plain VFIO passthrough device
 * (region info, region read/write, mmap, reset) before migration is layered
 * on top.
 *
 * Usage: VFMIG_BDF_A=BDF uapi_test [kselftest harness options]
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "check.h"
#include "../../tools/lib/vfio_open.h"

#define IVSHMEM_REG_BAR_SIZE	256

static int region_info(int dev, unsigned int index,
		       struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

/* A pattern that differs at every 64-bit word and from run to run. */
static uint64_t pattern(uint64_t seed, size_t i)
{
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ull);

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ull;
}

static void test_device_info(int dev)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	int ret = ioctl(dev, VFIO_DEVICE_GET_INFO, &di);

	check_result(!ret && (di.flags & VFIO_DEVICE_FLAGS_PCI) &&
		     di.num_regions > VFIO_PCI_BAR2_REGION_INDEX,
		     "device info: a PCI device with BAR regions",
		     "ret %d errno %d flags %#x regions %u", ret, errno,
		     di.flags, di.num_regions);
	check_result(!ret && (di.flags & VFIO_DEVICE_FLAGS_RESET),
		     "device info: reset supported", "flags %#x", di.flags);
}

static void test_bar0(int dev)
{
	struct vfio_region_info ri;
	uint32_t v = 0;
	int ret = region_info(dev, VFIO_PCI_BAR0_REGION_INDEX, &ri);

	check_result(!ret && ri.size == IVSHMEM_REG_BAR_SIZE &&
		     (ri.flags & VFIO_REGION_INFO_FLAG_READ) &&
		     (ri.flags & VFIO_REGION_INFO_FLAG_WRITE),
		     "BAR0 region info: 256-byte read/write register BAR",
		     "ret %d size %llu flags %#x", ret,
		     (unsigned long long)ri.size, ri.flags);
	if (ret)
		return;
	/* INTRMASK (offset 0) is a plain read/write register. */
	v = 0xffffffff;
	ret = pwrite(dev, &v, 4, ri.offset) == 4 ? 0 : -errno;
	v = 0;
	if (!ret)
		ret = pread(dev, &v, 4, ri.offset) == 4 ? 0 : -errno;
	check_result(!ret && v == 0xffffffff,
		     "BAR0 INTRMASK register write reads back",
		     "ret %d value %#x", ret, v);
	v = 0;
	if (pwrite(dev, &v, 4, ri.offset) != 4)
		check_result(0, "BAR0 INTRMASK restored", "errno %d", errno);
}

static void test_bar2(int dev)
{
	struct vfio_region_info ri;
	uint64_t seed = (uint64_t)getpid() << 32 | (uint64_t)time(NULL);
	size_t i, words, bad = 0;
	uint64_t *buf, *map;
	int ret = region_info(dev, VFIO_PCI_BAR2_REGION_INDEX, &ri);

	check_result(!ret && ri.size && !(ri.size & (ri.size - 1)) &&
		     (ri.flags & VFIO_REGION_INFO_FLAG_MMAP),
		     "BAR2 region info: mmap-able power-of-two memory",
		     "ret %d size %llu flags %#x", ret,
		     (unsigned long long)ri.size, ri.flags);
	if (ret || !ri.size)
		return;

	words = ri.size / 8;
	buf = malloc(ri.size);
	map = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
		   ri.offset);
	if (!check_result(buf && map != MAP_FAILED, "BAR2 mmap",
			  "errno %d", errno))
		goto out;

	/* Region write, then read back through the mapping. */
	for (i = 0; i < words; i++)
		buf[i] = pattern(seed, i);
	ret = pwrite(dev, buf, ri.size, ri.offset) == (ssize_t)ri.size ?
	      0 : -errno;
	for (i = 0; !ret && i < words; i++)
		bad += map[i] != pattern(seed, i);
	check_result(!ret && !bad, "BAR2 pattern by region write reads back by mmap",
		     "ret %d, %zu of %zu words differ", ret, bad, words);

	/* Write through the mapping, read back with region read. */
	for (i = 0; i < words; i++)
		map[i] = ~pattern(seed, i);
	memset(buf, 0, ri.size);
	ret = pread(dev, buf, ri.size, ri.offset) == (ssize_t)ri.size ?
	      0 : -errno;
	for (bad = 0, i = 0; !ret && i < words; i++)
		bad += buf[i] != ~pattern(seed, i);
	check_result(!ret && !bad, "BAR2 pattern by mmap reads back by region read",
		     "ret %d, %zu of %zu words differ", ret, bad, words);
out:
	if (map != MAP_FAILED)
		munmap(map, ri.size);
	free(buf);
}

static void test_reset(int dev)
{
	int ret = ioctl(dev, VFIO_DEVICE_RESET) ? -errno : 0;

	check_result(!ret, "VFIO_DEVICE_RESET succeeds", "ret %d (%s)", ret,
		     strerror(-ret));
}

FIXTURE(dev) {
	struct vfio_handle h;
};

FIXTURE_SETUP(dev)
{
	const char *bdf = bdf_from_env("VFMIG_BDF_A");
	char err[256];

	ASSERT_NE(NULL, bdf) TH_LOG("set VFMIG_BDF_A to the function's address");
	ASSERT_EQ(0, vfio_open_device(bdf, &self->h, err, sizeof(err)))
		TH_LOG("open %s through its VFIO group: %s", bdf, err);
}

FIXTURE_TEARDOWN(dev)
{
	vfio_close_device(&self->h);
}

TEST_F_TIMEOUT(dev, device_info, 300)
{
	test_device_info(self->h.device);
	checks_end(_metadata);
}

TEST_F_TIMEOUT(dev, bar0_registers, 300)
{
	test_bar0(self->h.device);
	checks_end(_metadata);
}

TEST_F_TIMEOUT(dev, bar2_memory, 300)
{
	test_bar2(self->h.device);
	checks_end(_metadata);
}

TEST_F_TIMEOUT(dev, reset, 300)
{
	test_reset(self->h.device);
	checks_end(_metadata);
}

TEST_HARNESS_MAIN
