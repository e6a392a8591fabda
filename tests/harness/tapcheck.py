#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check a nested TAP/KTAP log against its plans and the kernel's logs.

One checker for every result vfmig's tests produce: KUnit's KTAP from UML,
the test VM's suites (shell suites with C programs nested inside them) and
the kselftest-harness programs. Reads the log, prints one flat TAP line per
leaf result for the summary line to count, and adds a "not ok" line, naming
what and where, for each of these:

- a level that printed no plan (``1..N``) or ran more or fewer than it;
- a level that started and never ended (the kernel or program died);
- a result line that says "not ok" while every result inside it passed
  (a program that exited non-zero or died on a signal: its runner says so
  on that line);
- a name given with --expect that never ran at the top level;
- a kernel splat (Oops, BUG, WARNING, lockdep, KASAN, UBSAN, hung task,
  RCU stall, kmemleak, panic) in a --kernel-log file.

Exits 1 if it printed any "not ok", 0 otherwise. Its own tests are in
tests/harness/selftest.sh, fed with recorded bad logs.

Nesting is by indentation, four spaces a level, as KTAP says; a level is
opened by "KTAP version", "TAP version", "# Subtest:", a plan or a result,
and closed by the result line of its parent.
"""
import argparse
import re
import sys

RESULT = re.compile(r'^(not ok|ok)\b\s*(\d+)?\s*(?:-\s+)?(.*)$')
PLAN = re.compile(r'^1\.\.(\d+)\s*(?:#.*)?$')
HEADER = re.compile(r'^(KTAP|TAP) version \d+')
SUBTEST = re.compile(r'^# Subtest: (.*)$')

# What a kernel prints when something went wrong that no test result
# would show. Matched anywhere in a line, so a console's timestamps and a
# UML log's prefixes do not matter.
SPLATS = [
    # The specific kinds first: KASAN and lockdep reports start with
    # "BUG:" or "WARNING:" too, and the report should say which it was.
    ('kernel panic', r'Kernel panic - not syncing'),
    ('lockdep', r'possible circular locking|possible recursive locking|'
                r'inconsistent lock state|DEBUG_LOCKS_WARN_ON|'
                r'suspicious RCU usage|lock held when returning'),
    ('KASAN', r'\bKASAN: '),
    ('UBSAN', r'\bUBSAN: '),
    ('hung task', r'INFO: task .* blocked for more than'),
    ('RCU stall', r'rcu: INFO: .*stall|self-detected stall'),
    ('soft lockup', r'soft lockup - CPU'),
    ('kmemleak', r'kmemleak: \d+ new suspected memory leak'),
    ('memory corruption', r'list_(add|del) corruption|refcount_t: '),
    ('general protection fault', r'general protection fault'),
    ('oops', r'\bOops(: |\[)'),
    ('BUG', r'\bBUG: |kernel BUG at'),
    ('WARNING', r'\bWARNING: '),
    ('call trace', r'\bCall Trace:'),
]


# How far after a splat's first line its call trace may come.
REPORT_LINES = 60

# Upstream kernel bugs that vfmig's allocation-failure sweep reaches
# through vfio's core (Documentation/hardening.md, "Kernel bugs found"):
# (what, the report's first line, a frame its trace must show). Excused
# only as the echo of a failure the fault injector forced just before,
# and each excused report is still printed as a comment.
KNOWN_INJECTED = [
    ('vfio_create_group() error path: vfio_group_release() WARNs on the '
     'iommu_group it still holds, whose reference leaks',
     r'WARNING: .* at drivers/vfio/group\.c:\d+ vfio_group_release',
     r'\bvfio_create_group\+'),
]


class Level:
    """One level of a TAP tree: what it planned and what it ran."""

    def __init__(self, depth, name, lineno):
        self.depth = depth
        self.name = name
        self.lineno = lineno
        self.plan = None
        # (ok, name, directive, child Level or None, lineno, synthetic):
        # synthetic results stand for a result line that never came.
        self.results = []


def parse(lines):
    """Build the tree. Returns the top level and the levels left open."""
    top = Level(0, '', 1)
    stack = [top]
    pending_name = {}
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip('\n').expandtabs(8)
        stripped = line.lstrip(' ')
        indent = len(line) - len(stripped)
        if indent % 4:
            continue        # not a TAP line of ours (kernel text, say)
        depth = indent // 4
        kind = None
        for k, rx in (('header', HEADER), ('subtest', SUBTEST),
                      ('plan', PLAN), ('result', RESULT)):
            m = rx.match(stripped)
            if m:
                kind = k
                break
        if kind is None:
            continue
        if depth > len(stack):
            continue        # deeper than anything opened: not ours
        if kind == 'result':
            # A result at depth d closes every level deeper than d.
            child = None
            if len(stack) > depth + 1:
                child = stack[depth + 1]
                # Anything opened below that child and never closed
                # belongs to it: keep it, the checks will name it.
                for orphan in stack[depth + 2:]:
                    child.results.append((False, orphan.name or '?',
                                          'never ended', orphan,
                                          orphan.lineno, True))
                del stack[depth + 1:]
            if depth >= len(stack):
                continue
            ok = m.group(1) == 'ok'
            text = m.group(3)
            name, directive = text, ''
            if ' # ' in text or text.startswith('# '):
                name, directive = re.split(r'\s*#\s*', text, maxsplit=1)
            name = name.strip() or (child.name if child else '?')
            stack[depth].results.append((ok, name, directive.strip(), child,
                                         lineno, False))
            pending_name.pop(depth + 1, None)
            continue
        # header, subtest or plan: they open a level at this depth.
        if depth == len(stack):
            stack.append(Level(depth, pending_name.get(depth, ''), lineno))
        elif kind == 'header' and depth > 0 and (stack[depth].results or
                                                  stack[depth].plan is not None):
            # A new subtest at a depth whose previous one never got its
            # parent's result line: the old one stays open (reported).
            orphan = stack[depth]
            del stack[depth:]
            stack[depth - 1].results.append((False, orphan.name or '?',
                                             'never ended', orphan,
                                             orphan.lineno, True))
            stack.append(Level(depth, '', lineno))
        level = stack[depth]
        if kind == 'subtest':
            level.name = m.group(1).strip()
            pending_name[depth] = level.name
        elif kind == 'plan':
            if level.plan is not None and level.results:
                continue
            level.plan = int(m.group(1))
    # Levels still open at the end never got their parent's result line:
    # the kernel or the program died or hung. Each is handed to its parent
    # as a result that failed, not counted as run.
    for depth in range(len(stack) - 1, 0, -1):
        orphan = stack[depth]
        stack[depth - 1].results.append((False, orphan.name or '?',
                                         'never ended', orphan, orphan.lineno,
                                         True))
    return top, stack[1:]


class Report:
    def __init__(self, prefix, src):
        self.prefix = prefix
        self.src = src
        self.failed = 0
        self.passed = 0

    def ok(self, path, directive=''):
        self.passed += 1
        print(f'ok - {self.prefix}{path}' + (f' # {directive}' if directive else ''))

    def not_ok(self, path, why):
        self.failed += 1
        print(f'not ok - {self.prefix}{path} # {why}')


def check_level(rep, level, path, open_levels, require_plans, lenient_depth):
    """Report the leaves of a level and what is wrong with the level.

    Returns how many leaf results inside it failed: a parent's own "not
    ok" line is reported only when none did, since it then says something
    no leaf said (an exit status, a signal, a level that never ended).
    """
    leaves_failed = 0
    for ok, name, directive, child, lineno, _ in level.results:
        sub = name if not path else f'{path} / {name}'
        if child is not None:
            f = check_level(rep, child, sub, open_levels, require_plans,
                            lenient_depth)
            leaves_failed += f
            if not ok and f == 0 and child not in open_levels:
                why = directive or 'failed with every result inside passing'
                rep.not_ok(sub, f'{why} ({rep.src}:{lineno})')
                leaves_failed += 1
            continue
        skip = directive.upper().startswith('SKIP')
        if ok or skip:
            # KTAP: "not ok ... # SKIP" still counts as a skip.
            rep.ok(sub, directive if skip else '')
        else:
            rep.not_ok(sub, f'{directive or "failed"} ({rep.src}:{lineno})')
            leaves_failed += 1
    ran = sum(1 for r in level.results if not r[5])
    where = path or 'top level'
    if level.plan is None:
        if require_plans and level.depth < lenient_depth:
            rep.not_ok(f'{where}: declares its plan',
                       f'no "1..N" line, ran {ran} ({rep.src}:{level.lineno})')
    elif level.plan != ran:
        rep.not_ok(f'{where}: runs its plan',
                   f'planned {level.plan}, ran {ran} ({rep.src}:{level.lineno})')
    if level in open_levels:
        rep.not_ok(f'{where}: ends',
                   f'started at {rep.src}:{level.lineno} and never ended: '
                   'the kernel or the program died, or hung')
    return leaves_failed


def known_injected_report(lines, lineno):
    """If a known upstream report starts at @lineno: its last line."""
    for what, first, frame in KNOWN_INJECTED:
        if not re.search(first, lines[lineno - 1]):
            continue
        # (A WARNING's register dump and trace run past REPORT_LINES.)
        block = lines[lineno - 1:lineno - 1 + 4 * REPORT_LINES]
        for i, line in enumerate(block):
            if re.search(r'---\[ end trace', line):
                if any(re.search(frame, b) for b in block[:i]):
                    print(f'# excused, known upstream bug after an injected '
                          f'allocation failure: {what} (kernel log line {lineno})')
                    return lineno + i
                break
    return 0


def scan_kernel_log(rep, path, allow):
    """One "not ok" per kind of splat, naming the first line of each."""
    try:
        with open(path, errors='replace') as f:
            lines = f.readlines()
    except OSError as e:
        rep.not_ok(f'kernel log {path} is readable', str(e))
        return
    context = ''
    seen = {}
    last_splat = -REPORT_LINES
    # An allocation failure the fault injector forced (failslab,
    # fail_page_alloc; its one-line notice at verbose 1) makes the
    # allocator print its usual failure report with a stack: that trace is
    # the expected echo of the injection, not a splat. Anything else in or
    # after it (a WARNING, a KASAN report) still is.
    last_injected = -REPORT_LINES
    injected_report_until = 0
    known_until = 0
    for lineno, line in enumerate(lines, 1):
        if lineno <= known_until:
            continue
        if re.search(r'FAULT_INJECTION: forcing a failure', line):
            last_injected = lineno
        if lineno - last_injected <= 10:
            end = known_injected_report(lines, lineno)
            if end:
                known_until = end
                continue
        if (re.search(r'page allocation failure: order:|vmalloc error: size', line)
                and lineno - last_injected <= 10):
            injected_report_until = lineno + 5     # its "Call Trace:"
        line = line.rstrip('\n')
        m = re.search(r'VFMIG-(?:SUITE|MARK)[- ](\S+)', line)
        if m:
            context = m.group(1)
        m = re.match(r'\s*# Subtest: (\S+)', line)
        if m:
            context = m.group(1)
        for kind, rx in SPLATS:
            if not re.search(rx, line) or any(re.search(a, line) for a in allow):
                continue
            # A report's own trace is part of it, not a second splat.
            if kind == 'call trace' and lineno - last_splat < REPORT_LINES:
                break
            if kind == 'call trace' and lineno < injected_report_until:
                break
            last_splat = lineno
            seen.setdefault(kind, (lineno, line.strip(), context))
            break
    for kind, (lineno, line, context) in seen.items():
        where = f' during {context}' if context else ''
        rep.not_ok(f'kernel log has no {kind}',
                   f'{path}:{lineno}{where}: {line[:200]}')
    if not seen:
        rep.ok(f'kernel log {path.split("/")[-1]} has no splat')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('log', help='the TAP/KTAP log ("-" for stdin)')
    ap.add_argument('--prefix', default='', help='put before every name')
    ap.add_argument('--expect', default='',
                    help='comma-separated names that must run at the top level')
    ap.add_argument('--kernel-log', action='append', default=[],
                    help='a kernel log to scan for splats (repeatable)')
    ap.add_argument('--allow', action='append', default=[],
                    help='a regex for a kernel line that is not a splat')
    ap.add_argument('--plans-to-depth', type=int, default=99,
                    help='levels deeper than this may omit their plan '
                         '(KUnit prints none for parameterised cases)')
    args = ap.parse_args()

    src = args.log
    if src == '-':
        lines = sys.stdin.readlines()
        src = 'stdin'
    else:
        try:
            with open(src, errors='replace') as f:
                lines = f.readlines()
        except OSError as e:
            lines = []
            print(f'not ok - {args.prefix}results exist # {e}')
            return 1
    prefix = args.prefix + ' ' if args.prefix else ''
    rep = Report(prefix, src.split('/')[-1])
    top, open_levels = parse(lines)
    if not top.results and top.plan is None:
        rep.not_ok('results exist', f'no TAP results at all in {src}')
    check_level(rep, top, '', open_levels, True, args.plans_to_depth + 1)
    ran = {r[1] for r in top.results}
    for name in filter(None, args.expect.split(',')):
        if name not in ran:
            rep.not_ok(f'{name}: runs', 'expected at the top level, never ran')
    for klog in args.kernel_log:
        scan_kernel_log(rep, klog, args.allow)
    return 1 if rep.failed else 0


if __name__ == '__main__':
    sys.exit(main())
