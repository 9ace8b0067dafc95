// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * DisposeAsync on io_uring: the only file of the library that uses
 * liburing. It fills SQEs by hand, so that it builds with liburing 2.3,
 * which has no io_uring_prep_uring_cmd(), and with later versions.
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

static void kd_prep_dispose(struct io_uring_sqe *sqe, int fd, uint64_t handle,
			    uint64_t user_data)
{
	struct kdispose_dispose d = { .handle = handle };

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = KDISPOSE_URING_CMD_DISPOSE;
	sqe->__pad1 = 0;
	memcpy(sqe->cmd, &d, sizeof(d));
	sqe->user_data = user_data;
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
		kd_prep_dispose(sqe, ctx->fd, 0, 0);
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
		kd_prep_dispose(sqe, p->ctx->fd, p->handle.value, user_data);
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
	if (use_cmd)
		kd_prep_dispose(sqe, ctx->fd, handle, user_data);
	else
		kd_prep_result(ring, sqe, __kd_sys_dispose(ctx->fd, handle),
			       user_data);
	return 0;
}

KD_EXPORT int kd_dispose_async_result(const struct io_uring_cqe *cqe)
{
	return cqe ? cqe->res : -EINVAL;
}
