// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DisposeAsync on io_uring: the only file of the library that uses
 * liburing. It fills SQEs by hand, so that it builds with liburing 2.3,
 * which has no io_uring_prep_uring_cmd(), and with later versions.
 *
 * Only the kernel object's dispose is asynchronous. The class chain runs
 * in the call that prepares the SQE: it must end before the kernel object
 * goes, and the SQE is what disposes it.
 *
 * kd_prep_dispose() fills an SQE of the caller's and nothing else, as
 * liburing's io_uring_prep_*() do: IORING_OP_URING_CMD when the kernel
 * object is to be disposed (KD_DISPOSE_QUEUED), or IORING_OP_NOP when the
 * result is known at once (it returns it), so that one CQE follows either
 * way and the caller's flags and link chains work. No ring is needed: a
 * NOP exists in every kernel with io_uring.
 *
 * Every successful kd_dispose_async() takes one SQE and yields one CQE with
 * the caller's user_data:
 * - IORING_OP_URING_CMD / KDISPOSE_URING_CMD_DISPOSE when the kernel object
 *   is to be disposed and the kernel has the command: res is the kernel's;
 * - otherwise IORING_OP_MSG_RING to the ring itself, after a synchronous
 *   dispose, carrying its result in res (the SQE's own CQE is skipped on
 *   success with IOSQE_CQE_SKIP_SUCCESS). That is also the fallback when
 *   the kernel lacks the command, which __kd_uring_probe() detects once per
 *   context on a private ring, and which KD_CTX_NO_URING forces.
 */
#include <errno.h>
#include <liburing.h>

#include "lib.h"

_Static_assert(sizeof(struct kdispose_dispose) == 16,
	       "the payload fits in a 64-byte SQE");

/* The kernel's DISPOSE command of @handle on the device @fd. */
static void kd_sqe_uring_dispose(struct io_uring_sqe *sqe, int fd,
				 uint64_t handle)
{
	struct kdispose_dispose d = { .handle = handle };

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = KDISPOSE_URING_CMD_DISPOSE;
	sqe->__pad1 = 0;
	memcpy(sqe->cmd, &d, sizeof(d));
}

/* Posts a CQE of @res and @user_data on @ring itself. */
static void kd_prep_result(struct io_uring *ring, struct io_uring_sqe *sqe,
			   int res, uint64_t user_data)
{
	io_uring_prep_msg_ring(sqe, ring->ring_fd, (unsigned int)res, user_data,
			       0);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = user_data;
}

/*
 * Return: KD_FEATURE_URING and KD_FEATURE_MSG_RING as the kernel has them,
 * or 0 if no ring can be set up here.
 */
int __kd_uring_probe(struct kd_ctx *ctx)
{
	struct io_uring_probe *probe;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	bool uring_cmd = false;
	int features = 0;

	if (io_uring_queue_init(2, &ring, 0))
		return 0;
	probe = io_uring_get_probe_ring(&ring);
	if (probe) {
		if (io_uring_opcode_supported(probe, IORING_OP_MSG_RING))
			features |= KD_FEATURE_MSG_RING;
		uring_cmd =
			io_uring_opcode_supported(probe, IORING_OP_URING_CMD);
		io_uring_free_probe(probe);
	}
	/*
	 * Handle 0 is never issued: a kernel with the command answers
	 * -ENOENT; one without it -EOPNOTSUPP (no uring_cmd in the driver)
	 * or -EINVAL (unknown opcode).
	 */
	if (uring_cmd && !(ctx->flags & KD_CTX_NO_URING)) {
		sqe = io_uring_get_sqe(&ring);
		kd_sqe_uring_dispose(sqe, ctx->fd, 0);
		sqe->user_data = 0;
		if (io_uring_submit_and_wait(&ring, 1) == 1 &&
		    !io_uring_peek_cqe(&ring, &cqe)) {
			if (cqe->res == -ENOENT)
				features |= KD_FEATURE_URING;
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	io_uring_queue_exit(&ring);
	return features;
}

/* Return: whether to use the io_uring command, or -errno. */
static int kd_async_check(struct io_uring *ring, struct kd_ctx *ctx)
{
	int features;

	if (ring->flags & IORING_SETUP_IOPOLL)
		return -EINVAL;
	features = __kd_ctx_features(ctx);
	if (features < 0)
		return features;
	if (!(features & KD_FEATURE_MSG_RING))
		return -EOPNOTSUPP;
	return !!(features & KD_FEATURE_URING);
}

KD_EXPORT int kd_dispose_async(struct io_uring *ring, struct kd_obj *obj,
			       uint64_t user_data)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);
	struct io_uring_sqe *sqe;
	bool pending = false;
	int use_cmd, ret;

	if (!ring || !p)
		return -EINVAL;
	use_cmd = kd_async_check(ring, p->ctx);
	if (use_cmd < 0)
		return use_cmd;
	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return -EBUSY;

	ret = __kd_obj_dispose(p, use_cmd ? &pending : NULL);
	if (pending) {
		kd_sqe_uring_dispose(sqe, p->ctx->fd, p->handle.value);
		sqe->user_data = user_data;
		/*
		 * The command holds the fd number only: the caller submits it
		 * before kd_ctx_close() (see kdispose.h).
		 */
		__kd_handle_finish(&p->handle);
	} else {
		kd_prep_result(ring, sqe, ret, user_data);
	}
	return 0;
}

KD_EXPORT int kd_raw_dispose_async(struct io_uring *ring, struct kd_ctx *ctx,
				   uint64_t handle, uint64_t user_data)
{
	struct io_uring_sqe *sqe;
	int use_cmd;

	if (!ring || !ctx)
		return -EINVAL;
	use_cmd = kd_async_check(ring, ctx);
	if (use_cmd < 0)
		return use_cmd;
	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return -EBUSY;
	if (use_cmd) {
		kd_sqe_uring_dispose(sqe, ctx->fd, handle);
		sqe->user_data = user_data;
	} else {
		kd_prep_result(ring, sqe, __kd_sys_dispose(ctx->fd, handle),
			       user_data);
	}
	return 0;
}

/*
 * Whether @ctx disposes through the io_uring command: a failed probe is
 * the same as no command, since the ioctl and a NOP need no ring.
 */
static bool kd_prep_uses_cmd(struct kd_ctx *ctx)
{
	int features = __kd_ctx_features(ctx);

	return features > 0 && (features & KD_FEATURE_URING);
}

KD_EXPORT int kd_prep_dispose(struct io_uring_sqe *sqe, struct kd_obj *obj)
{
	static const struct kd_site site = { .fn = "kd_prep_dispose" };
	struct kd_obj_priv *p = __kd_obj_priv(obj);
	bool pending = false;
	int ret;

	if (!sqe) {
		__kd_check_failed(&site, -EINVAL, "the SQE is NULL");
		return -EINVAL;
	}
	if (!p) {
		__kd_check_failed(&site, -EINVAL,
				  "%p is not a libkdispose object",
				  (void *)obj);
		io_uring_prep_nop(sqe);
		return -EINVAL;
	}
	ret = __kd_obj_dispose(p, kd_prep_uses_cmd(p->ctx) ? &pending : NULL);
	if (!pending) {
		io_uring_prep_nop(sqe);
		return ret;
	}
	kd_sqe_uring_dispose(sqe, p->ctx->fd, p->handle.value);
	/*
	 * The command holds the fd number only: the caller submits it before
	 * kd_ctx_close() (see kdispose.h).
	 */
	__kd_handle_finish(&p->handle);
	return KD_DISPOSE_QUEUED;
}

KD_EXPORT int kd_prep_raw_dispose(struct io_uring_sqe *sqe, struct kd_ctx *ctx,
				  uint64_t handle)
{
	static const struct kd_site site = { .fn = "kd_prep_raw_dispose" };

	if (!sqe || !ctx) {
		__kd_check_failed(&site, -EINVAL, "the %s is NULL",
				  sqe ? "context" : "SQE");
		if (sqe)
			io_uring_prep_nop(sqe);
		return -EINVAL;
	}
	if (!kd_prep_uses_cmd(ctx)) {
		io_uring_prep_nop(sqe);
		return __kd_sys_dispose(ctx->fd, handle);
	}
	kd_sqe_uring_dispose(sqe, ctx->fd, handle);
	return KD_DISPOSE_QUEUED;
}

KD_EXPORT int kd_dispose_async_result(const struct io_uring_cqe *cqe)
{
	return cqe ? cqe->res : -EINVAL;
}
