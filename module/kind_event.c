// SPDX-License-Identifier: GPL-2.0
/*
 * KDISPOSE_TYPE_EVENT: a wait handle (.NET's EventWaitHandle), and the
 * waits on it: on one event (KDISPOSE_OP_EVENT_WAIT), on many
 * (KDISPOSE_IOC_WAIT, WaitForMultipleObjects), and through the poll and
 * read of its export fds.
 *
 * An event is signaled or not. KDISPOSE_OP_EVENT_SIGNAL sets it and wakes
 * the waiters, KDISPOSE_OP_EVENT_RESET clears it. A manual-reset event
 * stays set until a reset, so every waiter returns; an auto-reset event
 * (KDISPOSE_EVENT_AUTO_RESET) is cleared by the wait that takes it, so one
 * signal lets exactly one wait return. Signals do not count: signaling a
 * set event does nothing. Every waiter is woken on a signal and each
 * checks again, so with auto-reset all but one go back to sleep.
 *
 * Disposing a handle (explicitly, or by the finalizer) wakes every waiter;
 * the ones that wait through that handle return EIDRM, whether or not the
 * event lives on through other names (Documentation/sharing.md), and a
 * wait that starts on a disposed handle returns EIDRM at once. A disposed
 * handle wins over a set event.
 *
 * A wait interrupted by a signal returns EINTR, as the UAPI says, and is
 * never restarted: -ERESTARTSYS would rerun the ioctl after a SA_RESTART
 * handler with the full timeout again, so a wait could last forever under a
 * stream of signals. Like epoll_wait(), a wait stopped by SIGSTOP and
 * continued returns EINTR too. A read() of an export fd, which has no
 * timeout, restarts like any read.
 *
 * Locking: @signaled, @claimed and @skipped of an event are protected by
 * the lock of its wait queue, which a waker holds while it wakes. A wait
 * for any takes the events' locks one at a time. A wait for all must see
 * and consume every signal at once, and holding up to 64 locks together is
 * what lockdep and the other waiters would pay for; instead it claims the
 * events one by one, in address order, under kdispose_wait_all_lock, a
 * module-wide spinlock that only waits for all take (nothing on the signal
 * path or on a wait for any). A claimed event counts as not signaled for
 * everyone else: whoever sees the claim notes it in @skipped, and the wait
 * for all wakes the event's queue when it gives its claims back, whether it
 * took the signals or gave up because one event was not set.
 *
 * Why no waiter can sleep on, or touch, a freed event, whatever the
 * interleaving of wait, dispose, close and exit:
 *
 * 1. The event is freed only by ->share_free, when the last handle object
 *    naming it is released and the last export file is gone (share.c).
 * 2. A waiter through a handle runs inside an ioctl whose lookup took an
 *    object reference, dropped only after the wait returns: the object,
 *    and through it the event, stay. A reader or poller of an export fd
 *    holds the file, and the file a reference to the event; an epoll
 *    entry is taken off the queue by the file's last fput (eventpoll_release)
 *    before the file's ->release runs.
 * 3. Dispose frees nothing: it wakes the queue. The core puts the table's
 *    reference only after ->dispose returns, so the queue a waker walks is
 *    alive. Each wait entry lives with its waiter and leaves the queue
 *    under the queue's lock before the wait returns.
 * 4. close() of the fd by another thread drops only a file-table
 *    reference: the ioctl holds the struct file (fdget) until it returns,
 *    so the finalizer cannot run under a waiter of that file.
 * 5. exit: a task cannot exit while it is inside the ioctl. The fatal
 *    signal wakes the interruptible sleep, the wait returns EINTR and the
 *    reference is dropped before exit_files() closes anything.
 */
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "internal.h"

#define KDISPOSE_EVENT_FLAGS	(KDISPOSE_EVENT_SIGNALED | \
				 KDISPOSE_EVENT_AUTO_RESET)

/* Taken only by waits for all: see the top of the file. */
static DEFINE_SPINLOCK(kdispose_wait_all_lock);

/**
 * struct kdispose_event - the state of an event, shared by its names
 * @sh: the names and references (share.c).
 * @wq: the waiters: waits through handles, readers and pollers of export
 *	fds. Its lock protects the three fields below.
 * @flags: the creation flags (KDISPOSE_EVENT_*).
 * @signaled: set by a signal, cleared by a reset or by the wait that takes
 *	the signal of an auto-reset event.
 * @claimed: a wait for all holds the event for an instant (see the top).
 * @skipped: a waiter found the event claimed: the wait for all wakes the
 *	queue when it gives the claim back.
 */
struct kdispose_event {
	struct kdispose_shared sh;
	wait_queue_head_t wq;
	u64 flags;
	bool signaled;
	bool claimed;
	bool skipped;
};

/**
 * struct kdispose_waiter - one event of a wait
 * @obj: the handle waited through, with a reference; NULL for the read of
 *	an export fd.
 * @ev: its event.
 * @wqe: the entry on @ev's queue.
 * @index: the event's index in the caller's array.
 * @eof: the read of an export fd, which ends (-EPIPE) once no table holds
 *	a handle of the event and it is not signaled: nobody can signal it,
 *	as nobody can write to a FIFO without writers.
 */
struct kdispose_waiter {
	struct kdispose_object *obj;
	struct kdispose_event *ev;
	struct wait_queue_entry wqe;
	u32 index;
	bool eof;
};

static struct kdispose_event *kdispose_event(struct kdispose_object *obj)
{
	return container_of((struct kdispose_shared *)obj->priv,
			    struct kdispose_event, sh);
}

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
	ev->signaled = flags & KDISPOSE_EVENT_SIGNALED;
	/* The names own the event until ->share_free. */
	kdispose_share_init(obj, &ev->sh);
	return 0;
}

/*
 * The handle's name goes, then its waiters are woken to see that (and an
 * export fd's pollers to see EPOLLHUP if it was the last handle). On the
 * finalizer path no waiter through this handle can exist (4. above).
 */
static void kdispose_event_dispose(struct kdispose_object *obj,
				   bool disposing)
{
	struct kdispose_event *ev = kdispose_event(obj);

	kdispose_share_dispose(obj, disposing);
	wake_up_all(&ev->wq);
}

static void kdispose_event_share_free(struct kdispose_shared *sh)
{
	kfree(container_of(sh, struct kdispose_event, sh));
}

/* Whether the wait through @w must end with EIDRM. */
static bool kdispose_waiter_gone(const struct kdispose_waiter *w)
{
	return w->obj && READ_ONCE(w->obj->state) != KDISPOSE_LIVE;
}

/*
 * Take @ev's signal if it is set and not claimed: consumes it when
 * auto-reset. Called with the task state set: must not sleep.
 */
static bool kdispose_event_take(struct kdispose_event *ev)
{
	bool taken = false;

	spin_lock_irq(&ev->wq.lock);
	if (ev->signaled && !ev->claimed) {
		taken = true;
		if (ev->flags & KDISPOSE_EVENT_AUTO_RESET)
			ev->signaled = false;
	} else if (ev->claimed) {
		ev->skipped = true;
	}
	spin_unlock_irq(&ev->wq.lock);
	return taken;
}

/* Give back a claim; @consume takes the signal of an auto-reset event. */
static void kdispose_event_unclaim(struct kdispose_event *ev, bool consume)
{
	bool wake;

	spin_lock_irq(&ev->wq.lock);
	ev->claimed = false;
	if (consume && ev->flags & KDISPOSE_EVENT_AUTO_RESET)
		ev->signaled = false;
	wake = ev->skipped;
	ev->skipped = false;
	spin_unlock_irq(&ev->wq.lock);
	if (wake)
		wake_up_all(&ev->wq);
}

/* A wait for any: the lowest index whose event is set, or -EAGAIN. */
static long kdispose_wait_try_any(struct kdispose_waiter *w, unsigned int n,
				  u32 *index)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (kdispose_waiter_gone(&w[i])) {
			*index = w[i].index;
			return -EIDRM;
		}
	}
	for (i = 0; i < n; i++) {
		if (kdispose_event_take(w[i].ev)) {
			*index = w[i].index;
			return w[i].index;
		}
	}
	/* After the take: a signal set before the last handle went counts. */
	for (i = 0; i < n; i++)
		if (w[i].eof && !atomic_read(&w[i].ev->sh.handles))
			return -EPIPE;
	return -EAGAIN;
}

/*
 * A wait for all, @w sorted by event address: claim every event, then
 * consume them all, or give the claims back. 0 or -EAGAIN.
 */
static long kdispose_wait_try_all(struct kdispose_waiter *w, unsigned int n,
				  u32 *index)
{
	unsigned int i, claimed;
	bool all;

	for (i = 0; i < n; i++) {
		if (kdispose_waiter_gone(&w[i])) {
			*index = w[i].index;
			return -EIDRM;
		}
	}
	spin_lock(&kdispose_wait_all_lock);
	for (claimed = 0; claimed < n; claimed++) {
		struct kdispose_event *ev = w[claimed].ev;
		bool ok;

		spin_lock_irq(&ev->wq.lock);
		ok = ev->signaled && !ev->claimed;
		ev->claimed |= ok;
		spin_unlock_irq(&ev->wq.lock);
		if (!ok)
			break;
	}
	all = claimed == n;
	for (i = 0; i < claimed; i++)
		kdispose_event_unclaim(w[i].ev, all);
	spin_unlock(&kdispose_wait_all_lock);
	return all ? 0 : -EAGAIN;
}

/*
 * Sleep until the wait is over: any or all of @w, at most @timeout_ns
 * (from KTIME_MAX on, forever). The waiters' entries are on their queues.
 */
static long kdispose_wait_loop(struct kdispose_waiter *w, unsigned int n,
			       bool all, u64 timeout_ns, bool restart,
			       u32 *index)
{
	bool forever = timeout_ns >= (u64)KTIME_MAX, expired = false;
	ktime_t expires = 0;
	long ret;

	if (!forever)
		expires = ktime_add_safe(ktime_get(), ns_to_ktime(timeout_ns));
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		ret = all ? kdispose_wait_try_all(w, n, index) :
			    kdispose_wait_try_any(w, n, index);
		if (ret != -EAGAIN)
			break;
		if (signal_pending(current)) {
			ret = restart ? -ERESTARTSYS : -EINTR;
			break;
		}
		if (expired) {
			ret = -ETIMEDOUT;
			break;
		}
		if (forever)
			schedule();
		else if (!schedule_hrtimeout_range(&expires, 0,
						   HRTIMER_MODE_ABS))
			expired = true;
	}
	__set_current_state(TASK_RUNNING);
	return ret;
}

/* Queue the waiters, wait, dequeue them. */
static long kdispose_wait(struct kdispose_waiter *w, unsigned int n, bool all,
			  u64 timeout_ns, bool restart, u32 *index)
{
	unsigned int i;
	long ret;

	for (i = 0; i < n; i++) {
		init_waitqueue_entry(&w[i].wqe, current);
		add_wait_queue(&w[i].ev->wq, &w[i].wqe);
	}
	ret = kdispose_wait_loop(w, n, all, timeout_ns, restart, index);
	for (i = 0; i < n; i++)
		remove_wait_queue(&w[i].ev->wq, &w[i].wqe);
	return ret;
}

static int kdispose_waiter_cmp(const struct kdispose_waiter *a,
			       const struct kdispose_waiter *b)
{
	if (a->ev != b->ev)
		return a->ev < b->ev ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * Sort a wait for all by event address (the order claims are taken in);
 * two handles of one event could never be claimed together: EINVAL, with
 * the later index. Insertion sort: at most KDISPOSE_WAIT_MAX entries.
 */
static long kdispose_wait_sort(struct kdispose_waiter *w, unsigned int n,
			       u32 *index)
{
	struct kdispose_waiter tmp;
	unsigned int i, j;

	for (i = 1; i < n; i++) {
		tmp = w[i];
		for (j = i; j && kdispose_waiter_cmp(&w[j - 1], &tmp) > 0; j--)
			w[j] = w[j - 1];
		w[j] = tmp;
	}
	for (i = 1; i < n; i++) {
		if (w[i].ev == w[i - 1].ev) {
			*index = w[i].index;
			return -EINVAL;
		}
	}
	return 0;
}

/* Look up the events of a wait; on failure, *@index is the bad one. */
static long kdispose_wait_lookup(struct kdispose_ctx *ctx,
				 struct kdispose_waiter *w, const u64 *handles,
				 unsigned int n, u32 *index)
{
	struct kdispose_object *obj;
	unsigned int i;

	for (i = 0; i < n; i++) {
		obj = kdispose_object_lookup(ctx, handles[i]);
		if (IS_ERR(obj)) {
			*index = i;
			return PTR_ERR(obj);
		}
		w[i].obj = obj;
		w[i].index = i;
		if (obj->kind != KDISPOSE_TYPE_EVENT) {
			*index = i;
			return -EINVAL;
		}
		w[i].ev = kdispose_event(obj);
	}
	return 0;
}

/**
 * kdispose_event_wait_many - KDISPOSE_IOC_WAIT: wait for any or all events
 * @ctx: the caller's table
 * @uhandles: user pointer to @n handles
 * @n: 1 .. KDISPOSE_WAIT_MAX, checked by the caller
 * @all: wait for all of them, not any
 * @timeout_ns: as struct kdispose_wait's
 * @index: set to the index of the event that ended a wait for any, or of
 *	the handle that failed; untouched otherwise
 *
 * Context: process context, the calling task; sleeps.
 * Return: the index (any) or 0 (all); -ETIMEDOUT; -EINTR; -EIDRM, -ENOENT
 * or -EINVAL with *@index; -EFAULT; -ENOMEM.
 */
long kdispose_event_wait_many(struct kdispose_ctx *ctx,
			      const u64 __user *uhandles, unsigned int n,
			      bool all, u64 timeout_ns, u32 *index)
{
	struct kdispose_waiter *w;
	unsigned int i;
	u64 *handles;
	long ret;

	handles = memdup_user(uhandles, n * sizeof(*handles));
	if (IS_ERR(handles))
		return PTR_ERR(handles);
	w = kcalloc(n, sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w) {
		kfree(handles);
		return -ENOMEM;
	}
	ret = kdispose_wait_lookup(ctx, w, handles, n, index);
	if (!ret && all)
		ret = kdispose_wait_sort(w, n, index);
	if (!ret)
		ret = kdispose_wait(w, n, all, timeout_ns, false, index);
	for (i = 0; i < n && w[i].obj; i++)
		kdispose_object_put(w[i].obj);
	kfree(w);
	kfree(handles);
	return ret;
}

static void kdispose_event_signal(struct kdispose_event *ev)
{
	spin_lock_irq(&ev->wq.lock);
	ev->signaled = true;
	wake_up_locked_poll(&ev->wq, EPOLLIN);
	spin_unlock_irq(&ev->wq.lock);
}

static void kdispose_event_reset(struct kdispose_event *ev)
{
	spin_lock_irq(&ev->wq.lock);
	ev->signaled = false;
	spin_unlock_irq(&ev->wq.lock);
}

static long kdispose_event_op(struct kdispose_object *obj,
			      struct kdispose_op *op)
{
	struct kdispose_event *ev = kdispose_event(obj);
	struct kdispose_waiter w = { .obj = obj, .ev = ev };
	u32 index;

	if (op->op != KDISPOSE_OP_EVENT_SIGNAL &&
	    op->op != KDISPOSE_OP_EVENT_RESET &&
	    op->op != KDISPOSE_OP_EVENT_WAIT)
		return -EOPNOTSUPP;
	if (op->args[1] || op->args[2] || op->args[3])
		return -EINVAL;
	if (op->op == KDISPOSE_OP_EVENT_WAIT)
		return kdispose_wait(&w, 1, false, op->args[0], false, &index);
	if (op->args[0])
		return -EINVAL;

	if (op->op == KDISPOSE_OP_EVENT_SIGNAL)
		kdispose_event_signal(ev);
	else
		kdispose_event_reset(ev);
	return 0;
}

static void kdispose_event_query(struct kdispose_object *obj,
				 struct kdispose_query *q)
{
	struct kdispose_event *ev = kdispose_event(obj);

	q->info[0] = ev->flags;
	if (READ_ONCE(ev->signaled))
		q->state |= KDISPOSE_STATE_SIGNALED;
}

/*
 * EPOLLIN while signaled, EPOLLHUP while no table holds a handle. The
 * queue's lock orders the reads after poll_wait() queued the entry: a
 * signal or a handle's dispose after them wakes the entry.
 */
static __poll_t kdispose_event_share_poll(struct kdispose_shared *sh,
					  struct file *file,
					  struct poll_table_struct *pt)
{
	struct kdispose_event *ev = container_of(sh, struct kdispose_event,
						 sh);
	__poll_t mask = 0;

	poll_wait(file, &ev->wq, pt);
	spin_lock_irq(&ev->wq.lock);
	if (ev->signaled)
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock_irq(&ev->wq.lock);
	if (!atomic_read(&sh->handles))
		mask |= EPOLLHUP;
	return mask;
}

/*
 * A wait on the event that consumes an auto-reset signal, as 8 bytes of 1;
 * 0 (end of file) when it is not signaled and no table holds a handle.
 */
static ssize_t kdispose_event_share_read(struct kdispose_shared *sh,
					 struct file *file, char __user *buf,
					 size_t len)
{
	struct kdispose_waiter w = {
		.ev = container_of(sh, struct kdispose_event, sh),
		.eof = true,
	};
	u64 one = 1;
	u32 index;
	long ret;

	if (len < sizeof(one))
		return -EINVAL;
	if (file->f_flags & O_NONBLOCK)
		ret = kdispose_wait_try_any(&w, 1, &index);
	else
		ret = kdispose_wait(&w, 1, false, U64_MAX, true, &index);
	if (ret == -EPIPE)
		return 0;
	if (ret < 0)
		return ret;
	if (copy_to_user(buf, &one, sizeof(one)))
		return -EFAULT;
	return sizeof(one);
}

const struct kdispose_kind_ops kdispose_event_ops = {
	.init = kdispose_event_init,
	.dispose = kdispose_event_dispose,
	.release = kdispose_share_release,
	.op = kdispose_event_op,
	.query = kdispose_event_query,
	.share_free = kdispose_event_share_free,
	.share_poll = kdispose_event_share_poll,
	.share_read = kdispose_event_share_read,
};
