/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one list of object kinds, in the style of include/linux/bpf_types.h:
 * no include guard; whoever includes it defines KDISPOSE_KIND(ID, name)
 * first and undefines it after. ID is the suffix of the kind's
 * KDISPOSE_TYPE_* value in the UAPI, name its lower-case name, which is
 * also the infix of its ops, kdispose_<name>_ops, defined in
 * module/kind_<name>.c.
 *
 * Everything that lists kinds is made from here: the ops' declarations
 * (internal.h), the count (KDISPOSE_NR_KINDS), the table of ops and of
 * names (main.c), and through those the rows of the counters file, the
 * lines of fdinfo, leak reports and tracepoints. User space reads the
 * names from the counters file. Adding a kind is its file, one line here
 * in the order of its UAPI value, the value itself, a word in Kbuild and
 * its test (Documentation/adding-a-kind.md).
 */
KDISPOSE_KIND(TOKEN, token)
KDISPOSE_KIND(MEMORY, memory)
KDISPOSE_KIND(EVENT, event)
KDISPOSE_KIND(FILE, file)
KDISPOSE_KIND(GROUP, group)
