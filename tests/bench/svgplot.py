# SPDX-License-Identifier: GPL-2.0-only
"""The SVG pieces the benchmark plots share (no plotting library): the
page with its title, the two axes, grid lines with their labels, and the
axis titles. Each returns SVG element strings for the caller's list."""


def frame(w, h, left, bottom, top, right, title):
    """The white page, the title and the two axes."""
    return ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'font-family="sans-serif" font-size="12">' % (w, h),
            '<rect width="100%" height="100%" fill="white"/>',
            '<text x="%d" y="20" font-size="14">%s</text>' % (left, title),
            '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>'
            % (left, h - bottom, w - right, h - bottom),
            '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>'
            % (left, top, left, h - bottom)]


def ygrid(left, x_end, ypos, label):
    """A grid line at height ypos, labelled left of the y axis."""
    return ['<text x="%d" y="%.1f" text-anchor="end">%s</text>'
            % (left - 6, ypos + 4, label),
            '<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
            % (left, ypos, x_end, ypos)]


def titles(w, h, left, bottom, xtitle, ytitle):
    """The x axis title below it and the y axis title turned along it."""
    return ['<text x="%d" y="%d" text-anchor="middle">%s</text>'
            % ((left + w) / 2, h - 15, xtitle),
            '<text x="15" y="%d" transform="rotate(-90 15 %d)" '
            'text-anchor="middle">%s</text>' % (h / 2, h / 2, ytitle)]
