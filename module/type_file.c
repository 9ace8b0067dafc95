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
 * Files that can hold references to files of their own are refused
 * (ELOOP), so that no cycle of references can keep an owner alive and
 * never reach the release hook that finalizes it:
 * - a /dev/kdispose file: the object would keep its own owner, or another
 *   owner, alive;
 * - a unix socket, which holds the files in flight in it (SCM_RIGHTS): the
 *   unix garbage collector breaks cycles among sockets only, and would not
 *   see one that goes through a pinned file;
 * - an io_uring, which holds its registered files and those of requests in
 *   flight, with no garbage collector at all.
 * An epoll file holds no reference to what it watches, and the other files
 * pin nothing, so they may be pinned.
 */
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <net/sock.h>

#include "internal.h"

/* Whether @file may hold references to other files (see above). */
static bool kdispose_pinned_may_cycle(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	if (file->f_op == &kdispose_fops)
		return true;
	if (sock && sock->sk && sock->sk->sk_family == AF_UNIX)
		return true;
	/* io_uring exports no test of its own: its files are "[io_uring]". */
	return file_inode(file)->i_sb->s_magic == ANON_INODE_FS_MAGIC &&
	       !strcmp(file->f_path.dentry->d_name.name, "[io_uring]");
}

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
	if (kdispose_pinned_may_cycle(file)) {
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
