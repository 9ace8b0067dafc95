// SPDX-License-Identifier: GPL-2.0
/*
 * KDISPOSE_TYPE_TOKEN: a 64-bit user value and nothing else. The smallest
 * object kdispose has: it exercises the table without any resource behind.
 */
#include "internal.h"

static int kdispose_token_init(struct kdispose_object *obj,
			       const struct kdispose_create *args)
{
	if (args->args[1])
		return -EINVAL;
	obj->value = args->args[0];
	return 0;
}

static long kdispose_token_op(struct kdispose_object *obj,
			      struct kdispose_op *op)
{
	switch (op->op) {
	case KDISPOSE_OP_TOKEN_GET:
		if (op->args[1] || op->args[2] || op->args[3])
			return -EINVAL;
		op->args[0] = READ_ONCE(obj->value);
		return 0;
	case KDISPOSE_OP_TOKEN_SET:
		if (op->args[1] || op->args[2] || op->args[3])
			return -EINVAL;
		WRITE_ONCE(obj->value, op->args[0]);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

static void kdispose_token_query(struct kdispose_object *obj,
				 struct kdispose_query *q)
{
	q->info[0] = READ_ONCE(obj->value);
}

const struct kdispose_kind_ops kdispose_token_ops = {
	.init = kdispose_token_init,
	.op = kdispose_token_op,
	.query = kdispose_token_query,
};
