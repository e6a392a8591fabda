// SPDX-License-Identifier: GPL-2.0-only
/*
 * hold_save BDF BEFORE AFTER: a VMM slow to read its saving file. Opens
 * the function through VFIO, steps it RUNNING -> STOP -> STOP_COPY, reads
 * BEFORE bytes of the stream, prints "ready" and waits for a line on
 * stdin; then reads AFTER more bytes, says how that went, and exits, which
 * closes the data file and the device.
 *
 * The faults suite (suite-faults.sh) uses it to hold the device open while
 * an unbind waits for the close, holding the function's device lock, and
 * to fire a debugfs reset_at exactly then: bytes already staged in the
 * file's buffer are read without touching the function, so the second
 * read can cross reset_at while the unbind holds the lock. It also holds
 * a save open across an injected AER error, whose recovery must end the
 * migration: after the second read it prints "state NAME", the migration
 * state as GET_STATE reports it before the device is closed.
 *
 * Exit status: 0 when both reads got all their bytes, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/lib/vfio_open.h"
#include "../../tools/lib/vfio_mig.h"

/* Read exactly @n bytes (fewer at the end of the stream); 0 or -errno. */
static int read_n(int fd, char *buf, size_t n, size_t *got)
{
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = read(fd, buf + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ENOMSG ? 0 : -errno;
		if (!r)
			return 0;
		*got += r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[16 << 20];
	struct vfio_handle h;
	char err[256], line[16];
	size_t before, after, got1 = 0, got2 = 0;
	int fd = -1, ret, ret2;
	uint32_t state;

	if (argc != 4) {
		fprintf(stderr, "usage: hold_save BDF BEFORE AFTER\n");
		return 2;
	}
	before = strtoul(argv[2], NULL, 0);
	after = strtoul(argv[3], NULL, 0);
	if (before > sizeof(buf) || after > sizeof(buf)) {
		fprintf(stderr, "hold_save: at most %zu bytes a read\n",
			sizeof(buf));
		return 2;
	}
	if (vfio_open_device(argv[1], &h, err, sizeof(err))) {
		fprintf(stderr, "hold_save: %s\n", err);
		return 1;
	}
	ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_STOP, NULL);
	if (!ret)
		ret = vfmig_set_state(h.device, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (ret || fd < 0) {
		fprintf(stderr, "hold_save: %s: to STOP_COPY: %s\n", argv[1],
			strerror(ret ? -ret : EIO));
		vfio_close_device(&h);
		return 1;
	}
	ret = read_n(fd, buf, before, &got1);
	printf("ready after %zu bytes%s%s\n", got1, ret ? ": " : "",
	       ret ? strerror(-ret) : "");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		fprintf(stderr, "hold_save: stdin closed; reading anyway\n");
	if (!ret)
		ret = read_n(fd, buf, after, &got2);
	printf("read %zu more bytes%s%s\n", got2, ret ? ": " : "",
	       ret ? strerror(-ret) : "");
	ret2 = vfmig_get_state(h.device, &state);
	if (ret2)
		printf("state unknown: %s\n", strerror(-ret2));
	else
		printf("state %s\n", vfmig_state_name(state));
	fflush(stdout);
	close(fd);
	vfio_close_device(&h);
	return ret || got1 < before || got2 < after;
}
