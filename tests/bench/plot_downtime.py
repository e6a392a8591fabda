#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Plot bench-downtime's migrations as an SVG (no plotting library).

Usage: plot_downtime.py [LABEL=]BENCH_DOWNTIME_TXT... > plot.svg

Reads the rows tests/guest/suite-bench-downtime.sh leaves in
results/bench-downtime.txt ("kind pace_ms status downtime_ms total_ms
vfio_bytes ram_bytes dirty_MiB_per_s") and draws QEMU's downtime of every
completed migration with the device against the workload's measured dirty
rate of the device memory, one colour per file (its LABEL in the legend,
for example "steady writer=sweep3.txt"), with the median of all the
migrations without the device as a dashed line. Rows of kind "ram" (the
same writer on the nested guest's own RAM, no device: the honest baseline
for a guest that dirties memory at that rate) are drawn as hollow squares
in their file's colour, against the rate of the RAM they dirtied.
"""
import statistics
import sys

import svgplot


COLOURS = ('#1f77b4', '#d62728', '#9467bd', '#ff7f0e')


def read_rows(path, series, with_dev, without, ram):
    """Append PATH's completed migrations to WITH_DEV, WITHOUT and RAM."""
    with open(path) as f:
        for line in f:
            r = line.split()
            if len(r) < 8 or r[0].startswith('#') or r[2] != 'completed':
                continue
            if r[0] in ('with', 'ram'):
                try:
                    row = (float(r[7]), float(r[3]), r[1], series)
                except ValueError:      # a row without a measured rate
                    continue
                (with_dev if r[0] == 'with' else ram).append(row)
            elif r[0] == 'without':
                try:
                    without.append(float(r[3]))
                except ValueError:
                    continue


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with_dev, without, ram, labels = [], [], [], []
    for i, arg in enumerate(sys.argv[1:]):
        label, _, path = arg.rpartition('=')
        labels.append(label or 'with the device')
        read_rows(path, i % len(COLOURS), with_dev, without, ram)
    if not with_dev:
        sys.exit("no completed migration with the device")
    base = statistics.median(without) if without else None
    w, h, left, bottom, top, right = 640, 400, 70, 60, 40, 20
    xmax = max(r[0] for r in with_dev + ram) * 1.1 or 1
    ymax = max([r[1] for r in with_dev + ram] + [base or 0, 300]) * 1.1

    def x(v):
        return left + (w - left - right) * v / xmax

    def y(v):
        return h - bottom - (h - bottom - top) * v / ymax
    out = svgplot.frame(w, h, left, bottom, top, right,
                        "Downtime with QEMU's defaults against the guest's "
                        'dirty rate' + (' (device or RAM)' if ram else
                                        ' of device memory'))
    for i in range(6):
        out += svgplot.ygrid(left, w - right, y(ymax * i / 5), '%.0f' % (ymax * i / 5))
        u = xmax * i / 5
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%.1f</text>'
                   % (x(u), h - bottom + 18, u))
    out += svgplot.titles(w, h, left, bottom,
                          "dirty rate of the writer's memory, MiB/s "
                          '(the device BAR; squares: guest RAM)',
                          "downtime, ms (QEMU's figure)")
    out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999" '
               'stroke-dasharray="2,4"/>' % (left, y(300), w - right, y(300)))
    out.append('<text x="%d" y="%.1f" fill="#999">QEMU\'s default limit, '
               '300 ms</text>' % (w - right - 170, y(300) - 4))
    if base is not None:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#2ca02c" '
                   'stroke-dasharray="6,4"/>' % (left, y(base), w - right, y(base)))
        out.append('<text x="%d" y="%.1f" fill="#2ca02c">without the device '
                   '(median %.0f ms)</text>' % (left + 10, y(base) - 4, base))
    for rate, down, pace, series in with_dev:
        out.append('<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>'
                   '%s, pace %s ms: %.1f MiB/s, downtime %.0f ms</title></circle>'
                   % (x(rate), y(down), COLOURS[series], labels[series],
                      pace, rate, down))
    for rate, down, pace, series in ram:
        out.append('<rect x="%.1f" y="%.1f" width="8" height="8" fill="none" '
                   'stroke="%s" stroke-width="1.5"><title>%s, pace %s ms, '
                   'writer on guest RAM: %.1f MiB/s, downtime %.0f ms</title>'
                   '</rect>' % (x(rate) - 4, y(down) - 4, COLOURS[series],
                                labels[series], pace, rate, down))
    for series, label in enumerate(labels[:len(COLOURS)]):
        out.append('<text x="%d" y="%d" fill="%s">%s (one point per '
                   'migration)</text>' % (left + 10, top + 16 * (series + 1),
                                         COLOURS[series], label))
    if ram:
        out.append('<text x="%d" y="%d" fill="#555">hollow squares: the same '
                   'writer on the guest\'s RAM, no device</text>'
                   % (left + 10, top + 16 * (min(len(labels), len(COLOURS)) + 1)))
    out.append('</svg>')
    print('\n'.join(out))


if __name__ == '__main__':
    main()
