// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-mig-conformance: check a VFIO device's migration driver against the
 * migration section of include/uapi/linux/vfio.h (uAPI v2), one rule a test.
 *
 * Driver-agnostic: it knows nothing of any driver's stream format. It opens
 * the device by its PCI address or its mdev UUID, through the group and
 * container API and, where the kernel has it, through the iommufd cdev API
 * (the two fixture variants "group" and "cdev"), and runs every test on
 * each. Each test's comment quotes the vfio.h text it enforces; see
 * README.md beside this file and Documentation/conformance.md.
 *
 * Usage: vfio-mig-conformance DEVICE [kselftest harness options]
 *   DEVICE  a PCI function (0000:01:00.0) bound to a VFIO driver, or the
 *           UUID of an mdev bound to its vfio driver
 *   -v group / -v cdev  run one path only; -l lists the tests
 * Exit status: 0 when every test passed or was skipped, 1 when one failed.
 *
 * The tests change the device's state and reset it: never point this at a
 * device in use.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"

/* No device state a test saves may be larger: a guard, not a limit. */
#define MAX_STREAM	(4ULL << 30)	/* 4 GiB */
#define NSTATES		VFIO_DEVICE_STATE_NR

static const char *target;	/* the device, from the command line */

static const char * const state_names[] = {
	[VFIO_DEVICE_STATE_ERROR] = "ERROR",
	[VFIO_DEVICE_STATE_STOP] = "STOP",
	[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
	[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
	[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
	[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
	[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

static const char *sname(uint32_t s)
{
	return s < NSTATES ? state_names[s] : "?";
}

/* ---- opening the device: group/container or iommufd cdev ---- */

enum vfio_path { PATH_GROUP, PATH_CDEV };

struct vdev {
	int container;	/* group path */
	int group;	/* group path */
	int iommufd;	/* cdev path */
	int fd;		/* the device */
};

static void vdev_close(struct vdev *d)
{
	int *fds[] = { &d->fd, &d->group, &d->container, &d->iommufd };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* The device's sysfs directory: a PCI function or an mdev. */
static int sysfs_dir(const char *name, char *dir, size_t len)
{
	static const char * const buses[] = { "pci", "mdev" };
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(buses); i++) {
		snprintf(dir, len, "/sys/bus/%s/devices/%s", buses[i], name);
		if (!stat(dir, &st))
			return 0;
	}
	return -ENOENT;
}

static int open_group(const char *name, struct vdev *d, char *why, size_t wl)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	char dir[PATH_MAX], path[PATH_MAX + 32], link[PATH_MAX];
	ssize_t n;

	if (sysfs_dir(name, dir, sizeof(dir))) {
		snprintf(why, wl, "%s is neither a PCI device nor an mdev", name);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/iommu_group", dir);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(why, wl, "%s: %s", path, strerror(errno));
		return -errno;
	}
	link[n] = '\0';
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0) {
		snprintf(why, wl, "/dev/vfio/vfio: %s", strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0) {
		snprintf(why, wl, "%s: %s (is %s bound to a vfio driver?)",
			 path, strerror(errno), name);
		return -errno;
	}
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &gs) ||
	    !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		snprintf(why, wl, "%s is not viable", path);
		return -EBUSY;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container) ||
	    ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		snprintf(why, wl, "container with type1v2: %s", strerror(errno));
		return -errno;
	}
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, name);
	if (d->fd < 0) {
		snprintf(why, wl, "VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * Returns 1 (with @why) when this kernel has no cdev path, 0 when open,
 * a negative errno when the path exists and opening failed.
 */
static int open_cdev(const char *name, struct vdev *d, char *why, size_t wl)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	char dir[PATH_MAX], path[PATH_MAX + 32], node[300] = "";
	struct dirent *de;
	DIR *dd;

	if (access("/dev/iommu", F_OK)) {
		snprintf(why, wl, "no /dev/iommu: the kernel has no CONFIG_IOMMUFD");
		return 1;
	}
	if (sysfs_dir(name, dir, sizeof(dir))) {
		snprintf(why, wl, "%s is neither a PCI device nor an mdev", name);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/vfio-dev", dir);
	dd = opendir(path);
	if (!dd) {
		snprintf(why, wl, "no %s: the kernel has no CONFIG_VFIO_DEVICE_CDEV",
			 path);
		return 1;
	}
	while ((de = readdir(dd)))
		if (!strncmp(de->d_name, "vfio", 4))
			snprintf(node, sizeof(node), "/dev/vfio/devices/%s",
				 de->d_name);
	closedir(dd);
	if (!node[0]) {
		snprintf(why, wl, "%s is empty", path);
		return -ENOENT;
	}
	d->fd = open(node, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		snprintf(why, wl, "%s: %s", node, strerror(errno));
		return -errno;
	}
	d->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (d->iommufd < 0) {
		snprintf(why, wl, "/dev/iommu: %s", strerror(errno));
		return -errno;
	}
	bind.iommufd = d->iommufd;
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		snprintf(why, wl, "VFIO_DEVICE_BIND_IOMMUFD: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &ioas)) {
		snprintf(why, wl, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
		return -errno;
	}
	at.pt_id = ioas.out_ioas_id;
	if (ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) {
		snprintf(why, wl, "VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s",
			 strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- the migration uAPI, every call returning 0 or -errno ---- */

/*
 * VFIO_DEVICE_FEATURE with @size bytes of data, and an argsz that is
 * header + @size unless @argsz is not 0.
 */
static int feature(int fd, uint32_t flags, void *data, size_t size,
		   uint32_t argsz)
{
	union {
		struct vfio_device_feature f;
		uint64_t align;
		unsigned char raw[sizeof(struct vfio_device_feature) + 64];
	} u;
	int ret;

	memset(&u, 0, sizeof(u));
	u.f.argsz = argsz ? argsz : sizeof(u.f) + size;
	u.f.flags = flags;
	if (data)
		memcpy(u.f.data, data, size);
	ret = ioctl(fd, VFIO_DEVICE_FEATURE, &u.f) ? -errno : 0;
	if (data)
		memcpy(data, u.f.data, size);
	return ret;
}

static int mig_flags(int fd, uint64_t *flags)
{
	struct vfio_device_feature_migration m = { 0 };
	int ret = feature(fd, VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_MIGRATION, &m, sizeof(m), 0);

	*flags = ret ? 0 : m.flags;
	return ret;
}

static int get_state(int fd, uint32_t *state)
{
	struct vfio_device_feature_mig_state s = {
		.device_state = VFIO_DEVICE_STATE_ERROR,
		.data_fd = -1,
	};
	int ret = feature(fd, VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s), 0);

	*state = ret ? VFIO_DEVICE_STATE_NR : s.device_state;
	return ret;
}

/* The state a device is in now, or VFIO_DEVICE_STATE_NR if GET fails. */
static uint32_t state_now(int fd)
{
	uint32_t s;

	get_state(fd, &s);
	return s;
}

/* SET; *data_fd gets what the kernel returned (-1 on failure). */
static int set_state(int fd, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state s = {
		.device_state = state,
		.data_fd = -1,
	};
	int ret = feature(fd, VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s), 0);

	if (ret)
		s.data_fd = -1;
	if (data_fd)
		*data_fd = s.data_fd;
	else if (s.data_fd >= 0)
		close(s.data_fd);
	return ret;
}

static int data_size(int fd, uint64_t *len)
{
	struct vfio_device_feature_mig_data_size d = { 0 };
	int ret = feature(fd, VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &d, sizeof(d), 0);

	*len = d.stop_copy_length;
	return ret;
}

static int precopy_info(int dfd, uint64_t *initial, uint64_t *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };

	if (ioctl(dfd, VFIO_MIG_GET_PRECOPY_INFO, &info))
		return -errno;
	*initial = info.initial_bytes;
	*dirty = info.dirty_bytes;
	return 0;
}

static int device_reset(int fd)
{
	return ioctl(fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

struct stream {
	unsigned char *data;
	size_t len;
	size_t cap;
};

static void stream_free(struct stream *s)
{
	free(s->data);
	memset(s, 0, sizeof(*s));
}

/*
 * read() a saving data_fd until it returns 0 (*end = 0) or fails (*end =
 * -errno: -ENOMSG is PRE_COPY's temporary end). Return: 0, or -ENOMEM /
 * -EFBIG when the stream cannot be held.
 */
static int read_stream(int dfd, struct stream *s, int *end)
{
	const size_t chunk = 1 << 20;
	ssize_t n;

	for (;;) {
		if (s->cap - s->len < chunk) {
			size_t cap = s->cap ? 2 * s->cap : 4 * chunk;
			unsigned char *p;

			if (cap > MAX_STREAM)
				return -EFBIG;
			p = realloc(s->data, cap);
			if (!p)
				return -ENOMEM;
			s->data = p;
			s->cap = cap;
		}
		n = read(dfd, s->data + s->len, chunk);
		if (n > 0) {
			s->len += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		*end = n ? -errno : 0;
		return 0;
	}
}

/*
 * write() @len bytes in pieces of the sizes in @sizes (cycled; the last
 * piece is what remains). Return: 0 or the errno of the refused write();
 * *done says how much was accepted.
 */
static int write_stream(int dfd, const unsigned char *buf, size_t len,
			const size_t *sizes, size_t nsizes, size_t *done)
{
	size_t pos = 0, i = 0, n;
	ssize_t w;
	int ret = 0;

	while (pos < len) {
		n = sizes[i++ % nsizes];
		if (n > len - pos)
			n = len - pos;
		w = write(dfd, buf + pos, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = w ? -errno : -EIO;
			break;
		}
		pos += w;
	}
	if (done)
		*done = pos;
	return ret;
}

static const size_t big_pieces[] = { 1 << 20 };

/* ---- the fixture: the device open on one path, in RUNNING ---- */

FIXTURE(mig) {
	struct vdev d;
	uint64_t flags;
	bool can_reset;
};

FIXTURE_VARIANT(mig) {
	enum vfio_path path;
};

FIXTURE_VARIANT_ADD(mig, group) {
	.path = PATH_GROUP,
};

FIXTURE_VARIANT_ADD(mig, cdev) {
	.path = PATH_CDEV,
};

static void open_dev(struct __test_metadata *_metadata,
		     struct _test_data_mig *self,
		     const struct _fixture_variant_mig *variant)
{
	char why[PATH_MAX + 128] = "";
	int ret;

	self->d = (struct vdev){ -1, -1, -1, -1 };
	if (variant->path == PATH_GROUP) {
		ret = open_group(target, &self->d, why, sizeof(why));
	} else {
		ret = open_cdev(target, &self->d, why, sizeof(why));
		if (ret == 1) {
			vdev_close(&self->d);
			SKIP(return, "cdev path: %s", why);
		}
	}
	ASSERT_EQ(0, ret) TH_LOG("open %s: %s", target, why);
}

FIXTURE_SETUP(mig)
{
	uint32_t s;
	int ret;

	ASSERT_NE(NULL, target) TH_LOG("usage: vfio-mig-conformance DEVICE");
	open_dev(_metadata, self, variant);
	if (_metadata->exit_code)
		return;
	ret = mig_flags(self->d.fd, &self->flags);
	ASSERT_EQ(0, ret)
		TH_LOG("VFIO_DEVICE_FEATURE_MIGRATION: %s: the device does not offer migration",
		       strerror(-ret));
	/*
	 * Every test starts in RUNNING. How a device comes out of an open
	 * is not a vfio.h rule, so a device left elsewhere by a test before
	 * is reset here, and said so.
	 */
	ASSERT_EQ(0, get_state(self->d.fd, &s));
	self->can_reset = true;
	if (s != VFIO_DEVICE_STATE_RUNNING) {
		TH_LOG("opened in %s: reset to RUNNING", sname(s));
		self->can_reset = !device_reset(self->d.fd);
		if (!self->can_reset)
			set_state(self->d.fd, VFIO_DEVICE_STATE_RUNNING, NULL);
	}
	ASSERT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(self->d.fd));
}

/*
 * Leave the device in RUNNING for the next test: a test may end anywhere,
 * in RESUMING with nothing to load too, which only a reset leaves.
 */
FIXTURE_TEARDOWN(mig)
{
	if (self->d.fd >= 0 &&
	    state_now(self->d.fd) != VFIO_DEVICE_STATE_RUNNING &&
	    set_state(self->d.fd, VFIO_DEVICE_STATE_RUNNING, NULL))
		device_reset(self->d.fd);
	vdev_close(&self->d);
}

static bool supported(struct _test_data_mig *self, uint32_t s)
{
	switch (s) {
	case VFIO_DEVICE_STATE_RUNNING:
		return true;
	case VFIO_DEVICE_STATE_STOP:
	case VFIO_DEVICE_STATE_STOP_COPY:
	case VFIO_DEVICE_STATE_RESUMING:
		return self->flags & VFIO_MIGRATION_STOP_COPY;
	case VFIO_DEVICE_STATE_RUNNING_P2P:
		return self->flags & VFIO_MIGRATION_P2P;
	case VFIO_DEVICE_STATE_PRE_COPY:
		return self->flags & VFIO_MIGRATION_PRE_COPY;
	case VFIO_DEVICE_STATE_PRE_COPY_P2P:
		return (self->flags & VFIO_MIGRATION_PRE_COPY) &&
		       (self->flags & VFIO_MIGRATION_P2P);
	}
	return false;	/* ERROR is never a state to ask for */
}

static bool saving(uint32_t s)
{
	return s == VFIO_DEVICE_STATE_STOP_COPY ||
	       s == VFIO_DEVICE_STATE_PRE_COPY ||
	       s == VFIO_DEVICE_STATE_PRE_COPY_P2P;
}

/* Save the device's state from RUNNING: STOP_COPY, read to the end. */
static void save(struct __test_metadata *_metadata, struct _test_data_mig *self,
		 struct stream *st)
{
	int dfd, end = 0;

	memset(st, 0, sizeof(*st));
	ASSERT_EQ(0, set_state(self->d.fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd));
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, read_stream(dfd, st, &end));
	ASSERT_EQ(0, end) TH_LOG("reading STOP_COPY data: %s", strerror(-end));
	close(dfd);
	ASSERT_EQ(0, set_state(self->d.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
}

/*
 * Back to RUNNING from wherever the device is: through SET_STATE (a
 * RESUMING session first gets a whole saved stream, so that STOP can load
 * it), else by reset.
 */
static void to_running(struct __test_metadata *_metadata,
		       struct _test_data_mig *self, int *dfd,
		       const struct stream *st)
{
	uint32_t s = state_now(self->d.fd);

	if (s == VFIO_DEVICE_STATE_RESUMING && *dfd >= 0 && st)
		write_stream(*dfd, st->data, st->len, big_pieces, 1, NULL);
	if (*dfd >= 0)
		close(*dfd);
	*dfd = -1;
	if (s == VFIO_DEVICE_STATE_RUNNING ||
	    !set_state(self->d.fd, VFIO_DEVICE_STATE_RUNNING, NULL))
		return;
	ASSERT_EQ(0, device_reset(self->d.fd));
	ASSERT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(self->d.fd));
}

/* ---- VFIO_DEVICE_FEATURE: flags and argsz ---- */

/*
 * vfio.h, VFIO_DEVICE_FEATURE_MIGRATION: "If this GET succeeds, the
 * RUNNING and ERROR states are always supported. [...] at least
 * VFIO_MIGRATION_STOP_COPY must be set." and "Other combinations of flags
 * have behavior to be defined in the future": a 6.12 driver reports one
 * of the four combinations the text defines.
 */
TEST_F_TIMEOUT(mig, migration_flags_include_stop_copy, 300)
{
	static const uint64_t defined[] = {
		VFIO_MIGRATION_STOP_COPY,
		VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P,
		VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY,
		VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
			VFIO_MIGRATION_PRE_COPY,
	};
	bool known = false;
	size_t i;

	TH_LOG("migration flags %#llx", (unsigned long long)self->flags);
	EXPECT_TRUE(!!(self->flags & VFIO_MIGRATION_STOP_COPY));
	for (i = 0; i < ARRAY_SIZE(defined); i++)
		known |= self->flags == defined[i];
	EXPECT_TRUE(known) TH_LOG("flags %#llx: not a combination vfio.h defines",
				  (unsigned long long)self->flags);
}

/*
 * vfio.h, VFIO_DEVICE_FEATURE: "Probing a feature will return success if
 * the feature is supported and all of the optionally indicated GET/SET
 * methods are supported." MIGRATION and MIG_DATA_SIZE are GET only,
 * MIG_DEVICE_STATE is GET and SET.
 */
TEST_F_TIMEOUT(mig, probe_reports_get_and_set_methods, 300)
{
	const uint32_t P = VFIO_DEVICE_FEATURE_PROBE,
		G = VFIO_DEVICE_FEATURE_GET, S = VFIO_DEVICE_FEATURE_SET;
	int fd = self->d.fd;

	EXPECT_EQ(0, feature(fd, P | G | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, feature(fd, P | S | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, 0));
	EXPECT_EQ(0, feature(fd, P | G | S | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			     NULL, 0, 0));
	EXPECT_EQ(0, feature(fd, P | G | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, feature(fd, P | S | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
				   NULL, 0, 0));
}

/*
 * vfio.h, VFIO_DEVICE_FEATURE: "GET and SET are mutually exclusive, except
 * for use with PROBE." A request with both, or with neither (and no
 * PROBE), asks for nothing defined: refused, and the state is untouched.
 */
TEST_F_TIMEOUT(mig, get_and_set_are_mutually_exclusive, 300)
{
	struct vfio_device_feature_mig_state s = {
		.device_state = VFIO_DEVICE_STATE_STOP, .data_fd = -1,
	};
	int fd = self->d.fd;

	EXPECT_EQ(-EINVAL, feature(fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s), 0));
	EXPECT_EQ(-EINVAL, feature(fd, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s,
				   sizeof(s), 0));
	EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(fd));
}

/*
 * vfio.h, the argsz convention: "It's *always* the caller's responsibility
 * to indicate the size of the structure passed by setting argsz
 * appropriately." A feature's data shorter than its structure must be
 * refused, never half-read: for each migration feature, argsz one byte
 * short, and argsz shorter than the header itself.
 */
TEST_F_TIMEOUT(mig, short_argsz_refused, 300)
{
	const uint32_t hdr = sizeof(struct vfio_device_feature);
	struct vfio_device_feature_mig_state s = {
		.device_state = VFIO_DEVICE_STATE_STOP, .data_fd = -1,
	};
	uint64_t buf = 0;
	int fd = self->d.fd;

	EXPECT_EQ(-EINVAL, feature(fd, VFIO_DEVICE_FEATURE_GET |
				   VFIO_DEVICE_FEATURE_MIGRATION, &buf, 8, hdr + 7));
	EXPECT_EQ(-EINVAL, feature(fd, VFIO_DEVICE_FEATURE_GET |
				   VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &buf, 8, hdr + 7));
	EXPECT_EQ(-EINVAL, feature(fd, VFIO_DEVICE_FEATURE_GET |
				   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s,
				   sizeof(s), hdr + sizeof(s) - 1));
	EXPECT_EQ(-EINVAL, feature(fd, VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s,
				   sizeof(s), hdr + sizeof(s) - 1));
	EXPECT_EQ(-EINVAL, feature(fd, VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s,
				   sizeof(s), 4));
	/* The short SET must not have moved the device. */
	EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(fd));
}

/*
 * vfio.h, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: "Upon
 * VFIO_DEVICE_FEATURE_GET, get the current migration state of the VFIO
 * device, data_fd will be -1."
 */
TEST_F_TIMEOUT(mig, get_state_returns_data_fd_minus_one, 300)
{
	struct vfio_device_feature_mig_state s = {
		.device_state = VFIO_DEVICE_STATE_NR, .data_fd = 1234,
	};

	ASSERT_EQ(0, feature(self->d.fd, VFIO_DEVICE_FEATURE_GET |
			     VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s), 0));
	EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, s.device_state);
	EXPECT_EQ(-1, s.data_fd);
}

/* ---- the state machine ---- */

/*
 * vfio.h, "any -> ERROR": "ERROR cannot be specified as a device state".
 * Asked from RUNNING and from STOP: refused, no data_fd, state kept.
 */
TEST_F_TIMEOUT(mig, error_state_cannot_be_set, 300)
{
	uint32_t from[] = { VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP };
	int fd = self->d.fd, dfd;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(from); i++) {
		ASSERT_EQ(0, set_state(fd, from[i], NULL));
		EXPECT_NE(0, set_state(fd, VFIO_DEVICE_STATE_ERROR, &dfd))
			TH_LOG("from %s", sname(from[i]));
		EXPECT_EQ(-1, dfd);
		EXPECT_EQ(from[i], state_now(fd));
	}
}

/*
 * vfio.h: the states are those of enum vfio_device_mig_state, and "The
 * optional states cannot be used with SET_STATE if the device does not
 * support them." Values past the enum are no state at all.
 */
TEST_F_TIMEOUT(mig, undefined_states_refused, 300)
{
	uint32_t bad[] = { VFIO_DEVICE_STATE_NR, VFIO_DEVICE_STATE_NR + 1,
			   0x80000000u, 0xffffffffu };
	int fd = self->d.fd, dfd;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_NE(0, set_state(fd, bad[i], &dfd)) TH_LOG("state %#x", bad[i]);
		EXPECT_EQ(-1, dfd);
		EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(fd));
	}
}

/*
 * vfio.h: "The optional states cannot be used with SET_STATE if the device
 * does not support them." Applies only to a device without P2P or
 * PRE_COPY.
 */
TEST_F_TIMEOUT(mig, unsupported_optional_states_refused, 300)
{
	int fd = self->d.fd, n = 0;
	uint32_t s;

	for (s = VFIO_DEVICE_STATE_STOP; s < NSTATES; s++) {
		if (supported(self, s))
			continue;
		n++;
		EXPECT_NE(0, set_state(fd, s, NULL)) TH_LOG("%s", sname(s));
		EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(fd));
	}
	if (!n)
		SKIP(return, "the device supports every optional state");
}

/*
 * vfio.h, on STOP_COPY -> PRE_COPY and STOP_COPY -> PRE_COPY_P2P: "These
 * arcs are not permitted and return error if requested." Nothing was done, so
 * the device stays in STOP_COPY and its session is not touched.
 */
TEST_F_TIMEOUT(mig, stop_copy_to_pre_copy_refused, 300)
{
	uint32_t to[] = { VFIO_DEVICE_STATE_PRE_COPY,
			  VFIO_DEVICE_STATE_PRE_COPY_P2P };
	int fd = self->d.fd, dfd, dfd2, end = -1;
	struct stream st = { 0 };
	size_t i;

	if (!supported(self, VFIO_DEVICE_STATE_PRE_COPY))
		SKIP(return, "no PRE_COPY: unsupported_optional_states_refused covers it");
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd));
	for (i = 0; i < ARRAY_SIZE(to); i++) {
		if (!supported(self, to[i]))
			continue;
		EXPECT_NE(0, set_state(fd, to[i], &dfd2)) TH_LOG("to %s", sname(to[i]));
		EXPECT_EQ(-1, dfd2);
		EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_STOP_COPY, state_now(fd));
	}
	EXPECT_EQ(0, read_stream(dfd, &st, &end));
	EXPECT_EQ(0, end) TH_LOG("the session broke: %s", strerror(-end));
	stream_free(&st);
	close(dfd);
}

/*
 * Every (from, to) pair of supported states but the forbidden arcs; @fn
 * checks one. RESUMING gets a saved stream before it is left, so that its
 * STOP can load (vfio.h: RESUMING -> STOP "must fail" on incomplete data).
 */
typedef void (*arc_fn)(struct __test_metadata *_metadata, uint32_t from,
		       uint32_t to, int ret, int dfd, uint32_t now);

static void walk_arcs(struct __test_metadata *_metadata,
		      struct _test_data_mig *self, arc_fn fn)
{
	int fd = self->d.fd, dfd, dfd2, ret;
	struct stream st;
	uint32_t a, b;

	save(_metadata, self, &st);
	for (a = VFIO_DEVICE_STATE_STOP; a < NSTATES; a++) {
		for (b = VFIO_DEVICE_STATE_STOP; b < NSTATES; b++) {
			if (a == b || !supported(self, a) || !supported(self, b))
				continue;
			if (a == VFIO_DEVICE_STATE_STOP_COPY &&
			    (b == VFIO_DEVICE_STATE_PRE_COPY ||
			     b == VFIO_DEVICE_STATE_PRE_COPY_P2P))
				continue;
			dfd = -1;
			if (a != VFIO_DEVICE_STATE_RUNNING)
				ASSERT_EQ(0, set_state(fd, a, &dfd))
					TH_LOG("RUNNING -> %s", sname(a));
			if (a == VFIO_DEVICE_STATE_RESUMING)
				ASSERT_EQ(0, write_stream(dfd, st.data, st.len,
							  big_pieces, 1, NULL));
			ret = set_state(fd, b, &dfd2);
			fn(_metadata, a, b, ret, dfd2, state_now(fd));
			if (dfd2 >= 0) {
				if (dfd >= 0)
					close(dfd);
				dfd = dfd2;
			}
			to_running(_metadata, self, &dfd, &st);
		}
	}
	stream_free(&st);
}

static void arc_lands(struct __test_metadata *_metadata, uint32_t from,
		      uint32_t to, int ret, int dfd, uint32_t now)
{
	(void)dfd;
	EXPECT_EQ(0, ret) TH_LOG("%s -> %s: %s", sname(from), sname(to),
				 strerror(-ret));
	EXPECT_EQ(to, now) TH_LOG("%s -> %s: now in %s", sname(from), sname(to),
				  sname(now));
}

/*
 * vfio.h: "The kernel migration driver must fully transition the device to
 * the new state value before the operation returns to the user." and "The
 * remaining possible transitions are interpreted as combinations of the
 * above FSM arcs": every pair of supported states but the two forbidden
 * arcs succeeds, and GET then reports the state asked for.
 */
TEST_F_TIMEOUT(mig, every_transition_lands_in_requested_state, 600)
{
	walk_arcs(_metadata, self, arc_lands);
}

static void arc_fd(struct __test_metadata *_metadata, uint32_t from,
		   uint32_t to, int ret, int dfd, uint32_t now)
{
	bool starts = to == VFIO_DEVICE_STATE_RESUMING ||
		      (saving(to) && !saving(from));

	(void)now;
	if (ret)
		return;	/* every_transition_lands_in_requested_state says */
	/* (braces: the harness's macros are if statements) */
	if (starts) {
		EXPECT_LE(0, dfd) TH_LOG("%s -> %s starts a session: no data_fd",
					 sname(from), sname(to));
	} else {
		EXPECT_EQ(-1, dfd) TH_LOG("%s -> %s starts no session: data_fd %d",
					  sname(from), sname(to), dfd);
	}
}

/*
 * vfio.h: "If the new_state starts a new data transfer session then the FD
 * associated with that session is returned in data_fd." Sessions start on
 * entering the saving group (PRE_COPY, PRE_COPY_P2P, STOP_COPY) from
 * outside it, and on entering RESUMING; "Moving between these states
 * alters what is streamed in session, but does not terminate or otherwise
 * affect the associated fd", so no other arc returns one (-1).
 */
TEST_F_TIMEOUT(mig, data_fd_exactly_when_a_session_starts, 600)
{
	walk_arcs(_metadata, self, arc_fd);
}

/*
 * vfio.h: "To recover from ERROR VFIO_DEVICE_RESET must be used to return
 * the device_state back to RUNNING", "To abort a RESUMING session the
 * device must be reset", and the driver "must not generate asynchronous
 * device state transitions outside of manipulation by the user or the
 * VFIO_DEVICE_RESET ioctl": a reset from every supported state lands in
 * RUNNING.
 */
TEST_F_TIMEOUT(mig, reset_returns_to_running_from_every_state, 300)
{
	int fd = self->d.fd, dfd;
	uint32_t s;

	if (!self->can_reset || device_reset(fd))
		SKIP(return, "VFIO_DEVICE_RESET fails: %s", strerror(errno));
	for (s = VFIO_DEVICE_STATE_STOP; s < NSTATES; s++) {
		if (!supported(self, s) || s == VFIO_DEVICE_STATE_RUNNING)
			continue;
		ASSERT_EQ(0, set_state(fd, s, &dfd));
		EXPECT_EQ(0, device_reset(fd)) TH_LOG("in %s", sname(s));
		EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(fd))
			TH_LOG("reset in %s left %s", sname(s), sname(state_now(fd)));
		if (dfd >= 0)
			close(dfd);
		to_running(_metadata, self, &(int){ -1 }, NULL);
	}
}

/* ---- VFIO_MIG_GET_PRECOPY_INFO, ENOMSG and end of stream ---- */

/*
 * vfio.h, VFIO_MIG_GET_PRECOPY_INFO: "This ioctl is valid only in PRE_COPY
 * states", "Support for this ioctl is mandatory if a driver claims to
 * support VFIO_MIGRATION_PRE_COPY": it succeeds in PRE_COPY and
 * PRE_COPY_P2P (same session: PRE_COPY -> PRE_COPY_P2P keeps the fd).
 */
TEST_F_TIMEOUT(mig, precopy_info_works_in_pre_copy_states, 300)
{
	uint64_t ini = 0, dirty = 0;
	int fd = self->d.fd, dfd, ret;

	if (!supported(self, VFIO_DEVICE_STATE_PRE_COPY))
		SKIP(return, "no PRE_COPY");
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY, &dfd));
	ret = precopy_info(dfd, &ini, &dirty);
	EXPECT_EQ(0, ret) TH_LOG("in PRE_COPY: %s", strerror(-ret));
	if (supported(self, VFIO_DEVICE_STATE_PRE_COPY_P2P)) {
		ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL));
		ret = precopy_info(dfd, &ini, &dirty);
		EXPECT_EQ(0, ret) TH_LOG("in PRE_COPY_P2P: %s", strerror(-ret));
	}
	close(dfd);
}

/*
 * vfio.h, VFIO_MIG_GET_PRECOPY_INFO: "This ioctl is valid only in PRE_COPY
 * states and kernel driver should return -EINVAL from any other migration
 * state." The saving fd, still live, once the device is in STOP_COPY.
 */
TEST_F_TIMEOUT(mig, precopy_info_einval_in_stop_copy, 300)
{
	uint64_t ini = 0, dirty = 0;
	int fd = self->d.fd, dfd;

	if (!supported(self, VFIO_DEVICE_STATE_PRE_COPY))
		SKIP(return, "no PRE_COPY");
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY, &dfd));
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	EXPECT_EQ(-EINVAL, precopy_info(dfd, &ini, &dirty));
	close(dfd);
}

/*
 * vfio.h, the argsz convention ("the caller's responsibility to indicate
 * the size of the structure passed by setting argsz"), for struct
 * vfio_precopy_info: an argsz short of dirty_bytes is refused.
 */
TEST_F_TIMEOUT(mig, precopy_info_short_argsz_refused, 300)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) - 1 };
	int fd = self->d.fd, dfd, ret;

	if (!supported(self, VFIO_DEVICE_STATE_PRE_COPY))
		SKIP(return, "no PRE_COPY");
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY, &dfd));
	ret = ioctl(dfd, VFIO_MIG_GET_PRECOPY_INFO, &info) ? -errno : 0;
	EXPECT_EQ(-EINVAL, ret);
	close(dfd);
}

/*
 * vfio.h, VFIO_MIG_GET_PRECOPY_INFO: "The initial_bytes field [...] should
 * have a non-zero initial value and decrease as migration data is read
 * from the device." Read in 4 KiB steps; it never grows, and is 0 at the
 * temporary end of the PRE_COPY data.
 */
TEST_F_TIMEOUT(mig, precopy_initial_bytes_start_nonzero_and_drain, 300)
{
	uint64_t ini = 0, dirty = 0, last;
	int fd = self->d.fd, dfd, ret;
	static unsigned char buf[4096];
	ssize_t n;

	if (!supported(self, VFIO_DEVICE_STATE_PRE_COPY))
		SKIP(return, "no PRE_COPY");
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY, &dfd));
	ASSERT_EQ(0, precopy_info(dfd, &ini, &dirty));
	EXPECT_NE(0ULL, ini) TH_LOG("initial_bytes is 0 on entering PRE_COPY");
	for (last = ini;;) {
		n = read(dfd, buf, sizeof(buf));
		if (n <= 0)
			break;
		ret = precopy_info(dfd, &ini, &dirty);
		ASSERT_EQ(0, ret);
		EXPECT_LE(ini, last) TH_LOG("initial_bytes grew from %llu to %llu",
					    (unsigned long long)last,
					    (unsigned long long)ini);
		last = ini;
	}
	ASSERT_EQ(0, precopy_info(dfd, &ini, &dirty));
	EXPECT_EQ(0ULL, ini) TH_LOG("%llu initial_bytes left after read() ended (%zd, %s)",
				    (unsigned long long)ini, n, n < 0 ? strerror(errno) : "");
	close(dfd);
}

/*
 * vfio.h, VFIO_MIG_GET_PRECOPY_INFO: "During pre-copy the migration data FD
 * has a temporary "end of stream" that is reached when both initial_bytes
 * and dirty_byte are zero. [...] When read() is done on this temporary end
 * of stream the kernel driver should return ENOMSG from read()." A read()
 * returning 0 there would say the stream is over, which only STOP_COPY
 * may say.
 */
TEST_F_TIMEOUT(mig, precopy_temporary_end_is_enomsg_not_zero, 300)
{
	struct stream st = { 0 };
	uint64_t ini = 0, dirty = 0;
	int fd = self->d.fd, dfd, end = 0;

	if (!supported(self, VFIO_DEVICE_STATE_PRE_COPY))
		SKIP(return, "no PRE_COPY");
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY, &dfd));
	ASSERT_EQ(0, read_stream(dfd, &st, &end));
	precopy_info(dfd, &ini, &dirty);
	TH_LOG("read %zu bytes in PRE_COPY; initial_bytes %llu dirty_bytes %llu",
	       st.len, (unsigned long long)ini, (unsigned long long)dirty);
	EXPECT_EQ(-ENOMSG, end) TH_LOG("read() at the PRE_COPY end: %s",
				       end ? strerror(-end) : "returned 0");
	stream_free(&st);
	close(dfd);
}

/*
 * vfio.h: "Once in STOP_COPY the migration data FD has a permanent end of
 * stream signaled in the usual way by read() always returning 0 and poll
 * always returning readable. ENOMSG may not be returned in STOP_COPY."
 */
TEST_F_TIMEOUT(mig, stop_copy_end_is_zero_and_readable, 300)
{
	struct pollfd pfd = { .events = POLLIN };
	struct stream st = { 0 };
	int fd = self->d.fd, dfd, end = -1, i;
	char c;

	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd));
	ASSERT_EQ(0, read_stream(dfd, &st, &end));
	EXPECT_EQ(0, end) TH_LOG("STOP_COPY read(): %s", strerror(-end));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, read(dfd, &c, 1)) TH_LOG("read() %d after the end", i);
	pfd.fd = dfd;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLIN) TH_LOG("revents %#x", pfd.revents);
	stream_free(&st);
	close(dfd);
}

/*
 * vfio.h: the data "flow over the FD using read() and write()", a stream
 * whose "byte order" the user preserves: there are no offsets into it.
 * vfio.h does not name the errno; every in-tree driver opens its data
 * files with stream_open(), which makes pread()/pwrite() fail with ESPIPE,
 * so that is what is asserted.
 */
TEST_F_TIMEOUT(mig, data_fd_has_no_offsets_espipe, 300)
{
	int fd = self->d.fd, dfd;
	char c = 0;

	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd));
	EXPECT_EQ(-1, pread(dfd, &c, 1, 0));
	EXPECT_EQ(ESPIPE, errno);
	close(dfd);
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	EXPECT_EQ(-1, pwrite(dfd, &c, 1, 0));
	EXPECT_EQ(ESPIPE, errno);
	close(dfd);
}

/* ---- sessions end: the data fd dies ---- */

/* A read() on a dead saving fd: any error, never data nor end of stream. */
static void expect_dead_read(struct __test_metadata *_metadata, int dfd,
			     const char *when)
{
	char buf[64];
	ssize_t n = read(dfd, buf, sizeof(buf));

	EXPECT_EQ(-1, n) TH_LOG("%s: read() returned %zd", when, n);
	if (n < 0)
		TH_LOG("%s: read() fails: %s", when, strerror(errno));
}

static void expect_dead_write(struct __test_metadata *_metadata, int dfd,
			      const char *when)
{
	char buf[64] = { 0 };
	ssize_t n = write(dfd, buf, sizeof(buf));

	EXPECT_EQ(-1, n) TH_LOG("%s: write() returned %zd", when, n);
	if (n < 0)
		TH_LOG("%s: write() fails: %s", when, strerror(errno));
}

/*
 * vfio.h: "The STOP_COPY arc will terminate a data transfer session" and
 * "The PRE_COPY arc will terminate a data transfer session": a saving fd
 * of an ended session gives neither data nor an end of stream (a 0 would
 * pass for a complete stream).
 */
TEST_F_TIMEOUT(mig, saving_fd_dead_after_session_ends, 300)
{
	int fd = self->d.fd, dfd;

	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd));
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP, NULL));
	expect_dead_read(_metadata, dfd, "STOP_COPY -> STOP");
	close(dfd);
	if (!supported(self, VFIO_DEVICE_STATE_PRE_COPY))
		return;
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY, &dfd));
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	expect_dead_read(_metadata, dfd, "PRE_COPY -> RUNNING");
	close(dfd);
}

/*
 * vfio.h, RESUMING -> STOP: "Leaving RESUMING terminates a data transfer
 * session": once the state is loaded, write() can no longer feed it.
 */
TEST_F_TIMEOUT(mig, resuming_fd_dead_after_session_ends, 300)
{
	int fd = self->d.fd, dfd;
	struct stream st;

	save(_metadata, self, &st);
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	ASSERT_EQ(0, write_stream(dfd, st.data, st.len, big_pieces, 1, NULL));
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP, NULL));
	expect_dead_write(_metadata, dfd, "RESUMING -> STOP");
	close(dfd);
	stream_free(&st);
}

/*
 * vfio.h: VFIO_DEVICE_RESET returns "the device_state back to RUNNING",
 * and "To abort a RESUMING session the device must be reset": a reset ends
 * every session, so the fds of a saving and of a resuming session die.
 */
TEST_F_TIMEOUT(mig, data_fds_dead_after_reset, 300)
{
	int fd = self->d.fd, dfd;

	if (!self->can_reset || device_reset(fd))
		SKIP(return, "VFIO_DEVICE_RESET fails: %s", strerror(errno));
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd));
	ASSERT_EQ(0, device_reset(fd));
	expect_dead_read(_metadata, dfd, "STOP_COPY, reset");
	close(dfd);
	if (supported(self, VFIO_DEVICE_STATE_PRE_COPY)) {
		ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY, &dfd));
		ASSERT_EQ(0, device_reset(fd));
		expect_dead_read(_metadata, dfd, "PRE_COPY, reset");
		close(dfd);
	}
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	ASSERT_EQ(0, device_reset(fd));
	expect_dead_write(_metadata, dfd, "RESUMING, reset");
	close(dfd);
	EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(fd));
}

/*
 * The device fd closed with sessions open: no user is left to end them,
 * and the next user of the device must not find them alive. vfio.h: "The
 * user is responsible to close this FD when it is finished"; a data fd
 * that outlives its device's close would let a stale session read (or
 * write) the state of the device's next user.
 */
TEST_F_TIMEOUT(mig, data_fds_dead_after_device_close, 300)
{
	int fd = self->d.fd, dfd;

	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd));
	vdev_close(&self->d);
	expect_dead_read(_metadata, dfd, "STOP_COPY, device closed");
	close(dfd);

	open_dev(_metadata, self, variant);
	fd = self->d.fd;
	if (state_now(fd) != VFIO_DEVICE_STATE_STOP &&
	    state_now(fd) != VFIO_DEVICE_STATE_RUNNING)
		device_reset(fd);
	to_running(_metadata, self, &(int){ -1 }, NULL);
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	vdev_close(&self->d);
	expect_dead_write(_metadata, dfd, "RESUMING, device closed");
	close(dfd);

	/* Leave the device in RUNNING for whoever comes next. */
	open_dev(_metadata, self, variant);
	if (state_now(self->d.fd) != VFIO_DEVICE_STATE_RUNNING)
		device_reset(self->d.fd);
}

/* ---- MIG_DATA_SIZE ---- */

/*
 * vfio.h, VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: "read back the estimated data
 * length that will be required to complete stop copy. Note: Can be called
 * on each device state."
 */
TEST_F_TIMEOUT(mig, mig_data_size_in_every_state, 300)
{
	int fd = self->d.fd, dfd, ret;
	uint64_t len;
	uint32_t s;

	for (s = VFIO_DEVICE_STATE_STOP; s < NSTATES; s++) {
		if (!supported(self, s))
			continue;
		dfd = -1;
		if (s != VFIO_DEVICE_STATE_RUNNING)
			ASSERT_EQ(0, set_state(fd, s, &dfd));
		ret = data_size(fd, &len);
		EXPECT_EQ(0, ret) TH_LOG("in %s: %s", sname(s), strerror(-ret));
		if (!ret)
			TH_LOG("%s: stop_copy_length %llu", sname(s),
			       (unsigned long long)len);
		if (dfd >= 0)
			close(dfd);
		if (state_now(fd) != VFIO_DEVICE_STATE_RUNNING) {
			/* RESUMING has no stream to load: abort it. */
			if (s == VFIO_DEVICE_STATE_RESUMING) {
				ASSERT_EQ(0, device_reset(fd));
				continue;
			}
			ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RUNNING, NULL));
		}
	}
}

/* ---- resuming: saved streams and corrupted ones ---- */

struct resume_result {
	int write_err;		/* errno of the refused write(), or 0 */
	size_t written;		/* bytes write() accepted */
	int stop_err;		/* RESUMING -> STOP */
	uint32_t after;		/* the state RESUMING -> STOP left */
};

/*
 * Feed @len bytes of @buf into a fresh RESUMING session (stopping at the
 * first refused write()), then RESUMING -> STOP; back to RUNNING after.
 */
static void resume(struct __test_metadata *_metadata, struct _test_data_mig *self,
		   const unsigned char *buf, size_t len, const size_t *sizes,
		   size_t nsizes, struct resume_result *r)
{
	int fd = self->d.fd, dfd;

	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	ASSERT_LE(0, dfd);
	r->write_err = write_stream(dfd, buf, len, sizes, nsizes, &r->written);
	r->stop_err = set_state(fd, VFIO_DEVICE_STATE_STOP, NULL);
	r->after = state_now(fd);
	close(dfd);
	TH_LOG("%s of %zu bytes: write %s after %zu, RESUMING -> STOP %s, now %s",
	       __func__, len, r->write_err ? strerror(-r->write_err) : "ok", r->written,
	       r->stop_err ? strerror(-r->stop_err) : "ok", sname(r->after));
	if (!r->stop_err) {
		ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RUNNING, NULL));
		return;
	}
	/*
	 * vfio.h: on failure "current device_state may be the original
	 * operating state or some other state along the combination
	 * transition path" or, for RESUMING -> STOP, "optionally go to the
	 * ERROR state"; "To abort a RESUMING session the device must be
	 * reset".
	 */
	EXPECT_TRUE(r->after == VFIO_DEVICE_STATE_RESUMING ||
		    r->after == VFIO_DEVICE_STATE_ERROR)
		TH_LOG("a failed RESUMING -> STOP left %s", sname(r->after));
	ASSERT_EQ(0, device_reset(fd));
	ASSERT_EQ((uint32_t)VFIO_DEVICE_STATE_RUNNING, state_now(fd));
}

static bool refused(const struct resume_result *r)
{
	return r->write_err || r->stop_err;
}

/*
 * vfio.h, STOP -> RESUMING: "The data stream fed into the data_fd should be
 * taken from the data transfer output of a single FD during saving from a
 * compatible device": the device's own STOP_COPY stream loads, and the
 * device then runs.
 */
TEST_F_TIMEOUT(mig, saved_stream_resumes, 300)
{
	struct resume_result r;
	struct stream st;

	save(_metadata, self, &st);
	resume(_metadata, self, st.data, st.len, big_pieces, 1, &r);
	EXPECT_EQ(0, r.write_err);
	EXPECT_EQ(st.len, r.written);
	EXPECT_EQ(0, r.stop_err);
	EXPECT_EQ((uint32_t)VFIO_DEVICE_STATE_STOP, r.after);
	stream_free(&st);
}

/*
 * vfio.h: "The user is not required to preserve buffer segmentation when
 * writing the data stream during the RESUMING operation." The same stream
 * in pieces of 1, 7, 4093, 3 and 65537 bytes.
 */
TEST_F_TIMEOUT(mig, saved_stream_resumes_in_any_segmentation, 600)
{
	static const size_t odd[] = { 1, 7, 4093, 3, 65537 };
	struct resume_result r;
	struct stream st;

	save(_metadata, self, &st);
	resume(_metadata, self, st.data, st.len, odd, ARRAY_SIZE(odd), &r);
	EXPECT_EQ(0, r.write_err);
	EXPECT_EQ(0, r.stop_err);
	stream_free(&st);
}

/*
 * vfio.h: PRE_COPY, PRE_COPY_P2P and STOP_COPY "share a data transfer
 * session", and the resuming side takes "the data transfer output of a
 * single FD": what one fd gave in PRE_COPY and then in STOP_COPY, as one
 * stream, loads.
 */
TEST_F_TIMEOUT(mig, pre_copy_and_stop_copy_stream_resumes, 300)
{
	struct resume_result r;
	struct stream st = { 0 };
	int fd = self->d.fd, dfd, dfd2, end;
	size_t pre;

	if (!supported(self, VFIO_DEVICE_STATE_PRE_COPY))
		SKIP(return, "no PRE_COPY");
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_PRE_COPY, &dfd));
	ASSERT_EQ(0, read_stream(dfd, &st, &end));
	pre = st.len;
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd2));
	EXPECT_EQ(-1, dfd2);
	ASSERT_EQ(0, read_stream(dfd, &st, &end));
	EXPECT_EQ(0, end) TH_LOG("STOP_COPY read(): %s", strerror(-end));
	close(dfd);
	TH_LOG("%zu bytes in PRE_COPY, %zu in STOP_COPY", pre, st.len - pre);
	ASSERT_EQ(0, set_state(fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	resume(_metadata, self, st.data, st.len, big_pieces, 1, &r);
	EXPECT_EQ(0, r.write_err);
	EXPECT_EQ(0, r.stop_err);
	stream_free(&st);
}

/*
 * vfio.h, RESUMING -> STOP: "If the user provided data is found to be
 * incomplete, inconsistent, or otherwise invalid, the migration driver
 * must fail the SET_STATE ioctl". No data at all is incomplete whatever
 * the format: STOP must fail.
 */
TEST_F_TIMEOUT(mig, empty_stream_refused, 300)
{
	struct resume_result r;

	resume(_metadata, self, NULL, 0, big_pieces, 1, &r);
	EXPECT_NE(0, r.stop_err) TH_LOG("RESUMING -> STOP with no data succeeded");
}

/*
 * As empty_stream_refused: half of a saved stream is incomplete; the
 * driver may refuse it at write() already or at RESUMING -> STOP.
 */
TEST_F_TIMEOUT(mig, half_stream_refused, 300)
{
	struct resume_result r;
	struct stream st;

	save(_metadata, self, &st);
	ASSERT_LT((size_t)1, st.len) TH_LOG("the saved stream has %zu bytes", st.len);
	resume(_metadata, self, st.data, st.len / 2, big_pieces, 1, &r);
	EXPECT_TRUE(refused(&r)) TH_LOG("half of a %zu-byte stream was loaded",
					st.len);
	stream_free(&st);
}

/*
 * A refused write() consumed nothing (write(2)), so the data delivered is
 * the prefix accepted before it: incomplete. vfio.h: "the migration driver
 * must fail the SET_STATE ioctl" on incomplete or invalid data, so after a
 * write() refusal RESUMING -> STOP cannot succeed (it would load a state
 * from a stream the driver itself refused). The stream: a saved one with
 * every byte inverted; not applicable if the driver took all of it.
 */
TEST_F_TIMEOUT(mig, refused_write_fails_resuming_to_stop, 300)
{
	struct resume_result r;
	struct stream st;
	size_t i;

	save(_metadata, self, &st);
	for (i = 0; i < st.len; i++)
		st.data[i] ^= 0xff;
	resume(_metadata, self, st.data, st.len, big_pieces, 1, &r);
	if (!r.write_err)
		SKIP(goto out, "write() took the whole inverted stream");
	EXPECT_NE(0, r.stop_err)
		TH_LOG("write() refused (%s) after %zu bytes, yet RESUMING -> STOP loaded it",
		       strerror(-r.write_err), r.written);
out:
	stream_free(&st);
}

/*
 * vfio.h, RESUMING -> STOP: "The kernel migration driver should complete
 * the incorporation of data [...] and perform final validity and
 * consistency checking of the new device state." How much checking a
 * stream format allows is the driver's ("should"), so a corrupted stream
 * accepted is a SKIP that says so, not a failure. Refusal at write() or
 * at STOP passes; either way the device must come back (resume()).
 */
static void corrupt_and_resume(struct __test_metadata *_metadata,
			       struct _test_data_mig *self, int how)
{
	struct resume_result r;
	struct stream st;
	size_t i, len;

	save(_metadata, self, &st);
	ASSERT_LT((size_t)1, st.len);
	len = st.len;
	if (how == 0)
		for (i = 0; i < st.len; i++)
			st.data[i] ^= 0xff;
	else if (how == 1)
		st.data[st.len / 2] ^= 0x01;
	else
		len = st.len - 1;
	resume(_metadata, self, st.data, len, big_pieces, 1, &r);
	stream_free(&st);
	if (!refused(&r))
		SKIP(return, "the driver loaded it (a \"should\" of vfio.h, not a must)");
}

TEST_F_TIMEOUT(mig, inverted_stream_refused, 300)
{
	corrupt_and_resume(_metadata, self, 0);
}

TEST_F_TIMEOUT(mig, stream_with_one_flipped_bit_refused, 300)
{
	corrupt_and_resume(_metadata, self, 1);
}

TEST_F_TIMEOUT(mig, stream_short_by_one_byte_refused, 300)
{
	corrupt_and_resume(_metadata, self, 2);
}

int main(int argc, char **argv)
{
	/* The device comes first; the rest is the harness's. */
	if (argc > 1 && argv[1][0] != '-') {
		target = argv[1];
		argv[1] = argv[0];
		argc--;
		argv++;
	} else {
		target = getenv("VFIO_MIG_DEVICE");
	}
	return test_harness_run(argc, argv);
}
