// SPDX-License-Identifier: GPL-2.0
/*
 * KDISPOSE_TYPE_EVENT: a wait handle (.NET's EventWaitHandle).
 *
 * An event is signaled or not. KDISPOSE_OP_EVENT_SIGNAL sets it and wakes
 * the waiters, KDISPOSE_OP_EVENT_RESET clears it, KDISPOSE_OP_EVENT_WAIT
 * sleeps until it is set. A manual-reset event stays set until a reset, so
 * every waiter returns; an auto-reset event (KDISPOSE_EVENT_AUTO_RESET) is
 * cleared by the wait that sees it set, so one signal lets exactly one wait
 * return 0. Signals do not count: signaling a set event does nothing.
 * Every waiter is woken on a signal and each checks again, so with
 * auto-reset all but one go back to sleep (fine for the handful of waiters
 * an event has; an exclusive wait would need a timed exclusive wait_event
 * variant that the kernel does not have).
 *
 * Disposing the event (explicitly, or by the finalizer) marks it and wakes
 * every waiter, which returns EIDRM; a wait that starts on a disposed event
 * (a thread that looked the handle up just before the dispose) returns
 * EIDRM at once. A disposed event wins over a set one.
 *
 * A wait interrupted by a signal returns EINTR, as the UAPI says, and is
 * never restarted: -ERESTARTSYS would rerun the ioctl after a SA_RESTART
 * handler with the full timeout again, so a wait could last forever under a
 * stream of signals. Like epoll_wait(), a wait stopped by SIGSTOP and
 * continued returns EINTR too.
 *
 * There is no per-event poll/epoll readiness: readiness belongs to a file,
 * and the /dev/kdispose file owns many objects of every kind, so a POLLIN on
 * it could not say which event is set (see Documentation/adding-a-kind.md).
 *
 * Why no waiter can sleep on, or touch, a freed event, whatever the
 * interleaving of wait, dispose, close and exit:
 *
 * 1. The event (struct kdispose_event, obj->priv) is freed only by
 *    ->release, which runs once, when the object's last reference goes.
 * 2. A waiter runs inside KDISPOSE_IOC_OP, whose lookup took an object
 *    reference that the core drops only after ->op returns. From before the
 *    waiter queues itself until after it has left the wait queue, that
 *    reference keeps the count above zero, so 1. cannot happen meanwhile.
 * 3. Dispose, explicit or finalizer, frees nothing: it sets a bit and wakes
 *    the queue. The core puts the table's reference only after ->dispose
 *    returns (and a signal runs inside an op, with the op's reference), so
 *    the queue a waker walks is alive. Each wait entry lives on its
 *    waiter's stack and leaves the queue under the queue's lock, so the
 *    waker never touches a waiter that has returned.
 * 4. close() of the fd by another thread drops only a file-table reference:
 *    the ioctl holds the struct file (fdget) until it returns, so the
 *    finalizer cannot run under a waiter; if the last reference to the file
 *    went while no ioctl runs, there is no waiter.
 * 5. exit: a task cannot exit while it is inside the ioctl. The fatal
 *    signal wakes the interruptible sleep, the wait returns EINTR and the
 *    reference is dropped before exit_files() closes anything. A forked
 *    child waits with a reference of its own, as any other thread.
 */
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "internal.h"

#define KDISPOSE_EVENT_FLAGS	(KDISPOSE_EVENT_SIGNALED | \
				 KDISPOSE_EVENT_AUTO_RESET)

/* Bits of struct kdispose_event @bits. */
enum {
	KDISPOSE_EVENT_BIT_SIGNALED,
	KDISPOSE_EVENT_BIT_DISPOSED,
};

/**
 * struct kdispose_event - the per-object state of an event
 * @wq: the waiters. A waker changes @bits first, then wakes @wq; a waiter
 *	queues itself first, then reads @bits: the queue's lock orders the two.
 * @bits: KDISPOSE_EVENT_BIT_*, changed with atomic bitops only.
 * @flags: the creation flags (KDISPOSE_EVENT_*).
 */
struct kdispose_event {
	wait_queue_head_t wq;
	unsigned long bits;
	u64 flags;
};

static int kdispose_event_init(struct kdispose_object *obj,
			       const struct kdispose_create *args)
{
	u64 flags = args->args[0];
	struct kdispose_event *ev;

	if (flags & ~KDISPOSE_EVENT_FLAGS || args->args[1])
		return -EINVAL;

	ev = kzalloc(sizeof(*ev), GFP_KERNEL_ACCOUNT);
	if (!ev)
		return -ENOMEM;
	init_waitqueue_head(&ev->wq);
	ev->flags = flags;
	if (flags & KDISPOSE_EVENT_SIGNALED)
		set_bit(KDISPOSE_EVENT_BIT_SIGNALED, &ev->bits);
	/* The object owns the event until ->release. */
	obj->priv = ev;
	return 0;
}

/*
 * Same for both values of @disposing: mark and wake. On the finalizer path
 * no waiter can exist (see 4. above), but waking an empty queue is correct.
 */
static void kdispose_event_dispose(struct kdispose_object *obj,
				   bool disposing)
{
	struct kdispose_event *ev = obj->priv;

	set_bit(KDISPOSE_EVENT_BIT_DISPOSED, &ev->bits);
	wake_up_all(&ev->wq);
}

static void kdispose_event_release(struct kdispose_object *obj)
{
	kfree(obj->priv);
}

/*
 * The wait condition. True when the wait is over, with *@ret its result;
 * consumes the signal of an auto-reset event. Called by the wait_event
 * macro with the task state already set, so it must not sleep.
 */
static bool kdispose_event_done(struct kdispose_event *ev, long *ret)
{
	if (test_bit(KDISPOSE_EVENT_BIT_DISPOSED, &ev->bits)) {
		*ret = -EIDRM;
		return true;
	}
	if (ev->flags & KDISPOSE_EVENT_AUTO_RESET ?
	    test_and_clear_bit(KDISPOSE_EVENT_BIT_SIGNALED, &ev->bits) :
	    test_bit(KDISPOSE_EVENT_BIT_SIGNALED, &ev->bits)) {
		*ret = 0;
		return true;
	}
	return false;
}

/*
 * Waits at most @timeout_ns nanoseconds; U64_MAX, like any value beyond
 * KTIME_MAX (292 years), waits forever.
 */
static long kdispose_event_wait(struct kdispose_event *ev, u64 timeout_ns)
{
	ktime_t timeout = timeout_ns >= (u64)KTIME_MAX ? KTIME_MAX :
			  ns_to_ktime(timeout_ns);
	long ret = 0;
	long err;

	err = wait_event_interruptible_hrtimeout(ev->wq,
						 kdispose_event_done(ev, &ret),
						 timeout);
	if (err == -ETIME)
		return -ETIMEDOUT;
	if (err)
		return -EINTR;
	return ret;
}

static long kdispose_event_op(struct kdispose_object *obj,
			      struct kdispose_op *op)
{
	struct kdispose_event *ev = obj->priv;

	if (op->op != KDISPOSE_OP_EVENT_SIGNAL &&
	    op->op != KDISPOSE_OP_EVENT_RESET &&
	    op->op != KDISPOSE_OP_EVENT_WAIT)
		return -EOPNOTSUPP;
	if (op->args[1] || op->args[2] || op->args[3])
		return -EINVAL;
	if (op->op == KDISPOSE_OP_EVENT_WAIT)
		return kdispose_event_wait(ev, op->args[0]);
	if (op->args[0])
		return -EINVAL;

	if (op->op == KDISPOSE_OP_EVENT_SIGNAL) {
		set_bit(KDISPOSE_EVENT_BIT_SIGNALED, &ev->bits);
		wake_up_all(&ev->wq);
	} else {
		clear_bit(KDISPOSE_EVENT_BIT_SIGNALED, &ev->bits);
	}
	return 0;
}

static void kdispose_event_query(struct kdispose_object *obj,
				 struct kdispose_query *q)
{
	struct kdispose_event *ev = obj->priv;

	q->info[0] = ev->flags;
	if (test_bit(KDISPOSE_EVENT_BIT_SIGNALED, &ev->bits))
		q->state |= KDISPOSE_STATE_SIGNALED;
}

const struct kdispose_kind_ops kdispose_event_ops = {
	.init = kdispose_event_init,
	.dispose = kdispose_event_dispose,
	.release = kdispose_event_release,
	.op = kdispose_event_op,
	.query = kdispose_event_query,
};
