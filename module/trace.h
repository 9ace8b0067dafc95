/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of kdispose: every object's creation, its explicit dispose
 * (who won, through which entry point), its finalization by a file's
 * release, the release of its resource at the last reference, and the end
 * of a shared object when its last name goes.
 * They cost a static branch when disabled.
 *
 *   echo 1 > /sys/kernel/tracing/events/kdispose/enable
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kdispose

#if !defined(_KDISPOSE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KDISPOSE_TRACE_H

#include <linux/sched.h>
#include <linux/tracepoint.h>

#include "internal.h"

#define kdispose_show_via(via)						\
	__print_symbolic(via,						\
			 { KDISPOSE_VIA_IOCTL, "ioctl" },		\
			 { KDISPOSE_VIA_BATCH, "batch" },		\
			 { KDISPOSE_VIA_URING, "uring" })

DECLARE_EVENT_CLASS(kdispose_object_class,
		    TP_PROTO(const struct kdispose_object *obj),
		    TP_ARGS(obj),
		    TP_STRUCT__entry(__field(pid_t, owner)
				     __field(u64, handle)
				     __array(char, kind, KDISPOSE_KIND_NAME_LEN)
				     __array(char, label, KDISPOSE_LABEL_LEN)),
		    TP_fast_assign(__entry->owner = obj->owner->tgid;
				   __entry->handle = obj->handle;
				   strscpy_pad(__entry->kind,
					       kdispose_kind_name(obj->kind),
					       KDISPOSE_KIND_NAME_LEN);
				   memcpy(__entry->label, obj->label,
					  KDISPOSE_LABEL_LEN);),
		    TP_printk("owner=%d handle=%#llx kind=%s label=\"%s\"",
			      __entry->owner, __entry->handle,
			      __entry->kind,
			      __entry->label)
);

DEFINE_EVENT(kdispose_object_class, kdispose_create,
	     TP_PROTO(const struct kdispose_object *obj),
	     TP_ARGS(obj)
);

DEFINE_EVENT(kdispose_object_class, kdispose_finalize,
	     TP_PROTO(const struct kdispose_object *obj),
	     TP_ARGS(obj)
);

TRACE_EVENT(kdispose_dispose,
	    TP_PROTO(const struct kdispose_ctx *ctx, u64 handle,
		     const struct kdispose_object *obj, unsigned int via),
	    TP_ARGS(ctx, handle, obj, via),
	    TP_STRUCT__entry(__field(pid_t, owner)
			     __field(pid_t, caller)
			     __field(u64, handle)
			     __array(char, kind, KDISPOSE_KIND_NAME_LEN)
			     __field(unsigned int, via)
			     __field(bool, won)
			     __array(char, label, KDISPOSE_LABEL_LEN)),
	    TP_fast_assign(__entry->owner = ctx->tgid;
			   __entry->caller = task_pid_nr(current);
			   __entry->handle = handle;
			   strscpy_pad(__entry->kind, obj ?
				       kdispose_kind_name(obj->kind) : "none",
				       KDISPOSE_KIND_NAME_LEN);
			   __entry->via = via & ~KDISPOSE_VIA_NONBLOCK;
			   __entry->won = obj;
			   strscpy_pad(__entry->label, obj ? obj->label : "",
				       KDISPOSE_LABEL_LEN);),
	    TP_printk("owner=%d handle=%#llx kind=%s label=\"%s\" via=%s caller=%d won=%d",
		      __entry->owner, __entry->handle,
		      __entry->kind, __entry->label,
		      kdispose_show_via(__entry->via), __entry->caller,
		      __entry->won)
);

TRACE_EVENT(kdispose_release,
	    TP_PROTO(const struct kdispose_object *obj, bool deferred),
	    TP_ARGS(obj, deferred),
	    TP_STRUCT__entry(__field(pid_t, owner)
			     __field(u64, handle)
			     __array(char, kind, KDISPOSE_KIND_NAME_LEN)
			     __field(bool, deferred)
			     __array(char, label, KDISPOSE_LABEL_LEN)),
	    TP_fast_assign(__entry->owner = obj->owner->tgid;
			   __entry->handle = obj->handle;
			   strscpy_pad(__entry->kind,
				       kdispose_kind_name(obj->kind),
				       KDISPOSE_KIND_NAME_LEN);
			   __entry->deferred = deferred;
			   memcpy(__entry->label, obj->label,
				  KDISPOSE_LABEL_LEN);),
	    TP_printk("owner=%d handle=%#llx kind=%s label=\"%s\" deferred=%d",
		      __entry->owner, __entry->handle,
		      __entry->kind, __entry->label,
		      __entry->deferred)
);

TRACE_EVENT(kdispose_share_end,
	    TP_PROTO(const struct kdispose_shared *sh, bool disposing),
	    TP_ARGS(sh, disposing),
	    TP_STRUCT__entry(__field(pid_t, owner)
			     __array(char, kind, KDISPOSE_KIND_NAME_LEN)
			     __field(bool, disposing)),
	    TP_fast_assign(__entry->owner = sh->owner->tgid;
			   strscpy_pad(__entry->kind,
				       kdispose_kind_name(sh->kind),
				       KDISPOSE_KIND_NAME_LEN);
			   __entry->disposing = disposing;),
	    TP_printk("owner=%d kind=%s disposing=%d",
		      __entry->owner, __entry->kind, __entry->disposing)
);

#endif /* _KDISPOSE_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
