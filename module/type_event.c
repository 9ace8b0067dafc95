// SPDX-License-Identifier: GPL-2.0
#include "internal.h"
const struct kdispose_type_ops kdispose_event_ops = { .name = "event" };
