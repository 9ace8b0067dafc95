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
 *
 * Those internal transitions (__kd_handle_init(), __kd_handle_close(),
 * __kd_handle_finish()) are inline in lib.h: every dispose runs them.
 */
#include <errno.h>

#include "lib.h"

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

	return count == 1 ? __kd_handle_zero(h, s - 1) : 0;
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
