#!/usr/bin/env python3
"""The pictures of BENCHMARKS.md, drawn from bench/bench.sh's results file as plain SVG
(no script, no external font or style, a white background so that it reads on a dark
page too). Python 3.11, standard library only.

    python3 bench/lib/chart.py OUT     OUT/results.txt -> OUT/insns.svg, OUT/rtt.svg

insns.svg: instructions per request, armv7, tinyhttps beside ureq, one group per
scenario (A to E). The scenarios differ by up to 1000x, so each group is drawn to its
own scale (its longer bar is full width); the figures and the ratio are written out.
rtt.svg: round trips per request over the delay relay (median wall time / RTT), on one
scale with a line at each whole round trip.
"""

import sys
from html import escape
from pathlib import Path

# report.py beside this file, imported without leaving a __pycache__ in the tree.
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import RTT_ROWS, insns, load  # noqa: E402

TINY_COLOR = "#2b6cb0"
UREQ_COLOR = "#a0aec0"
TEXT = "#1a202c"
MUTED = "#4a5568"
FONT = "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\""

# Layout, in SVG pixels.
WIDTH = 760
LEFT = 110  # where bars start (client names to the left)
BAR_MAX = 470  # the longest bar of a group
BAR_H = 18
GAP = 6

# Scenario key, title.
INSN_GROUPS = (
    ("A", "A  keep-alive GET 1 KiB"),
    ("B", "B  keep-alive GET 20 KiB"),
    ("C", "C  new connection per request (resumed TLS 1.3)"),
    ("D", "D  16 netlocs round robin, 1 KiB"),
    ("E", "E  one 1 MiB download"),
)


def text(x, y, s, size=13, color=TEXT, anchor="start", weight="normal"):
    return (f'<text x="{x}" y="{y}" {FONT} font-size="{size}" fill="{color}" '
            f'text-anchor="{anchor}" font-weight="{weight}">{escape(s)}</text>')


def bar(x, y, w, color):
    return f'<rect x="{x}" y="{y}" width="{max(w, 1):.1f}" height="{BAR_H}" fill="{color}"/>'


def svg(height, parts, title):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">\n'
            f'<title>{escape(title)}</title>\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            + "\n".join(parts) + "\n</svg>\n")


def legend(y):
    return [
        f'<rect x="{LEFT}" y="{y - 11}" width="12" height="12" fill="{TINY_COLOR}"/>',
        text(LEFT + 18, y, "tinyhttps", 12),
        f'<rect x="{LEFT + 100}" y="{y - 11}" width="12" height="12" fill="{UREQ_COLOR}"/>',
        text(LEFT + 118, y, "ureq 3", 12),
    ]


def insns_chart(r):
    title = "Instructions per request, armv7 (qemu cortex-a7): tinyhttps vs ureq 3"
    parts = [text(10, 22, title, 15, weight="bold"),
             text(10, 40, "each group on its own scale; lower is better", 12, MUTED)]
    parts += legend(60)
    y = 80
    for key, name in INSN_GROUPS:
        tiny, ureq = r.get(f"{key}.tiny"), r.get(f"{key}.ureq")
        if tiny is None or ureq is None:
            continue
        tiny, ureq = float(tiny), float(ureq)
        top = max(tiny, ureq)
        parts.append(text(10, y + 14, f"{name}: {tiny / ureq:.2f} x ureq", 13, weight="bold"))
        y += 22
        for label, value, color in (("tinyhttps", tiny, TINY_COLOR), ("ureq", ureq, UREQ_COLOR)):
            w = BAR_MAX * value / top
            parts.append(text(LEFT - 8, y + 14, label, 12, MUTED, "end"))
            parts.append(bar(LEFT, y, w, color))
            parts.append(text(LEFT + w + 6, y + 14, insns(value), 12))
            y += BAR_H + GAP
        y += 10
    return svg(y + 4, parts, title)


def rtt_chart(r):
    rtt = float(r["R.rtt_ms"])
    title = f"Round trips per request at {rtt:g} ms RTT (median wall time / RTT)"
    rows = []
    for key, name, expected in RTT_ROWS:
        got = [(label, float(r[f"R.{key}.{c}"]), color)
               for label, c, color in (("tinyhttps", "tiny", TINY_COLOR), ("ureq", "ureq", UREQ_COLOR))
               if f"R.{key}.{c}" in r]
        if got:
            rows.append((name, expected, got))
    scale_rt = max([4.0] + [ms / rtt for _, _, got in rows for _, ms, _ in got])
    per_rt = BAR_MAX / scale_rt
    parts = [text(10, 22, title, 15, weight="bold"),
             text(10, 40, "lower is better; expected: keep-alive 1, new connection 3, "
                  "with early data 2", 12, MUTED)]
    parts += legend(60)
    grid = []
    y = 76
    body_top = y
    for name, expected, got in rows:
        parts.append(text(10, y + 14, f"{name} (expected {expected})", 13, weight="bold"))
        y += 22
        for label, wall, color in got:
            w = per_rt * wall / rtt
            parts.append(text(LEFT - 8, y + 14, label, 12, MUTED, "end"))
            parts.append(bar(LEFT, y, w, color))
            parts.append(text(LEFT + w + 6, y + 14, f"{wall / rtt:.1f} RT, {wall:.0f} ms", 12))
            y += BAR_H + GAP
        y += 10
    # A thin line at each whole round trip, labelled at the bottom.
    for k in range(1, int(scale_rt) + 1):
        x = LEFT + k * per_rt
        grid.append(f'<line x1="{x:.1f}" y1="{body_top}" x2="{x:.1f}" y2="{y - 6}" '
                        f'stroke="#e2e8f0" stroke-width="1"/>')
        parts.append(text(x, y + 8, f"{k} RT", 11, MUTED, "middle"))
    # The lines first, so that the bars are drawn over them.
    return svg(y + 16, grid + parts, title)


def main(out):
    out = Path(out)
    r = load(out / "results.txt")
    (out / "insns.svg").write_text(insns_chart(r))
    if "R.rtt_ms" in r:
        (out / "rtt.svg").write_text(rtt_chart(r))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
