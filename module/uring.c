// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring commands on /dev/kdispose: an adapter from IORING_OP_URING_CMD
 * onto the same dispose the ioctl uses, so that many disposes can be queued
 * in one submit and completed as CQEs (.NET's DisposeAsync).
 */
#include <linux/fs.h>
#include <linux/string.h>

#include "compat.h"
#include "internal.h"

/**
 * kdispose_uring_cmd - the uring_cmd file operation of /dev/kdispose
 * @ioucmd: the command; its 16-byte payload lives in the submission queue
 *	entry, which user space may still be writing: it is copied once
 *	before it is looked at.
 * @issue_flags: IO_URING_F_* flags. With IO_URING_F_NONBLOCK a dispose that
 *	would have to wait for the file's lock, or that cascades to children,
 *	returns -EAGAIN and io_uring retries it from a worker.
 *
 * Context: process context (the submitting task or an io_uring worker).
 * The command completes here, through io_uring_cmd_done(), with the result
 * KDISPOSE_IOC_DISPOSE would return (1, 0 or a negative errno) or
 * -EOPNOTSUPP for an unknown command. Returning that result instead would
 * not do: the 6.1 io_uring takes a positive return from a worker for "not
 * completed" and fails the request of an inline one.
 *
 * Return: -EIOCBQUEUED (completed), or -EAGAIN to be retried without
 * IO_URING_F_NONBLOCK.
 */
int kdispose_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	struct kdispose_ctx *ctx = ioucmd->file->private_data;
	struct kdispose_dispose args;
	unsigned int via;
	int ret;

	switch (ioucmd->cmd_op) {
	case KDISPOSE_URING_CMD_DISPOSE:
		memcpy(&args, kdispose_uring_cmd_payload(ioucmd), sizeof(args));
		if (args.flags || args.pad) {
			ret = -EINVAL;
			break;
		}
		via = KDISPOSE_VIA_URING;
		if (issue_flags & IO_URING_F_NONBLOCK)
			via |= KDISPOSE_VIA_NONBLOCK;
		ret = kdispose_object_dispose(ctx, args.handle, via);
		if (ret == -EAGAIN)
			return ret;
		break;
	default:
		ret = -EOPNOTSUPP;
		break;
	}
	io_uring_cmd_done(ioucmd, ret, 0, issue_flags);
	return -EIOCBQUEUED;
}
