#!/usr/bin/env python3
"""The tables of bench/bench.sh, from its results file; and BENCHMARKS.md refreshed from
them. Python 3.11, standard library only.

    python3 bench/lib/report.py write OUT        OUT/results.txt -> OUT/table.md,
                                                 OUT/raw.txt, OUT/rtt.md
    python3 bench/lib/report.py refresh OUT DOC  copies OUT/*.svg to bench/ and replaces,
                                                 in DOC (BENCHMARKS.md), the text
                                                 between each `<!-- bench:NAME -->` and
                                                 `<!-- /bench:NAME -->` with OUT/NAME
                                                 (a file that is missing leaves its
                                                 block as it is, e.g. sizes.md before
                                                 bench/size.sh exists)

results.txt holds one "KEY VALUE" per line, as bench.sh records them:
  A.tiny 62600           instructions per request (scenario A, tinyhttps)
  A.tiny.raw 100:I,1100:I  the GUEST_INSNS of the two runs
  F.ureq 560507          bytes; G.NAME bytes; x86A.tiny CPU ms per request
  R.rtt_ms 50            the round-trip time the delay relay added
  R.A.tiny 50.9          median wall ms per request over the relay
"""

import shutil
import sys
from pathlib import Path


def load(path):
    r = {}
    for line in open(path):
        if line.strip():
            key, value = line.split(None, 1)
            r[key] = value.strip()
    return r


def insns(v):
    v = float(v)
    return f"{v / 1e6:.3f} M" if v >= 1e6 else f"{v / 1e3:.1f} K"


def kib(v):
    return f"{float(v) / 1024:.1f} KiB"


def mb(v):
    return f"{float(v) / 1e6:.3f} MB"


def ms(v):
    return f"{float(v):.4f} ms"


def markdown(head, rows):
    """A Markdown table whose columns line up in plain text too."""
    widths = [max(len(row[i]) for row in rows + [head]) for i in range(len(head))]

    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(row) for row in rows]) + "\n"


def main_table(r):
    rows = []

    def ratio_row(name, tiny, ref, fmt, target, limit):
        if tiny not in r or ref not in r:
            return
        ratio = float(r[tiny]) / float(r[ref])
        verdict = "" if limit is None else ("met" if ratio <= limit else "missed")
        rows.append((name, fmt(r[tiny]), fmt(r[ref]), f"{ratio:.2f}", target, verdict))

    def absolute_row(name, tiny, ref, fmt, target, limit):
        if tiny not in r:
            return
        v = float(r[tiny])
        ratio = f"{v / float(r[ref]):.2f}" if ref in r else ""
        rows.append((name, fmt(r[tiny]), fmt(r[ref]) if ref in r else "", ratio, target,
                     "met" if v <= limit else "missed"))

    ratio_row("A keep-alive GET 1 KiB, insns/req", "A.tiny", "A.ureq", insns, "<= 0.5 x ureq", 0.5)
    ratio_row("B keep-alive GET 20 KiB, insns/req", "B.tiny", "B.ureq", insns, "<= 0.6 x ureq", 0.6)
    ratio_row("B  tinyhttps --cipher aes256 (ureq's cipher)", "B.aes256.tiny", "B.ureq", insns,
              "(info)", None)
    ratio_row("C new connection per request, insns/req", "C.tiny", "C.ureq", insns, "<= 0.8 x ureq", 0.8)
    ratio_row("C  vs tinyhttps --no-tls-cache --no-resumption (ureq column: that baseline)",
              "C.tiny", "C.full.tiny", insns, "<= 0.15 x baseline", 0.15)
    ratio_row("D 16 netlocs round robin, defaults, insns/req", "D.tiny", "D.ureq", insns,
              "<= 0.1 x ureq", 0.1)
    ratio_row("D  tinyhttps --tls-cache-size 8", "D.cache8.tiny", "D.ureq", insns, "<= 0.1 x ureq", 0.1)
    ratio_row("D  tinyhttps --tls-cache-size 16", "D.cache16.tiny", "D.ureq", insns, "<= 0.1 x ureq", 0.1)
    ratio_row("D  tinyhttps --mode fresh --tls-cache-size 8 (evicting)", "D.fresh8.tiny", "D.ureq",
              insns, "(info)", None)
    ratio_row("D  tinyhttps --mode fresh --tls-cache-size 16", "D.fresh16.tiny", "D.ureq", insns,
              "(info)", None)
    ratio_row("D' 16 ports of one host name (localhost), defaults", "D1.tiny", "D1.ureq", insns,
              "(info)", None)
    ratio_row("D'  tinyhttps --mode fresh --tls-cache-size 8", "D1.fresh8.tiny", "D1.ureq", insns,
              "(info)", None)
    ratio_row("E one 1 MiB download, insns/req", "E.tiny", "E.ureq", insns, "<= 0.6 x ureq", 0.6)
    ratio_row("E  tinyhttps --cipher aes256 (ureq's cipher)", "E.aes256.tiny", "E.ureq", insns,
              "(info)", None)
    absolute_row("F heap per idle pooled TLS connection", "F.tiny", "F.ureq", kib, "<= 48 KiB",
                 48 * 1024)
    ratio_row("G minimal GET program, armv7 stripped, default features", "G.tinyhttps-get",
              "G.ureq-get", mb, "<= 0.93 x ureq", 0.93)
    ratio_row("G  tinyhttps-get, default-features = false", "G.tinyhttps-get-nodefault",
              "G.ureq-get", mb, "(info)", None)
    ratio_row("x86 CPU ms/req A (median of 5, noisy)", "x86A.tiny", "x86A.ureq", ms, "(info)", None)
    ratio_row("x86 CPU ms/req C (median of 5, noisy)", "x86C.tiny", "x86C.ureq", ms, "(info)", None)
    return markdown(("scenario", "tinyhttps", "ureq", "ratio", "target", "met?"), rows)


def raw_counts(r):
    lines = [f"{key[:-4]:<18} {r[key]}" for key in sorted(k for k in r if k.endswith(".raw"))]
    return "\n".join(lines) + "\n"


# The round-trip scenarios: key, name, round trips expected.
RTT_ROWS = (
    ("A", "A keep-alive GET 1 KiB", 1),
    ("C", "C new connection per request, resumed TLS 1.3", 3),
    ("Cearly", "C  with early data (tinyhttps --early-data)", 2),
    ("Cfull", "C  full handshake (tinyhttps --no-tls-cache --no-resumption)", 3),
)


def round_trips(r, key):
    """The median wall ms of KEY and that in round trips, or None."""
    if key not in r:
        return None
    wall = float(r[key])
    return wall, wall / float(r["R.rtt_ms"])


def rtt_table(r):
    if "R.rtt_ms" not in r:
        return ""
    rows = []
    for key, name, expected in RTT_ROWS:
        tiny, ureq = round_trips(r, f"R.{key}.tiny"), round_trips(r, f"R.{key}.ureq")
        if tiny is None and ureq is None:
            continue
        cells = []
        for got in (tiny, ureq):
            cells += [f"{got[0]:.1f}", f"{got[1]:.1f}"] if got else ["", ""]
        # As expected: every measured client within half a round trip of the count.
        ok = all(abs(got[1] - expected) < 0.5 for got in (tiny, ureq) if got)
        rows.append((name, *cells, str(expected), "yes" if ok else "NO"))
    head = ("scenario", "tinyhttps ms", "round trips", "ureq ms", "round trips", "expected",
            "as expected?")
    return markdown(head, rows)


def write(out):
    out = Path(out)
    r = load(out / "results.txt")
    (out / "table.md").write_text(main_table(r))
    (out / "raw.txt").write_text(raw_counts(r))
    (out / "rtt.md").write_text(rtt_table(r))


def refresh(out, doc):
    out, doc = Path(out), Path(doc)
    for svg in sorted(out.glob("*.svg")):
        shutil.copyfile(svg, Path(__file__).resolve().parent.parent / svg.name)
    text = doc.read_text()
    for part in sorted(out.iterdir()):
        start, end = f"<!-- bench:{part.name} -->", f"<!-- /bench:{part.name} -->"
        if start not in text:
            continue
        head, rest = text.split(start, 1)
        if end not in rest:
            sys.exit(f"{doc}: {start} without {end}")
        body = part.read_text()
        fence = "" if part.suffix == ".md" else "```text\n"
        text = head + start + "\n" + fence + body + ("```\n" if fence else "") + end + \
            rest.split(end, 1)[1]
    doc.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "refresh":
        refresh(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
