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
 * Only files that hold no references back are pinned; every other file is
 * refused with ELOOP. The rule: no cycle through a pinned file may outlive
 * its last process. A pinned file is held by its object, the object by its
 * owner (a /dev/kdispose file), and the owner by whatever holds that file:
 * the fds of a process, a MAP_SHARED mapping of one of its memory buffers
 * (the vma holds the file, the address space holds the vma), a unix socket
 * it is in flight in, an io_uring that registered it. A pinned file that
 * holds, directly or not, an address space (vhost-net after
 * VHOST_SET_OWNER keeps its owner's mm_users) or other files (a unix
 * socket, an io_uring, another /dev/kdispose file) closes the loop: once
 * the last process is gone, nothing outside the cycle holds it, the
 * release hook that finalizes the table never runs, and the objects, the
 * other side's resources (vhost's worker thread) and a reference to this
 * module (rmmod fails) stay until reboot. No collector sees such a cycle:
 * the unix one follows unix sockets only, io_uring has none, and an
 * address space goes only with its last user.
 *
 * An allowlist, because the files that hold an mm or other files are many
 * (vhost, KVM with its VFIO files, binder with the fds in its
 * transactions, GPU and accelerator drivers, ...) and a denylist misses
 * whatever it did not name, including every driver yet to come. The files
 * allowed hold no such reference:
 * - regular files, directories and FIFOs, by their inode's type: plain
 *   files, memfds, /proc files (which hold a pid, or an mm_struct without
 *   its address space), pipes (pages, never files), and on 6.12 pidfds,
 *   which are S_IFREG files of pidfs holding a struct pid. Anon-inode
 *   files have no type bits and fall out. A symlink opens only with
 *   O_PATH, which fget() refuses (EBADF) before this test;
 * - AF_INET, AF_INET6 and AF_NETLINK sockets: only AF_UNIX carries files
 *   (SCM_RIGHTS);
 * - anon-inode files by their name: eventfd (a counter), timerfd (a
 *   timer), signalfd (a signal mask), 6.1's pidfd (a struct pid) and epoll,
 *   which takes no reference on what it watches (the last fput of a
 *   watched file removes it from every epoll set);
 * - /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom.
 * Everything else gets ELOOP: unix sockets, io_uring, userfaultfd,
 * vhost, /dev/kvm and its VMs, dma-bufs, /dev/kdispose files and every
 * other character or block device or anon-inode file. What is left is
 * root's: a filesystem that holds files given to it at mount time (9p's
 * trans=fd, FUSE passthrough backing files) can make a regular file on it
 * hold anything, and mounting one needs CAP_SYS_ADMIN.
 */
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/magic.h>
#include <linux/major.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <net/sock.h>

#include "compat.h"
#include "internal.h"

/* Anon-inode files that may be pinned, by the name their creator gives. */
static const char *const kdispose_file_anon_names[] = {
	"[eventfd]", "[timerfd]", "[signalfd]", "[eventpoll]", "[pidfd]",
};

static bool kdispose_file_anon_allowed(const struct file *file)
{
	const char *name = file->f_path.dentry->d_name.name;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kdispose_file_anon_names); i++)
		if (!strcmp(name, kdispose_file_anon_names[i]))
			return true;
	return false;
}

static bool kdispose_file_sock_allowed(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	if (!sock || !sock->sk)
		return false;
	/* IPV6_ADDRFORM may turn AF_INET6 into AF_INET: both are allowed. */
	switch (sock->sk->sk_family) {
	case AF_INET:
	case AF_INET6:
	case AF_NETLINK:
		return true;
	}
	return false;
}

/* The minors of drivers/char/mem.c that hold nothing (see above). */
static bool kdispose_file_chr_allowed(const struct inode *inode)
{
	if (imajor(inode) != MEM_MAJOR)
		return false;
	switch (iminor(inode)) {
	case 3:		/* null */
	case 5:		/* zero */
	case 7:		/* full */
	case 8:		/* random */
	case 9:		/* urandom */
		return true;
	}
	return false;
}

/* Whether @file is on the allowlist of files that hold nothing back. */
static bool kdispose_file_allowed(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (inode->i_sb->s_magic == ANON_INODE_FS_MAGIC)
		return kdispose_file_anon_allowed(file);
	if (kdispose_sb_is_pidfs(inode->i_sb))
		return true;
	/* Other anonymous inodes (dma-buf, aio): S_IFREG on some kernels. */
	if (kdispose_inode_is_anon(inode))
		return false;

	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFIFO:
		return true;
	case S_IFSOCK:
		return kdispose_file_sock_allowed(file);
	case S_IFCHR:
		return kdispose_file_chr_allowed(inode);
	}
	return false;
}

static int kdispose_file_init(struct kdispose_object *obj,
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
	if (!kdispose_file_allowed(file)) {
		fput(file);
		return -ELOOP;
	}
	/* The object owns the reference fget() took, until ->release. */
	obj->priv = file;
	return 0;
}

static void kdispose_file_release(struct kdispose_object *obj)
{
	/* May be the last reference: the file's own release may then run. */
	fput(obj->priv);
}

static long kdispose_file_install(struct file *file, u64 flags)
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

static long kdispose_file_op(struct kdispose_object *obj,
			     struct kdispose_op *op)
{
	if (op->op != KDISPOSE_OP_FILE_INSTALL)
		return -EOPNOTSUPP;
	if (op->args[1] || op->args[2] || op->args[3])
		return -EINVAL;
	return kdispose_file_install(obj->priv, op->args[0]);
}

static void kdispose_file_query(struct kdispose_object *obj,
				struct kdispose_query *q)
{
	struct file *file = obj->priv;

	q->info[0] = file->f_flags;
}

const struct kdispose_kind_ops kdispose_file_ops = {
	.init = kdispose_file_init,
	.release = kdispose_file_release,
	.op = kdispose_file_op,
	.query = kdispose_file_query,
};
