// SPDX-License-Identifier: GPL-2.0
/*
 * KDISPOSE_TYPE_FILE: a pinned reference to a struct file (.NET's
 * SafeFileHandle, or the source side of DuplicateHandle).
 *
 * Create takes a reference of its own to the file behind an fd of the
 * caller, so the file stays open after the caller closes that fd, until the
 * object is released. KDISPOSE_OP_FILE_INSTALL gives the caller a new fd
 * for it, O_CLOEXEC unless KDISPOSE_FILE_NO_CLOEXEC is given.
 *
 * A /dev/kdispose file cannot be pinned (ELOOP): the object would keep its
 * own owner, or another owner, alive, and a cycle of owners pinning each
 * other would never reach the release hook that finalizes them. Only that
 * direct cycle is refused: a pinned epoll, io_uring or unix socket file that
 * itself holds a /dev/kdispose file can still close a loop, as it can for
 * any other file that pins files.
 */
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>

#include "internal.h"

static int kdispose_pinned_init(struct kdispose_object *obj,
				const struct kdispose_create *args)
{
	s64 fd = (s64)args->args[0];
	struct file *file;

	if (args->args[1] || fd < INT_MIN || fd > INT_MAX)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;

	file = fget(fd);
	if (!file)
		return -EBADF;
	if (file->f_op == &kdispose_fops) {
		fput(file);
		return -ELOOP;
	}
	/* The object owns the reference fget() took, until ->release. */
	obj->priv = file;
	return 0;
}

static void kdispose_pinned_release(struct kdispose_object *obj)
{
	/* May be the last reference: the file's own release may then run. */
	fput(obj->priv);
}

static long kdispose_pinned_install(struct file *file, u64 flags)
{
	int fd;

	if (flags & ~KDISPOSE_FILE_NO_CLOEXEC)
		return -EINVAL;

	fd = get_unused_fd_flags(flags & KDISPOSE_FILE_NO_CLOEXEC ?
				 0 : O_CLOEXEC);
	if (fd < 0)
		return fd;
	/* The new fd owns this reference; nothing can fail after this. */
	fd_install(fd, get_file(file));
	return fd;
}

static long kdispose_pinned_op(struct kdispose_object *obj,
			       struct kdispose_op *op)
{
	if (op->op != KDISPOSE_OP_FILE_INSTALL)
		return -EOPNOTSUPP;
	if (op->args[1] || op->args[2] || op->args[3])
		return -EINVAL;
	return kdispose_pinned_install(obj->priv, op->args[0]);
}

static void kdispose_pinned_query(struct kdispose_object *obj,
				  struct kdispose_query *q)
{
	struct file *file = obj->priv;

	q->info[0] = file->f_flags;
}

const struct kdispose_type_ops kdispose_file_ops = {
	.name = "file",
	.init = kdispose_pinned_init,
	.release = kdispose_pinned_release,
	.op = kdispose_pinned_op,
	.query = kdispose_pinned_query,
};
