/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kdispose: the .NET dispose pattern for kernel resources.
 *
 * Each open file of /dev/kdispose owns a table of objects named by handles.
 * An object is released exactly once: by an explicit dispose (ioctl, batch
 * ioctl or io_uring command; "disposing" is true) or, for every object still
 * in the table, when the last reference to the file goes away (the finalizer
 * path; "disposing" is false).
 *
 * Errors, common to every command (the ioctl returns -1 and sets errno; the
 * io_uring command completes with the negative value):
 *
 * ENOTTY       unknown ioctl command.
 * EINVAL       a flag bit, reserved field or padding is not zero, an unknown
 *              object type, or an argument out of range.
 * E2BIG        the caller's struct is larger than the kernel's and the extra
 *              bytes are not zero.
 * EFAULT       a user pointer (the ioctl argument, a buffer or an array) is
 *              not readable or writable.
 * ENOENT       the handle was never issued by this file (handles of another
 *              file mean nothing here).
 * EIDRM        the handle was issued by this file but its object has been
 *              disposed or finalized (.NET's ObjectDisposedException).
 *              Dispose itself never fails with EIDRM: it returns 0.
 *              A forged handle that looks like one of an older object in
 *              the same table slot may also get EIDRM rather than ENOENT.
 * EOPNOTSUPP   KDISPOSE_IOC_OP names an operation that the object's type
 *              does not have; an unknown io_uring command.
 * EMFILE       the file already holds max_objects live objects (module
 *              parameter).
 * EDQUOT       the memory buffers of the file would exceed max_bytes (module
 *              parameter).
 * ENOSPC       the file has issued its last handle: handles are never
 *              reused, so the file can create no more objects.
 * EMLINK       the parent is KDISPOSE_MAX_DEPTH deep already, or has
 *              KDISPOSE_MAX_CHILDREN children.
 * ELOOP        the file to pin is not one that holds no references back:
 *              only regular files, directories, FIFOs, AF_INET, AF_INET6
 *              and AF_NETLINK sockets, eventfd, timerfd, signalfd, epoll
 *              and pidfd files and /dev/{null,zero,full,random,urandom}
 *              may be pinned. Any other file (a /dev/kdispose file, a unix
 *              socket, an io_uring, vhost-net, ...) may hold an address
 *              space or files, through which a cycle could keep an owner
 *              alive after its last process.
 * ENOMEM       out of memory (or over the memory cgroup limit).
 * EBADF        an fd argument is not open.
 * EMEDIUMTYPE  KDISPOSE_IOC_IMPORT: the exported object is not of the type
 *              the caller asked for.
 * ETIMEDOUT    a wait ended with its timeout.
 * EINTR        a wait was interrupted by a signal (never restarted).
 */
#ifndef _UAPI_LINUX_KDISPOSE_H
#define _UAPI_LINUX_KDISPOSE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Returned by KDISPOSE_IOC_VERSION. */
#define KDISPOSE_ABI_VERSION	1

/* Length of an object's label, including the terminating NUL. */
#define KDISPOSE_LABEL_LEN	16

/* Longest chain of ancestors an object may have. */
#define KDISPOSE_MAX_DEPTH	32

/* Most direct children one object may have. */
#define KDISPOSE_MAX_CHILDREN	65535

/* Most handles one KDISPOSE_IOC_DISPOSE_BATCH call takes. */
#define KDISPOSE_BATCH_MAX	1024

/**
 * enum kdispose_type - the kinds of object a table holds
 * @KDISPOSE_TYPE_TOKEN: a 64-bit user value and nothing else.
 *	Create: @args[0] is the value. Ops: KDISPOSE_OP_TOKEN_*.
 * @KDISPOSE_TYPE_MEMORY: a zeroed memory buffer, charged to the file's
 *	max_bytes quota and to the memory cgroup. Create: @args[0] is the size
 *	in bytes (1 .. max_bytes). Ops: KDISPOSE_OP_MEM_*. It can be mapped with
 *	mmap(MAP_SHARED) of the device fd at the offset that
 *	KDISPOSE_IOC_QUERY returns in @info[1]; the pages live until the object
 *	is disposed and the last mapping is gone.
 * @KDISPOSE_TYPE_EVENT: a wait handle. Create: @args[0] holds
 *	KDISPOSE_EVENT_* flags. Ops: KDISPOSE_OP_EVENT_*. Disposing it wakes
 *	every waiter with EIDRM.
 * @KDISPOSE_TYPE_FILE: a pinned reference to a struct file. Create:
 *	@args[0] is an fd of the caller (EBADF if it is not open; ELOOP if
 *	its file is not on the allowlist, see the errno table). Ops:
 *	KDISPOSE_OP_FILE_*.
 * @KDISPOSE_TYPE_GROUP: a container: holds children and nothing else.
 */
enum kdispose_type {
	KDISPOSE_TYPE_TOKEN = 1,
	KDISPOSE_TYPE_MEMORY = 2,
	KDISPOSE_TYPE_EVENT = 3,
	KDISPOSE_TYPE_FILE = 4,
	KDISPOSE_TYPE_GROUP = 5,
};

/* KDISPOSE_TYPE_EVENT creation flags (struct kdispose_create @args[0]). */
#define KDISPOSE_EVENT_SIGNALED		(1ULL << 0) /* start signaled */
#define KDISPOSE_EVENT_AUTO_RESET	(1ULL << 1) /* a wait consumes the signal */

/**
 * struct kdispose_create - argument of KDISPOSE_IOC_CREATE
 * @type: in, one of enum kdispose_type.
 * @flags: in, must be 0.
 * @parent: in, handle of a live object of the same file that will own the
 *	new one (disposing the parent disposes it first), or 0.
 * @handle: out, the new object's handle: never 0, larger than every handle
 *	the file issued before, never reused for the life of the file.
 * @args: in, per type (see enum kdispose_type); unused words must be 0.
 * @label: in, a NUL-padded name for diagnostics (traces, leak reports).
 *	Kept up to the first NUL, at most KDISPOSE_LABEL_LEN - 1 bytes, with
 *	every byte that is not printable ASCII replaced by '?', so a label
 *	cannot forge lines in the kernel log.
 *
 * The object is published only after @handle has been written to user
 * space: if that write fails the object is destroyed and the call fails
 * with EFAULT, so no object exists that the caller never learned about.
 *
 * Return: 0.
 */
struct kdispose_create {
	__u32 type;
	__u32 flags;
	__u64 parent;
	__u64 handle;
	__u64 args[2];
	char label[KDISPOSE_LABEL_LEN];
};

/**
 * struct kdispose_dispose - argument of KDISPOSE_IOC_DISPOSE, and the
 * payload of the KDISPOSE_URING_CMD_DISPOSE io_uring command
 * @handle: in, the object to dispose.
 * @flags: in, must be 0.
 * @pad: must be 0.
 *
 * Disposes the object and, first, its descendants (depth-first), each with
 * disposing = true. The handle stops working at once; the resource itself is
 * released when the last user of the object (an ioctl in progress in another
 * thread, a memory mapping) lets go of it.
 *
 * Return: 1 when this call disposed the object, 0 when it was disposed
 * already (the call then does nothing), ENOENT when the handle was never
 * issued.
 */
struct kdispose_dispose {
	__u64 handle;
	__u32 flags;
	__u32 pad;
};

/**
 * struct kdispose_dispose_batch - argument of KDISPOSE_IOC_DISPOSE_BATCH
 * @handles: in, user pointer to @count __u64 handles.
 * @results: in, user pointer to @count __s32, each set to what
 *	KDISPOSE_IOC_DISPOSE would have returned for that handle (1, 0 or a
 *	negative errno). A duplicate handle gets 1 once and 0 after.
 * @count: in, 0 .. KDISPOSE_BATCH_MAX.
 * @flags: in, must be 0.
 * @ndisposed: out, how many handles this call disposed (results equal to 1).
 * @pad: must be 0.
 *
 * One failing handle does not stop the others. If @handles or @results is
 * not accessible the call fails with EFAULT; the handles of the chunks
 * processed before stay disposed (dispose is idempotent: a retry reports 0
 * for them).
 *
 * Return: 0.
 */
struct kdispose_dispose_batch {
	__u64 handles;
	__u64 results;
	__u32 count;
	__u32 flags;
	__u32 ndisposed;
	__u32 pad;
};

/* Bits of struct kdispose_query @state. */
#define KDISPOSE_STATE_SIGNALED	(1U << 0) /* an event that is signaled */
#define KDISPOSE_STATE_MAPPED	(1U << 1) /* a memory buffer with a mapping */

/**
 * struct kdispose_query - argument of KDISPOSE_IOC_QUERY
 * @handle: in, a live object.
 * @flags: in, must be 0.
 * @type: out, enum kdispose_type.
 * @state: out, KDISPOSE_STATE_* bits.
 * @refcount: out, references held at the time of the call: 1 for the
 *	table, 1 for this call, plus one per other user.
 * @parent: out, the parent's handle, or 0.
 * @nchildren: out, number of live direct children.
 * @depth: out, number of ancestors.
 * @info: out, per type. TOKEN: [0] value. MEMORY: [0] size in bytes,
 *	[1] mmap offset. EVENT: [0] creation flags. FILE: [0] the file's
 *	f_flags. GROUP: nothing.
 * @label: out, the label given at creation.
 *
 * Return: 0.
 */
struct kdispose_query {
	__u64 handle;
	__u32 flags;
	__u32 type;
	__u32 state;
	__u32 refcount;
	__u64 parent;
	__u32 nchildren;
	__u32 depth;
	__u64 info[2];
	char label[KDISPOSE_LABEL_LEN];
};

/*
 * Type-specific operations for KDISPOSE_IOC_OP. The high byte of an
 * operation is the type it belongs to.
 *
 * KDISPOSE_OP_TOKEN_GET: args[0] out, the value.
 * KDISPOSE_OP_TOKEN_SET: args[0] in, the new value.
 * KDISPOSE_OP_MEM_READ:  copy args[1] bytes at offset args[0] of the buffer
 *	to the user pointer args[2]. EINVAL if the range does not fit.
 * KDISPOSE_OP_MEM_WRITE: copy args[1] bytes from the user pointer args[2] to
 *	offset args[0] of the buffer. EINVAL if the range does not fit.
 * KDISPOSE_OP_EVENT_SIGNAL: set the event; wakes its waiters.
 * KDISPOSE_OP_EVENT_RESET: clear the event.
 * KDISPOSE_OP_EVENT_WAIT: wait until the event is signaled, at most args[0]
 *	nanoseconds (~0 waits forever). Returns 0 when signaled, ETIMEDOUT,
 *	EINTR on a signal, EIDRM when the event is disposed while waiting.
 * KDISPOSE_OP_FILE_INSTALL: install a new fd for the pinned file in the
 *	caller's table and return it (the ioctl's return value); args[0] holds
 *	KDISPOSE_FILE_* flags. The fd is O_CLOEXEC unless
 *	KDISPOSE_FILE_NO_CLOEXEC is given.
 */
#define KDISPOSE_OP_TOKEN_GET		0x0101
#define KDISPOSE_OP_TOKEN_SET		0x0102
#define KDISPOSE_OP_MEM_READ		0x0201
#define KDISPOSE_OP_MEM_WRITE		0x0202
#define KDISPOSE_OP_EVENT_SIGNAL	0x0301
#define KDISPOSE_OP_EVENT_RESET		0x0302
#define KDISPOSE_OP_EVENT_WAIT		0x0303
#define KDISPOSE_OP_FILE_INSTALL	0x0401

#define KDISPOSE_FILE_NO_CLOEXEC	(1ULL << 0)

/**
 * struct kdispose_op - argument of KDISPOSE_IOC_OP
 * @handle: in, a live object.
 * @op: in, a KDISPOSE_OP_* of the object's type (EOPNOTSUPP otherwise).
 * @flags: in, must be 0.
 * @args: in/out, per operation (see KDISPOSE_OP_*); unused words must be 0.
 *	Written back only when the operation succeeded and produced results,
 *	so a faulting copy-out never hides a side effect (an installed fd).
 *
 * The object is referenced for the whole call: disposing it from another
 * thread meanwhile removes the handle at once, but the resource is released
 * only when this call returns.
 *
 * Return: 0, or a value defined by the operation.
 */
struct kdispose_op {
	__u64 handle;
	__u32 op;
	__u32 flags;
	__u64 args[4];
};

/* Bits of struct kdispose_export @flags. */
#define KDISPOSE_EXPORT_NO_CLOEXEC	(1U << 0)

/**
 * struct kdispose_export - argument of KDISPOSE_IOC_EXPORT
 * @handle: in, a live object of a type that can be shared: MEMORY or
 *	EVENT (EOPNOTSUPP for the others).
 * @flags: in, KDISPOSE_EXPORT_* bits. The fd is O_CLOEXEC unless
 *	KDISPOSE_EXPORT_NO_CLOEXEC is given.
 * @pad: must be 0.
 *
 * Makes a new fd, an export fd, that names the object. It crosses
 * processes like any fd (fork, SCM_RIGHTS), and KDISPOSE_IOC_IMPORT turns
 * it into a handle of another table. The object lives while any of its
 * names does: a handle in any table that is neither disposed nor finalized,
 * or an open export fd. An event's export fd polls (EPOLLIN while the event
 * is signaled, EPOLLHUP while no table holds a handle to it) and reads (8
 * bytes, the value 1: a wait that consumes the signal of an auto-reset
 * event; EAGAIN when not signaled and the fd is O_NONBLOCK; 0, end of
 * file, when not signaled and no table holds a handle).
 * Documentation/sharing.md has the rules.
 *
 * Each export fd counts as one object against the max_user_objects quota
 * of the user that exported it, until it is closed.
 *
 * Return: the new fd.
 */
struct kdispose_export {
	__u64 handle;
	__u32 flags;
	__u32 pad;
};

/**
 * struct kdispose_import - argument of KDISPOSE_IOC_IMPORT
 * @fd: in, an export fd (EBADF if it is not open, EINVAL if it is not an
 *	export fd of /dev/kdispose).
 * @type: in, 0 to accept any type, else the type the object must have
 *	(EMEDIUMTYPE if it has another, EINVAL if @type is not a type).
 * @parent: in, as for KDISPOSE_IOC_CREATE: a live object of the caller's
 *	table that will own the new handle, or 0.
 * @handle: out, a new handle of the caller's table, naming the exported
 *	object: every import makes a new handle, even of an object the table
 *	names already (DuplicateHandle, not DRM's one handle per object), so
 *	each handle is disposed on its own.
 * @flags: in, must be 0.
 * @pad: must be 0.
 * @label: in, as for KDISPOSE_IOC_CREATE.
 *
 * Like a create, the new handle is written to user space before it works,
 * and it counts as a create in the counters of the caller's table.
 *
 * Return: 0.
 */
struct kdispose_import {
	__s32 fd;
	__u32 type;
	__u64 parent;
	__u64 handle;
	__u32 flags;
	__u32 pad;
	char label[KDISPOSE_LABEL_LEN];
};

/* Most handles one KDISPOSE_IOC_WAIT call takes. */
#define KDISPOSE_WAIT_MAX	64

/* Bits of struct kdispose_wait @flags. */
#define KDISPOSE_WAIT_ALL	(1U << 0) /* wait for all of them, not any */

/**
 * struct kdispose_wait - argument of KDISPOSE_IOC_WAIT
 * @handles: in, user pointer to @count __u64 handles of EVENT objects of
 *	the caller's table.
 * @count: in, 1 .. KDISPOSE_WAIT_MAX.
 * @flags: in, KDISPOSE_WAIT_* bits.
 * @timeout_ns: in, how long to wait at most, in nanoseconds: 0 only
 *	checks, ~0 (any value from 2^63 - 1 on) waits forever.
 * @index: out, the index in @handles of the event that ended a wait for
 *	any, or of the handle that failed (EIDRM, ENOENT, EINVAL for a handle
 *	that is not an event or, with KDISPOSE_WAIT_ALL, that names the same
 *	event as an earlier one). Not written for other results.
 * @pad: must be 0.
 *
 * WaitForMultipleObjects: without KDISPOSE_WAIT_ALL the call returns as
 * soon as one event is signaled, the lowest index if several are, and
 * consumes the signal of that one only if it is auto-reset. With it, the
 * call returns once all are signaled at the same moment, and then consumes
 * every auto-reset signal at once: it takes all of them or none, so a
 * concurrent waiter never sees some consumed and others not.
 *
 * Return: the index (any) or 0 (all); ETIMEDOUT; EINTR on a signal (never
 * restarted); EIDRM, with @index, when a handle is disposed before or
 * during the wait.
 */
struct kdispose_wait {
	__u64 handles;
	__u32 count;
	__u32 flags;
	__u64 timeout_ns;
	__u32 index;
	__u32 pad;
};

#define KDISPOSE_IOC_MAGIC	0xDA

/* Return: KDISPOSE_ABI_VERSION. Takes no argument. */
#define KDISPOSE_IOC_VERSION	_IO(KDISPOSE_IOC_MAGIC, 0x00)
#define KDISPOSE_IOC_CREATE	_IOWR(KDISPOSE_IOC_MAGIC, 0x01, struct kdispose_create)
#define KDISPOSE_IOC_DISPOSE	_IOW(KDISPOSE_IOC_MAGIC, 0x02, struct kdispose_dispose)
#define KDISPOSE_IOC_QUERY	_IOWR(KDISPOSE_IOC_MAGIC, 0x03, struct kdispose_query)
#define KDISPOSE_IOC_OP		_IOWR(KDISPOSE_IOC_MAGIC, 0x04, struct kdispose_op)
#define KDISPOSE_IOC_DISPOSE_BATCH \
	_IOWR(KDISPOSE_IOC_MAGIC, 0x05, struct kdispose_dispose_batch)
#define KDISPOSE_IOC_EXPORT	_IOW(KDISPOSE_IOC_MAGIC, 0x06, struct kdispose_export)
#define KDISPOSE_IOC_IMPORT	_IOWR(KDISPOSE_IOC_MAGIC, 0x07, struct kdispose_import)
#define KDISPOSE_IOC_WAIT	_IOWR(KDISPOSE_IOC_MAGIC, 0x08, struct kdispose_wait)

/*
 * io_uring commands (IORING_OP_URING_CMD on a /dev/kdispose fd; sqe->cmd_op).
 *
 * KDISPOSE_URING_CMD_DISPOSE: the 16-byte SQE payload is a
 * struct kdispose_dispose. cqe->res is what KDISPOSE_IOC_DISPOSE returns:
 * 1 (disposed by this command), 0 (disposed already) or a negative errno.
 * Any other cmd_op completes with -EOPNOTSUPP.
 */
#define KDISPOSE_URING_CMD_DISPOSE	1

#endif /* _UAPI_LINUX_KDISPOSE_H */
