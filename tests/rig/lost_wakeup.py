#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Find and wake a test-VM vCPU that QEMU left asleep with an interrupt
pending (Documentation/testing.md, "A vCPU that sleeps through its timer").

The signature: the vCPU's local APIC holds a vector in IRR whose priority
class is above the processor priority (PPR), and the vCPU either
 - is halted (HLT=1) with interrupts enabled (IF in RFLAGS): a real CPU
   takes the interrupt at once; one that stays so, registers and all,
   across three looks ten seconds apart has lost its wakeup; or
 - runs (HLT=0) with the same vectors pending across three looks: seen in
   CI with the vCPU inside a nested guest (RFLAGS are then the nested
   guest's, IF=0), where a pending host interrupt must force a #VMEXIT at
   once; the host's timer interrupt was lost, so the nested guest ran on
   and the host's own timers never fired again. Outside a nested guest
   this state is an interrupts-off hang, which the wake cannot harm.
(One look is not enough: the registers and the APIC are read one after
the other, and an idle vCPU's timer may land in IRR between the two.)

Seen in CI under QEMU 7.2's multi-threaded TCG with nested SVM guests; a
candidate cause in QEMU's source: helper_vmrun() ORs into
interrupt_request without the BQL and can drop the CPU_INTERRUPT_POLL the
APIC timer set from the main loop (QEMU 10.2 made those updates atomic).
A device interrupt raised from outside the vCPU thread makes QEMU re-read
the whole IRR (apic_poll_irq()), so a key press on the PS/2 keyboard wakes
it; an NMI is the second try.

  lost_wakeup.py check SOCK NCPUS   ask the monitor; exit 0 and print the
                                    stuck vCPUs if any, else exit 1
  lost_wakeup.py kick SOCK HOW      HOW: key (sendkey) or nmi
  lost_wakeup.py parse FILE         the verdict on a saved monitor dump
"""
import hashlib
import re
import socket
import sys
import time


def monitor(sock, cmds):
    """Run human-monitor commands; return their output, escapes removed.

    Each command's output is read up to the next prompt before the next
    command goes out: the monitor echoes what it receives, and an echo
    landing in the middle of a long output would cut a register line.
    """
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.settimeout(1)
    out = []

    def until_prompt(limit=10):
        buf = ''
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                chunk = s.recv(1 << 20).decode(errors='replace')
            except socket.timeout:
                chunk = ''
            if not chunk and buf.rstrip().endswith('(qemu)'):
                break
            buf += chunk
        return re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', buf).replace('\r', '')

    until_prompt(3)         # the banner and the first prompt
    for cmd in cmds:
        s.send((cmd + '\n').encode())
        out.append(until_prompt())
    s.close()
    return ''.join(out)


def stuck_cpus(dump):
    """The vCPUs of a dump of 'info registers -a' and 'info lapic N' that
    sleep through a deliverable interrupt, as (cpu, description)."""
    regs = {}
    gprs = {}
    cpu = None
    for line in dump.splitlines():
        m = re.match(r'\s*CPU#(\d+)', line)
        if m:
            cpu = int(m.group(1))
            continue
        # The general registers: a vCPU that is really stuck shows the
        # same ones on every look, an idle one that woke in between
        # rarely does.
        if cpu is not None and re.match(r'(R[A-Z0-9 ]{2}=[0-9a-f]{16} ?){4}$', line):
            gprs.setdefault(cpu, []).append(line)
        m = re.search(r'RIP=([0-9a-f]+) RFL=([0-9a-f]+) .*HLT=(\d)', line)
        if m and cpu is not None and cpu not in regs:
            regs[cpu] = (m.group(1), int(m.group(2), 16), m.group(3) == '1')
    stuck = []
    for m in re.finditer(r'dumping local APIC state for CPU (\d+)(.*?)(?=dumping local APIC|\Z)',
                         dump, re.S):
        n = int(m.group(1))
        body = m.group(2)
        irr = re.search(r'^IRR\s+(.*)$', body, re.M)
        ppr = re.search(r'PPR 0x([0-9a-f]+)', body)
        if n not in regs or not irr or not ppr:
            continue
        rip, rfl, halted = regs[n]
        vectors = [int(v) for v in re.findall(r'(\d+)(?:\(level\))?', irr.group(1))]
        ppr_class = int(ppr.group(1), 16) >> 4
        pending = [v for v in vectors if v >> 4 > ppr_class]
        if not pending:
            continue
        if halted and rfl & 0x200:
            digest = hashlib.sha256('\n'.join(gprs.get(n, [])).encode()).hexdigest()[:8]
            stuck.append((n, 'CPU#%d halted with IF=1 at RIP=%s, IRR %s above PPR 0x%s (registers %s)'
                          % (n, rip, ' '.join(map(str, pending)), ppr.group(1), digest)))
        elif not halted:
            # No RIP or registers here: a vCPU running a nested guest
            # moves on every look, and what must stay the same is only
            # that the interrupt is never taken.
            stuck.append((n, 'CPU#%d running with IRR %s above PPR 0x%s never taken'
                          % (n, ' '.join(map(str, pending)), ppr.group(1))))
    return stuck


def main():
    what = sys.argv[1]
    if what == 'parse':
        with open(sys.argv[2], errors='replace') as f:
            dump = f.read()
    elif what == 'check':
        n = int(sys.argv[3])
        dump = monitor(sys.argv[2], ['info registers -a'] +
                       ['info lapic %d' % i for i in range(n)])
    elif what == 'kick':
        # shift: a key press no shell acts on; the PS/2 controller every
        # PC machine has raises IRQ 1 through the IOAPIC.
        monitor(sys.argv[2], ['sendkey shift' if sys.argv[3] == 'key' else 'nmi'])
        return 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    stuck = stuck_cpus(dump)
    for _, why in stuck:
        print(why)
    return 0 if stuck else 1


if __name__ == '__main__':
    sys.exit(main())
