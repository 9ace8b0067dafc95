# SPDX-License-Identifier: GPL-2.0
#
# gdb script of insn-profile: attach to the VM's gdb stub, single-step one
# of each system call insn_prog makes, from the kernel's syscall entry to
# the return to user space, and write what each one executed: the total,
# and the instructions per function. Environment: INSN_KSYMS, the guest's
# /proc/kallsyms (text symbols); INSN_PORT; INSN_OUT, the report; INSN_WARM,
# how many of each call to let go by first. Every address executed, in
# order, goes to INSN_OUT.pcs ("call: address function" per line), for
# reading against objdump -d.
import bisect
import collections
import os

import gdb

WANT = {16: 'ioctl', 290: 'eventfd2', 3: 'close'}
IOCTL_NAMES = {0xda00: 'VERSION', 0xc038da01: 'CREATE', 0x4010da02: 'DISPOSE'}

best = {}
with open(os.environ['INSN_KSYMS'], errors='replace') as f:
    for line in f:
        p = line.split()
        if len(p) < 3 or p[1] not in 'tTwW' or len(p[0]) != 16:
            continue
        try:
            addr = int(p[0], 16)
        except ValueError:
            continue
        name = p[2] + (' ' + p[3] if len(p) > 3 else '')
        # A line cut by other console output keeps the longest name.
        if len(name) > len(best.get(addr, '')):
            best[addr] = name
syms = sorted(best.items())
addrs = [a for a, _ in syms]


def sym(pc):
    i = bisect.bisect_right(addrs, pc) - 1
    return syms[i][1] if i >= 0 else '?'


def reg(name):
    return int(gdb.parse_and_eval('$' + name)) & 0xffffffffffffffff


gdb.execute('set pagination off')
gdb.execute('target remote 127.0.0.1:' + os.environ['INSN_PORT'])
entry = [a for a, n in syms if n == 'entry_SYSCALL_64']
gdb.execute('hbreak *0x%x' % entry[0])
warm = int(os.environ.get('INSN_WARM', '20'))
seen = collections.Counter()
calls = {}
order = ['ioctl VERSION', 'ioctl CREATE', 'ioctl DISPOSE', 'eventfd2', 'close']
while len(calls) < len(order):
    gdb.execute('continue', to_string=True)
    nr = reg('rax') & 0xffffffff
    if nr not in WANT:
        continue
    key = WANT[nr]
    if nr == 16:
        cmd = reg('rsi') & 0xffffffff
        if cmd not in IOCTL_NAMES:
            continue
        key += ' ' + IOCTL_NAMES[cmd]
    seen[key] += 1
    if key in calls or seen[key] <= warm:
        continue
    per = collections.Counter()
    pcs = []
    while True:
        pc = reg('pc')
        if pc < 1 << 63:
            break
        per[sym(pc)] += 1
        pcs.append(pc)
        gdb.execute('stepi', to_string=True)
    calls[key] = (len(pcs), per, pcs)
gdb.execute("kill")

base = calls['ioctl VERSION'][1]
with open(os.environ['INSN_OUT'], 'w') as out:
    out.write('guest instructions from the syscall entry to the return to user space\n\n')
    for key in order:
        out.write('%-16s %6d\n' % (key, calls[key][0]))
    for key in order:
        total, per, _ = calls[key]
        out.write('\n%s: %d instructions; per function' % (key, total))
        if key.startswith('ioctl ') and key != 'ioctl VERSION':
            out.write(', those that differ from ioctl VERSION (+extra)')
        out.write('\n')
        for name, n in per.most_common():
            if key.startswith('ioctl ') and key != 'ioctl VERSION':
                d = n - base.get(name, 0)
                if d:
                    out.write('  %+6d  %s\n' % (d, name))
            else:
                out.write('  %6d  %s\n' % (n, name))

with open(os.environ['INSN_OUT'] + '.pcs', 'w') as out:
    for key in order:
        for pc in calls[key][2]:
            out.write('%s: %x %s\n' % (key, pc, sym(pc)))
