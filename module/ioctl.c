// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls of /dev/kdispose, dispatched from a table indexed by command
 * number. Each handler copies its argument in with kdispose_copy_in(), so
 * a struct may grow: an older, shorter struct is zero-extended and a
 * newer, longer one is accepted when its extra bytes are zero.
 */
#include <linux/fs.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>

#include "internal.h"

/*
 * copy_struct_from_user(), with a fast path for the common case of a
 * caller built against these headers: a copy of constant size, which
 * skips the hardened-usercopy check of a variable-size copy.
 */
static __always_inline int kdispose_copy_in(void *dst, size_t ksize,
					    const void __user *src,
					    size_t usize)
{
	if (usize == ksize)
		return copy_from_user(dst, src, ksize) ? -EFAULT : 0;
	return copy_struct_from_user(dst, ksize, src, usize);
}

typedef long (*kdispose_ioctl_fn)(struct kdispose_ctx *ctx,
				  void __user *uarg, unsigned int usize);

static long kdispose_ioctl_version(struct kdispose_ctx *ctx,
				   void __user *uarg, unsigned int usize)
{
	return KDISPOSE_ABI_VERSION;
}

static long kdispose_ioctl_create(struct kdispose_ctx *ctx,
				  void __user *uarg, unsigned int usize)
{
	struct kdispose_create __user *ucreate = uarg;
	struct kdispose_create args;
	int err;

	err = kdispose_copy_in(&args, sizeof(args), uarg, usize);
	if (err)
		return err;
	return kdispose_object_create(ctx, &args, &ucreate->handle, NULL);
}

static long kdispose_ioctl_dispose(struct kdispose_ctx *ctx,
				   void __user *uarg, unsigned int usize)
{
	struct kdispose_dispose args;
	int err;

	err = kdispose_copy_in(&args, sizeof(args), uarg, usize);
	if (err)
		return err;
	if (args.flags || args.pad)
		return -EINVAL;
	return kdispose_object_dispose(ctx, args.handle, KDISPOSE_VIA_IOCTL);
}

static long kdispose_ioctl_query(struct kdispose_ctx *ctx,
				 void __user *uarg, unsigned int usize)
{
	struct kdispose_object *obj;
	struct kdispose_query q, reply = {};
	int err;

	err = kdispose_copy_in(&q, sizeof(q), uarg, usize);
	if (err)
		return err;
	if (q.flags)
		return -EINVAL;
	obj = kdispose_object_lookup(ctx, q.handle);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	reply.handle = q.handle;
	kdispose_object_query(obj, &reply);
	if (kdispose_ops(obj->kind)->query)
		kdispose_ops(obj->kind)->query(obj, &reply);
	kdispose_object_put(obj);
	if (copy_to_user(uarg, &reply, min_t(size_t, usize, sizeof(reply))))
		return -EFAULT;
	return 0;
}

static long kdispose_ioctl_op(struct kdispose_ctx *ctx,
			      void __user *uarg, unsigned int usize)
{
	const struct kdispose_kind_ops *ops;
	struct kdispose_object *obj;
	struct kdispose_op op;
	u64 in[ARRAY_SIZE(op.args)];
	long ret;
	int err;

	err = kdispose_copy_in(&op, sizeof(op), uarg, usize);
	if (err)
		return err;
	if (op.flags)
		return -EINVAL;
	obj = kdispose_object_lookup(ctx, op.handle);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	memcpy(in, op.args, sizeof(in));
	ops = kdispose_ops(obj->kind);
	if (op.op >> 8 != obj->kind || !ops->op)
		ret = -EOPNOTSUPP;
	else
		ret = ops->op(obj, &op);
	kdispose_object_put(obj);
	/*
	 * Copy back only results: an operation that succeeded and changed
	 * @op.args. One that returns a new fd changes nothing, so a faulting
	 * copy can never hide an fd that is already installed.
	 */
	if (ret >= 0 && memcmp(in, op.args, sizeof(in)) &&
	    copy_to_user(uarg, &op, min_t(size_t, usize, sizeof(op))))
		return -EFAULT;
	return ret;
}

/*
 * Disposes in chunks: copy in up to a chunk of handles, dispose each, copy
 * the chunk's results out. A fault stops the call with -EFAULT; the chunks
 * before it stay disposed, which a retry reports as 0 per handle.
 */
#define KDISPOSE_BATCH_CHUNK	64

static long kdispose_ioctl_dispose_batch(struct kdispose_ctx *ctx,
					 void __user *uarg,
					 unsigned int usize)
{
	struct kdispose_dispose_batch __user *ubatch = uarg;
	struct kdispose_dispose_batch args;
	/*
	 * One buffer for both, to keep the stack frame small: result i is
	 * stored over handle i / 2, which has been read by then.
	 */
	union {
		u64 handles[KDISPOSE_BATCH_CHUNK];
		s32 results[KDISPOSE_BATCH_CHUNK];
	} chunk;
	u64 __user *uhandles;
	s32 __user *uresults;
	u32 done, n, ndisposed = 0;
	int err;

	err = kdispose_copy_in(&args, sizeof(args), uarg, usize);
	if (err)
		return err;
	if (args.flags || args.pad || args.count > KDISPOSE_BATCH_MAX)
		return -EINVAL;
	uhandles = u64_to_user_ptr(args.handles);
	uresults = u64_to_user_ptr(args.results);

	for (done = 0; done < args.count; done += n) {
		n = min_t(u32, args.count - done, KDISPOSE_BATCH_CHUNK);
		if (copy_from_user(chunk.handles, uhandles + done,
				   n * sizeof(chunk.handles[0])))
			return -EFAULT;
		ndisposed += kdispose_object_dispose_many(ctx, chunk.handles,
							  chunk.results, n);
		if (copy_to_user(uresults + done, chunk.results,
				 n * sizeof(chunk.results[0])))
			return -EFAULT;
	}
	if (put_user(ndisposed, &ubatch->ndisposed))
		return -EFAULT;
	return 0;
}

static long kdispose_ioctl_export(struct kdispose_ctx *ctx,
				  void __user *uarg, unsigned int usize)
{
	struct kdispose_export args;
	int err;

	err = kdispose_copy_in(&args, sizeof(args), uarg, usize);
	if (err)
		return err;
	if (args.flags & ~KDISPOSE_EXPORT_NO_CLOEXEC || args.pad)
		return -EINVAL;
	return kdispose_share_export(ctx, args.handle, args.flags);
}

static long kdispose_ioctl_import(struct kdispose_ctx *ctx,
				  void __user *uarg, unsigned int usize)
{
	struct kdispose_import __user *uimport = uarg;
	struct kdispose_import args;
	int err;

	err = kdispose_copy_in(&args, sizeof(args), uarg, usize);
	if (err)
		return err;
	if (args.flags || args.pad)
		return -EINVAL;
	return kdispose_share_import(ctx, &args, &uimport->handle);
}

static long kdispose_ioctl_wait(struct kdispose_ctx *ctx,
				void __user *uarg, unsigned int usize)
{
	struct kdispose_wait __user *uwait = uarg;
	struct kdispose_wait args;
	u32 index = U32_MAX;
	long ret;
	int err;

	err = kdispose_copy_in(&args, sizeof(args), uarg, usize);
	if (err)
		return err;
	if (args.flags & ~KDISPOSE_WAIT_ALL || args.pad || !args.count ||
	    args.count > KDISPOSE_WAIT_MAX)
		return -EINVAL;
	ret = kdispose_event_wait_many(ctx, u64_to_user_ptr(args.handles),
				       args.count, args.flags & KDISPOSE_WAIT_ALL,
				       args.timeout_ns, &index);
	/* Which event ended a wait for any, or which handle failed. */
	if (index != U32_MAX && put_user(index, &uwait->index))
		return -EFAULT;
	return ret;
}

/**
 * struct kdispose_ioctl_desc - one entry of the ioctl table
 * @cmd: the command as ABI version 1 defined it: its direction bits, and
 *	its size, the smallest the handler accepts. A caller's struct may be
 *	larger, which the handler's kdispose_copy_in() deals with.
 * @fn: the handler, called with the caller's struct size.
 */
struct kdispose_ioctl_desc {
	unsigned int cmd;
	kdispose_ioctl_fn fn;
};

static const struct kdispose_ioctl_desc kdispose_ioctls[] = {
	[0x00] = { KDISPOSE_IOC_VERSION, kdispose_ioctl_version },
	[0x01] = { KDISPOSE_IOC_CREATE, kdispose_ioctl_create },
	[0x02] = { KDISPOSE_IOC_DISPOSE, kdispose_ioctl_dispose },
	[0x03] = { KDISPOSE_IOC_QUERY, kdispose_ioctl_query },
	[0x04] = { KDISPOSE_IOC_OP, kdispose_ioctl_op },
	[0x05] = { KDISPOSE_IOC_DISPOSE_BATCH, kdispose_ioctl_dispose_batch },
	[0x06] = { KDISPOSE_IOC_EXPORT, kdispose_ioctl_export },
	[0x07] = { KDISPOSE_IOC_IMPORT, kdispose_ioctl_import },
	[0x08] = { KDISPOSE_IOC_WAIT, kdispose_ioctl_wait },
};

/**
 * kdispose_ioctl - the unlocked_ioctl (and compat_ioctl) of /dev/kdispose
 * @file: the open file
 * @cmd: the command
 * @arg: its argument, a user pointer for every command but VERSION
 *
 * Context: process context.
 * Return: what the command returns, or -ENOTTY for an unknown command, or a
 * known one with the wrong direction bits or a struct smaller than ABI
 * version 1's.
 */
long kdispose_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const struct kdispose_ioctl_desc *desc;
	unsigned int nr = _IOC_NR(cmd);

	if (_IOC_TYPE(cmd) != KDISPOSE_IOC_MAGIC ||
	    nr >= ARRAY_SIZE(kdispose_ioctls))
		return -ENOTTY;
	desc = &kdispose_ioctls[array_index_nospec(nr,
						   ARRAY_SIZE(kdispose_ioctls))];
	if (!desc->fn || _IOC_NR(desc->cmd) != nr ||
	    _IOC_DIR(cmd) != _IOC_DIR(desc->cmd))
		return -ENOTTY;
	if (_IOC_SIZE(cmd) < _IOC_SIZE(desc->cmd) ||
	    (_IOC_DIR(cmd) == _IOC_NONE && _IOC_SIZE(cmd)))
		return -ENOTTY;
	return desc->fn(file->private_data, (void __user *)arg,
			_IOC_SIZE(cmd));
}
