// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Raw kernel handles: the ioctls on a context's file, without library
 * objects, for callers that manage handles themselves.
 */
#include <errno.h>

#include "lib.h"

_Static_assert(sizeof(int) == sizeof(__s32), "batch results are __s32");

KD_EXPORT int kd_raw_create(struct kd_ctx *ctx, uint32_t type, uint64_t parent,
			    uint64_t arg, const char *label, uint64_t *handle)
{
	struct kdispose_create c = {
		.type = type,
		.parent = parent,
		.args = { arg },
	};
	int ret;

	if (!ctx || !handle)
		return -EINVAL;
	if (label)
		memcpy(c.label, label, strnlen(label, KDISPOSE_LABEL_LEN - 1));
	ret = __kd_sys_create(ctx->fd, &c);
	if (ret < 0)
		return ret;
	*handle = c.handle;
	return 0;
}

KD_EXPORT int kd_raw_dispose(struct kd_ctx *ctx, uint64_t handle)
{
	if (!ctx)
		return -EINVAL;
	return __kd_sys_dispose(ctx->fd, handle);
}

KD_EXPORT int kd_raw_dispose_many(struct kd_ctx *ctx, const uint64_t *handles,
				  unsigned int n, int *results)
{
	struct kdispose_dispose_batch b = { 0 };
	unsigned int i, done, count = 0;
	int ret;

	if (!ctx || (n && (!handles || !results)) || n > INT32_MAX)
		return -EINVAL;
	if (!(atomic_load(&ctx->features) & KD_FEATURE_BATCH)) {
		for (i = 0; i < n; i++) {
			results[i] = __kd_sys_dispose(ctx->fd, handles[i]);
			count += results[i] == 1;
		}
		return count;
	}
	for (done = 0; done < n; done += b.count) {
		b.handles = (uintptr_t)(handles + done);
		b.results = (uintptr_t)(results + done);
		b.count = n - done < KDISPOSE_BATCH_MAX ? n - done :
							  KDISPOSE_BATCH_MAX;
		ret = __kd_sys_dispose_batch(ctx->fd, &b);
		if (ret < 0)
			return ret;
		count += b.ndisposed;
	}
	return count;
}

KD_EXPORT int kd_raw_query(struct kd_ctx *ctx, uint64_t handle,
			   struct kdispose_query *q)
{
	if (!ctx || !q)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->handle = handle;
	return __kd_sys_query(ctx->fd, q);
}

KD_EXPORT int kd_raw_op(struct kd_ctx *ctx, uint64_t handle, uint32_t op,
			uint64_t *args)
{
	struct kdispose_op o = { .handle = handle, .op = op };
	int ret;

	if (!ctx || !args)
		return -EINVAL;
	memcpy(o.args, args, sizeof(o.args));
	ret = __kd_sys_op(ctx->fd, &o);
	memcpy(args, o.args, sizeof(o.args));
	return ret;
}
