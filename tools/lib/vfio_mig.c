// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO migration (uAPI v2) helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "vfio_mig.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

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

#define NUM_STATES	ARRAY_SIZE(state_names)

const char *vfmig_state_name(uint32_t state)
{
	return state < NUM_STATES ? state_names[state] : "?";
}

int vfmig_state_parse(const char *name)
{
	size_t i;

	for (i = 0; i < NUM_STATES; i++)
		if (!strcasecmp(name, state_names[i]))
			return i;
	return -1;
}

char *vfmig_flags_str(uint64_t flags, char *buf, size_t len)
{
	static const struct {
		uint64_t flag;
		const char *name;
	} names[] = {
		{ VFIO_MIGRATION_STOP_COPY, "STOP_COPY" },
		{ VFIO_MIGRATION_P2P, "P2P" },
		{ VFIO_MIGRATION_PRE_COPY, "PRE_COPY" },
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(flags & names[i].flag))
			continue;
		flags &= ~names[i].flag;
		n += snprintf(buf + n, n < len ? len - n : 0, "%s%s",
			      n ? "|" : "", names[i].name);
	}
	if (flags)
		n += snprintf(buf + n, n < len ? len - n : 0, "%s%#llx",
			      n ? "|" : "", (unsigned long long)flags);
	if (!n)
		snprintf(buf, len, "none");
	return buf;
}

/*
 * One VFIO_DEVICE_FEATURE call: the header followed by @size bytes of
 * feature data, copied in from and out to @data.
 */
int vfmig_feature(int dev, uint32_t flags, void *data, size_t size)
{
	union {
		struct vfio_device_feature f;
		uint64_t align;
		unsigned char raw[sizeof(struct vfio_device_feature) + 64];
	} u;
	int ret;

	if (size > sizeof(u.raw) - sizeof(u.f))
		return -E2BIG;
	memset(&u, 0, sizeof(u));
	u.f.argsz = sizeof(u.f) + size;
	u.f.flags = flags;
	if (size)
		memcpy(u.f.data, data, size);
	ret = ioctl(dev, VFIO_DEVICE_FEATURE, &u.f) ? -errno : 0;
	if (!ret && size)
		memcpy(data, u.f.data, size);
	return ret;
}

int vfmig_mig_flags(int dev, uint64_t *flags)
{
	struct vfio_device_feature_migration m = { 0 };
	int ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_MIGRATION, &m, sizeof(m));

	*flags = ret ? 0 : m.flags;
	return ret;
}

int vfmig_get_state(int dev, uint32_t *state)
{
	struct vfio_device_feature_mig_state s = { .data_fd = -1 };
	int ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s));

	*state = ret ? VFIO_DEVICE_STATE_ERROR : s.device_state;
	return ret;
}

int vfmig_set_state(int dev, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state s = {
		.device_state = state,
		.data_fd = -1,
	};
	int ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s));

	if (ret)
		s.data_fd = -1;
	if (data_fd)
		*data_fd = s.data_fd;
	else if (s.data_fd >= 0)
		close(s.data_fd);
	return ret;
}

int vfmig_data_size(int dev, uint64_t *size)
{
	struct vfio_device_feature_mig_data_size d = { 0 };
	int ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &d, sizeof(d));

	*size = ret ? 0 : d.stop_copy_length;
	return ret;
}

int vfmig_precopy_info(int fd, uint64_t *initial, uint64_t *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };

	if (ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info))
		return -errno;
	*initial = info.initial_bytes;
	*dirty = info.dirty_bytes;
	return 0;
}

void vfmig_buf_free(struct vfmig_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

static int buf_reserve(struct vfmig_buf *b, size_t room)
{
	size_t cap = b->cap ? b->cap : 1 << 20;
	unsigned char *p;

	while (cap - b->len < room)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int vfmig_read_data(int fd, struct vfmig_buf *b, bool *eof)
{
	/* More than one record (32-byte header + 1 MiB payload) a call. */
	const size_t chunk = 2 << 20;
	ssize_t n;
	int ret;

	*eof = false;
	for (;;) {
		ret = buf_reserve(b, chunk);
		if (ret)
			return ret;
		n = read(fd, b->data + b->len, chunk);
		if (n > 0) {
			b->len += n;
			continue;
		}
		if (!n) {
			*eof = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		return errno == ENOMSG ? 0 : -errno;
	}
}

int vfmig_save(int dev, struct vfmig_buf *b)
{
	bool eof = false;
	int fd = -1, ret;

	ret = vfmig_set_state(dev, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (!ret)
		ret = vfmig_read_data(fd, b, &eof);
	if (fd >= 0)
		close(fd);
	if (!ret)
		ret = vfmig_set_state(dev, VFIO_DEVICE_STATE_RUNNING, NULL);
	return ret ? ret : eof ? 0 : -EIO;
}

int vfmig_write_data(int fd, const void *buf, size_t len, size_t chunk,
		     size_t *done)
{
	const unsigned char *p = buf;
	size_t pos = 0, n;
	ssize_t w;
	int ret = 0;

	while (pos < len) {
		n = len - pos < chunk ? len - pos : chunk;
		w = write(fd, p + pos, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			break;
		}
		if (!w) {
			ret = -EIO;	/* a data file must take or refuse */
			break;
		}
		pos += w;
	}
	if (done)
		*done = pos;
	return ret;
}

FILE *vfmig_status_open(const char *bdf)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/vfio/%s/migration/vfmig/status", bdf);
	f = fopen(path, "r");
	if (f)
		return f;
	snprintf(path, sizeof(path), "/sys/kernel/debug/vfmig/%s/status", bdf);
	return fopen(path, "r");
}
