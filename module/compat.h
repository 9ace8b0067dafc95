/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels kdispose supports (Debian 12's 6.1
 * and Debian 13's 6.12) lives in this file and nowhere else.
 */
#ifndef _KDISPOSE_COMPAT_H
#define _KDISPOSE_COMPAT_H

#include <linux/version.h>

/*
 * io_uring commands: the header moved to linux/io_uring/cmd.h in 6.7, and
 * the payload is reached through the SQE with io_uring_sqe_cmd() from 6.4;
 * 6.1 points ioucmd->cmd at it.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

static inline const void *
kdispose_uring_cmd_payload(const struct io_uring_cmd *ioucmd)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	return io_uring_sqe_cmd(ioucmd->sqe);
#else
	return ioucmd->cmd;
#endif
}

/*
 * vm_flags_set() (6.3) replaced writing vma->vm_flags directly. Called from
 * ->mmap, with the mmap lock held for writing.
 */
#include <linux/mm.h>

static inline void kdispose_vm_flags_set(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * Files of anonymous inodes, for the pinned-file allowlist (type_file.c).
 * 6.1 and 6.12 give an anonymous inode outside anon_inodefs (a dma-buf's,
 * an aio ring's) no file type, so a test of S_IFMT never takes one for a
 * regular file. Later kernels mark them S_ANON_INODE, and for a while
 * gave them S_IFREG: where the flag exists, test it.
 */
#include <linux/fs.h>
#include <linux/magic.h>

static inline bool kdispose_inode_is_anon(const struct inode *inode)
{
#ifdef S_ANON_INODE
	return inode->i_flags & S_ANON_INODE;
#else
	return false;
#endif
}

/*
 * pidfs (6.9) made a pidfd a file of its own filesystem (S_IFREG in 6.12,
 * S_ANON_INODE later) instead of 6.1's anon-inode file "[pidfd]". Either
 * way it holds a struct pid and nothing else.
 */
static inline bool kdispose_sb_is_pidfs(const struct super_block *sb)
{
#ifdef PID_FS_MAGIC
	return sb->s_magic == PID_FS_MAGIC;
#else
	return false;
#endif
}

#endif /* _KDISPOSE_COMPAT_H */
