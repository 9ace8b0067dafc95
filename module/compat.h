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

#endif /* _KDISPOSE_COMPAT_H */
