// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ioctls of /dev/kdispose, each returning its result or -errno (errno
 * is read right after the call and never used as a result channel).
 * CREATE and DISPOSE, which every object makes, are inline in lib.h.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "lib.h"

static int kd_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

int __kd_sys_version(int fd)
{
	return kd_ioctl(fd, KDISPOSE_IOC_VERSION, NULL);
}

int __kd_sys_dispose_batch(int fd, struct kdispose_dispose_batch *b)
{
	return kd_ioctl(fd, KDISPOSE_IOC_DISPOSE_BATCH, b);
}

int __kd_sys_query(int fd, struct kdispose_query *q)
{
	return kd_ioctl(fd, KDISPOSE_IOC_QUERY, q);
}

int __kd_sys_op(int fd, struct kdispose_op *op)
{
	return kd_ioctl(fd, KDISPOSE_IOC_OP, op);
}

int __kd_sys_export(int fd, struct kdispose_export *e)
{
	return kd_ioctl(fd, KDISPOSE_IOC_EXPORT, e);
}

int __kd_sys_import(int fd, struct kdispose_import *i)
{
	return kd_ioctl(fd, KDISPOSE_IOC_IMPORT, i);
}

int __kd_sys_wait(int fd, struct kdispose_wait *w)
{
	return kd_ioctl(fd, KDISPOSE_IOC_WAIT, w);
}
