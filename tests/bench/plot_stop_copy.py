#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Plot mig_bench's stop_copy figures as an SVG (no plotting library).

Usage: plot_stop_copy.py BENCH_OUTPUT... > plot.svg

Reads the "stop_copy" lines of one or more mig_bench outputs (one per BAR
size, from tests/guest/suite-bench.sh's results/bench.txt) and draws, for
each BAR size, STOP_COPY time (ms) against the share of the BAR's pages
written during PRE_COPY. The x axis is the written share (0, 1, 10,
100 %), equally spaced.
"""
import math
import re
import sys

import svgplot

LINE = re.compile(r"^\s*([\d.]+)% \((\d+) pages\): (\d+) bytes in ([\d.]+) ms")
BAR = re.compile(r"^throughput: BAR (\d+) MiB")
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def parse(path):
    bar, points = "?", []
    with open(path) as f:
        for line in f:
            line = re.sub(r"^#\s*bench:\s?", "", line.strip())
            m = BAR.match(line)
            if m:
                bar = m.group(1)
            m = LINE.match(line)
            if m:
                points.append((float(m.group(1)), int(m.group(3)),
                               float(m.group(4))))
    return bar, points


def main():
    series = [parse(p) for p in sys.argv[1:]]
    series = [s for s in series if s[1]]
    if not series:
        sys.exit("no stop_copy lines found")
    w, h, left, bottom, top = 640, 400, 70, 60, 40
    # Log scale: 0.1 ms to the next power of ten above the slowest.
    top_exp = math.ceil(math.log10(max(t for _, pts in series
                                       for _, _, t in pts) or 1))
    lo_exp = -1
    xs = sorted({p for _, pts in series for p, _, _ in pts})
    def x(p):
        return left + (w - left - 30) * xs.index(p) / max(len(xs) - 1, 1)
    def y(t):
        e = math.log10(max(t, 10 ** lo_exp))
        return h - bottom - (h - bottom - top) * (e - lo_exp) / (top_exp - lo_exp)
    out = svgplot.frame(w, h, left, bottom, top, 20,
                        'STOP_COPY time against the share of the memory BAR '
                        'written during PRE_COPY')
    for e in range(lo_exp, top_exp + 1):
        out += svgplot.ygrid(left, w - 20, y(10 ** e), '%g' % 10 ** e)
    for p in xs:
        out.append('<text x="%d" y="%d" text-anchor="middle">%g%%</text>'
                   % (x(p), h - bottom + 18, p))
    out += svgplot.titles(w, h, left, bottom,
                          'pages written during PRE_COPY (share of the BAR)',
                          'STOP_COPY ms, log scale (arc + read to EOF)')
    for k, (bar, pts) in enumerate(series):
        c = COLORS[k % len(COLORS)]
        path = " ".join("%s%.1f,%.1f" % ("M" if i == 0 else "L", x(p), y(t))
                        for i, (p, _, t) in enumerate(pts))
        out.append('<path d="%s" fill="none" stroke="%s" stroke-width="2"/>'
                   % (path, c))
        for p, b, t in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>'
                       '%s MiB BAR, %g%%: %d bytes, %.1f ms</title></circle>'
                       % (x(p), y(t), c, bar, p, b, t))
        out.append('<text x="%d" y="%d" fill="%s">BAR %s MiB</text>'
                   % (left + 10, top + 16 * (k + 1), c, bar))
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
