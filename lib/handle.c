// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Safe handles: .NET's SafeHandle for a kernel handle.
 *
 * One 64-bit state word holds the reference count and two flags. The owner
 * holds one reference until it closes the handle; kd_handle_acquire() adds
 * one for the length of a use of the raw value. Whoever moves the count to
 * zero (the closer, or the last releaser after a close) releases the
 * kernel object, so that happens exactly once, and never while a use is in
 * progress:
 *
 *   acquire:  !CLOSED && count++          (else -EIDRM)
 *   close:    set CLOSED (once), count--  (the owner's reference)
 *   release:  count--
 *   count 0:  KDISPOSE_IOC_DISPOSE, or nothing if FINALIZE (the file close
 *             finalizes it), or the caller's batch/io_uring command (DEFER,
 *             only for the closer itself); then __kd_handle_finish().
 */
#include <errno.h>

#include "lib.h"

/*
 * Context: the safe handle is not shared yet. Takes a reference on the
 * file (dropped by __kd_handle_finish()) and owns @parent's acquisition.
 */
void __kd_handle_init(struct kd_handle *h, struct kd_ctx *ctx, uint64_t value,
		      struct kd_handle *parent)
{
	atomic_init(&h->state, 1);
	h->value = value;
	h->ctx = ctx;
	h->parent = parent;
	__kd_ctx_fd_get(ctx);
}

/* The kernel object is released: let go of the parent and of the file. */
void __kd_handle_finish(struct kd_handle *h)
{
	if (h->parent)
		kd_handle_release(h->parent);
	__kd_ctx_fd_put(h->ctx);
}

/* The count reached zero in state @s: release the kernel object. */
static int kd_handle_zero(struct kd_handle *h, uint64_t s)
{
	int ret = 0;

	if (!(s & KD_H_FINALIZE))
		ret = __kd_sys_dispose(h->ctx->fd, h->value);
	__kd_handle_finish(h);
	return ret;
}

/*
 * Closes @h for its owner; if that drops the last reference, releases the
 * kernel object as @mode says.
 * Return: 1 when this call closed @h (the kernel object is released, or
 * left to the last kd_handle_release(), or to the file close), 0 when it
 * was closed already, the kernel dispose's -errno (KD_MODE_SYNC), or
 * KD_CLOSE_PENDING when the caller is to dispose h->value itself and then
 * call __kd_handle_finish() (KD_MODE_DEFER).
 */
int __kd_handle_close(struct kd_handle *h, enum kd_mode mode)
{
	uint64_t s = atomic_load(&h->state);
	uint64_t n;
	int ret;

	do {
		if (s & KD_H_CLOSED)
			return 0;
		n = s | KD_H_CLOSED;
		if (mode == KD_MODE_FINALIZE)
			n |= KD_H_FINALIZE;
		n--;
	} while (!atomic_compare_exchange_weak(&h->state, &s, n));

	if (n & KD_H_COUNT)
		return 1;
	if (mode == KD_MODE_DEFER)
		return KD_CLOSE_PENDING;
	ret = kd_handle_zero(h, n);
	return ret < 0 ? ret : 1;
}

KD_EXPORT int kd_handle_acquire(struct kd_handle *h)
{
	uint64_t s;

	if (!h)
		return -EINVAL;
	s = atomic_load(&h->state);
	do {
		if (s & KD_H_CLOSED)
			return -EIDRM;
		if ((s & KD_H_COUNT) == KD_H_COUNT)
			return -EOVERFLOW;
	} while (!atomic_compare_exchange_weak(&h->state, &s, s + 1));
	return 0;
}

KD_EXPORT int kd_handle_release(struct kd_handle *h)
{
	uint64_t s, count;

	if (!h)
		return -EINVAL;
	s = atomic_load(&h->state);
	do {
		count = s & KD_H_COUNT;
		/* Only the owner's reference is left: nothing was acquired. */
		if (!count || (count == 1 && !(s & KD_H_CLOSED)))
			return -EINVAL;
	} while (!atomic_compare_exchange_weak(&h->state, &s, s - 1));

	return count == 1 ? kd_handle_zero(h, s - 1) : 0;
}

KD_EXPORT int kd_handle_close(struct kd_handle *h)
{
	if (!h)
		return -EINVAL;
	return __kd_handle_close(h, KD_MODE_SYNC);
}

KD_EXPORT bool kd_handle_is_invalid(const struct kd_handle *h)
{
	return !h || !h->value;
}

KD_EXPORT bool kd_handle_is_closed(const struct kd_handle *h)
{
	return !h ||
	       (atomic_load(&((struct kd_handle *)h)->state) & KD_H_CLOSED);
}

KD_EXPORT uint64_t kd_handle_value(const struct kd_handle *h)
{
	return h ? h->value : 0;
}
