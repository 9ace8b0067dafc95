// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Contexts: one open /dev/kdispose each, with its finalizer list.
 *
 * A context has two lifetimes. Its memory lives while the caller or any
 * object references it (@refs). Its file lives while the caller has not
 * closed it or any safe handle still has a kernel object to release
 * (@fd_users): a dispose deferred by an acquired handle must reach the same
 * file, never a reused fd number.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"

#define KD_DEVICE "/dev/kdispose"

/* kd_lock() found @l locked: mark it waited for, and sleep until it is not. */
void __kd_lock_wait(struct kd_lock *l)
{
	while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire))
		syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL,
			0);
}

/*
 * kd_unlock() found @l waited for: unlock it and wake one waiter, which
 * marks it waited for again (it cannot tell whether others wait).
 */
void __kd_lock_wake(struct kd_lock *l)
{
	atomic_store_explicit(&l->state, 0, memory_order_release);
	syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The last reference is gone (__kd_ctx_put()): no object is left. */
void __kd_ctx_free(struct kd_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < KD_CTX_SPARE; i++)
		free(atomic_load(&ctx->spare[i]));
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

KD_EXPORT struct kd_ctx *kd_ctx_open(unsigned int flags, int *err)
{
	struct kdispose_dispose_batch probe = { 0 };
	struct kd_ctx *ctx;
	int ret;

	if (flags & ~KD_CTX_NO_URING) {
		static const struct kd_site site = { .fn = "kd_ctx_open" };

		__kd_check_failed(&site, -EINVAL, "unknown flags %#x",
				  flags & ~KD_CTX_NO_URING);
		ret = -EINVAL;
		goto err;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		ret = -ENOMEM;
		goto err;
	}
	ctx->fd = open(KD_DEVICE, O_RDWR | O_CLOEXEC);
	if (ctx->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = __kd_sys_version(ctx->fd);
	if (ret < 0)
		goto err_close;
	if (ret != KDISPOSE_ABI_VERSION) {
		ret = -EPROTONOSUPPORT;
		goto err_close;
	}
	/* An empty batch tells whether the kernel has the batch ioctl. */
	if (!__kd_sys_dispose_batch(ctx->fd, &probe))
		ctx->features = KD_FEATURE_BATCH;
	ret = pthread_mutex_init(&ctx->lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_close;
	}
	kd_list_init(&ctx->objects);
	ctx->flags = flags;
	ctx->refs = 1;
	ctx->fd_users = 1;
	return ctx;

err_close:
	close(ctx->fd);
err_free:
	free(ctx);
err:
	if (err)
		*err = ret;
	return NULL;
}

KD_EXPORT int kd_ctx_close(struct kd_ctx *ctx)
{
	int n;

	if (!ctx)
		return -EINVAL;
	n = __kd_ctx_finalize(ctx);
	__kd_ctx_fd_put(ctx);
	__kd_ctx_put(ctx);
	return n;
}

KD_EXPORT int kd_ctx_fd(const struct kd_ctx *ctx)
{
	return ctx ? ctx->fd : -EINVAL;
}

/*
 * The io_uring probe runs once per context, under ctx->lock: creators and
 * disposers wait for it (one command on a private ring) the first time.
 */
int __kd_ctx_features(struct kd_ctx *ctx)
{
	int ret = 0;

	if (atomic_load(&ctx->features_probed))
		return atomic_load(&ctx->features);
	pthread_mutex_lock(&ctx->lock);
	if (!atomic_load(&ctx->features_probed)) {
		ret = __kd_uring_probe(ctx);
		if (ret >= 0) {
			atomic_fetch_or(&ctx->features, ret);
			atomic_store(&ctx->features_probed, true);
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	return ret < 0 ? ret : atomic_load(&ctx->features);
}

KD_EXPORT int kd_ctx_features(struct kd_ctx *ctx)
{
	if (!ctx)
		return -EINVAL;
	return __kd_ctx_features(ctx);
}
