// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev/kdispose calls that several rows make, each dying on an error:
 * a benchmark only reports numbers of calls that did what they should.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <unistd.h>

#include <drm/drm.h>
#include <linux/kdispose.h>

#include "bench.h"

/**
 * xioctl() - ioctl() that does not fail
 * @fd: the file
 * @cmd: the command
 * @arg: its argument
 * @what: the name the message gives the call when it fails
 *
 * Return: what ioctl() returned, never negative.
 */
long xioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	long ret = ioctl(fd, cmd, arg);

	if (ret < 0)
		die("%s: %s", what, strerror(errno));
	return ret;
}

/**
 * open_kdispose() - open /dev/kdispose: a new, empty handle table
 *
 * Return: the fd.
 */
int open_kdispose(void)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open %s: %s", DEV_PATH, strerror(errno));
	return fd;
}

/**
 * create_token() - create a token object
 * @fd: the kdispose file
 * @value: the token's value
 *
 * Return: its handle.
 */
uint64_t create_token(int fd, uint64_t value)
{
	struct kdispose_create c = {
		.type = KDISPOSE_TYPE_TOKEN,
		.args = { value },
	};

	xioctl(fd, KDISPOSE_IOC_CREATE, &c, "KDISPOSE_IOC_CREATE");
	return c.handle;
}

/**
 * create_tokens() - create tokens 0..@n - 1
 * @fd: the kdispose file
 * @handles: where their handles go, unless it is NULL
 * @n: how many
 */
void create_tokens(int fd, uint64_t *handles, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t h = create_token(fd, i);

		if (handles)
			handles[i] = h;
	}
}

/**
 * dispose_one() - dispose of a live object, which this call must dispose
 * @fd: the kdispose file
 * @handle: the object's handle
 */
void dispose_one(int fd, uint64_t handle)
{
	struct kdispose_dispose d = { .handle = handle };

	if (xioctl(fd, KDISPOSE_IOC_DISPOSE, &d, "KDISPOSE_IOC_DISPOSE") != 1)
		die("dispose of %#" PRIx64 " did not dispose it", handle);
}

/**
 * open_vgem() - open vgem's card node (rows 3 and 10)
 * @why: where the reason goes when it cannot be opened
 * @len: the size of @why
 *
 * Return: the fd, or -1 with the reason in @why (vgem.ko not loaded, or
 * the card is another driver's).
 */
int open_vgem(char *why, size_t len)
{
	char name[16] = "";
	struct drm_version v = {
		.name = name,
		.name_len = sizeof(name) - 1,
	};
	int fd;

	fd = open(DRM_CARD, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "%s: %s (vgem.ko not loaded?)", DRM_CARD,
			 strerror(errno));
		return -1;
	}
	if (ioctl(fd, DRM_IOCTL_VERSION, &v) < 0 || strcmp(name, "vgem")) {
		snprintf(why, len, "%s is not vgem (driver \"%s\")", DRM_CARD,
			 name);
		close(fd);
		return -1;
	}
	return fd;
}
