// SPDX-License-Identifier: GPL-2.0
/*
 * KDISPOSE_TYPE_GROUP: a container. It holds children and nothing else, so
 * disposing it is a way to dispose a set of objects in one call.
 */
#include "internal.h"

static int kdispose_group_init(struct kdispose_object *obj,
			       const struct kdispose_create *args)
{
	return args->args[0] || args->args[1] ? -EINVAL : 0;
}

const struct kdispose_kind_ops kdispose_group_ops = {
	.init = kdispose_group_init,
};
