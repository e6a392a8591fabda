#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn KUnit's KTAP output into one flat TAP line per test case.

A parameterized case counts once per parameter. Prints a "not ok" line if
no KUnit result was found at all (a crashed or unbuilt kernel), and exits
non-zero if any case failed or none ran.
"""
import re
import sys

RESULT = re.compile(r'^(\s*)(ok|not ok) \d+ (.*?)(?:\s+#\s*(.*))?$')


def main():
    lines = sys.stdin.read().splitlines()
    # KTAP nests by 4 spaces: suites at depth 0, cases at 1, params at 2.
    results = []
    for line in lines:
        m = RESULT.match(line)
        if m:
            depth = len(m.group(1).expandtabs(8)) // 4
            results.append((depth, m.group(2) == 'ok', m.group(3),
                            m.group(4) or ''))
    out = []
    suite_cases = []
    params = []
    for depth, ok, name, note in results:
        if depth == 2:
            params.append((ok, name, note))
        elif depth == 1:
            if params:
                suite_cases += [(o, name + ': ' + n, nt) for o, n, nt in params]
            else:
                suite_cases.append((ok, name, note))
            params = []
        elif depth == 0:
            out += [(o, name + '.' + n, nt) for o, n, nt in suite_cases]
            suite_cases = []
    failed = 0
    for ok, name, note in out:
        skip = note.upper().startswith('SKIP')
        if ok or skip:
            print(f'ok - kunit {name}' + (f' # {note}' if skip else ''))
        else:
            failed += 1
            print(f'not ok - kunit {name} # {note or "see out/kunit.ktap"}')
    if not out:
        print('not ok - kunit suites ran # no KUnit results, see out/kunit.ktap')
        return 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
