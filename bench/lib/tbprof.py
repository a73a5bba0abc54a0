#!/usr/bin/env python3
"""Instructions per request by function, from two bench/lib/tbprof.c profiles.

    python3 bench/lib/tbprof.py BIN PAGELOG PROFILE_N1 PROFILE_N2 N1 N2 [ROWS]

BIN is the armv7 binary that ran (with its symbol table: not stripped), PAGELOG the
`qemu-arm -d page` log of one run (it names where the binary and libc were loaded),
PROFILE_N1/N2 the plugin's outputs of runs with N1 and N2 counted requests. Prints,
for each function, (I_N2 - I_N1) / (N2 - N1): its instructions per request, start-up
and exit cancelling out as in the bench's totals. Code outside the binary is put to
libc's exported symbols, or to "<other shared code>" (the dynamic loader). Code that
no symbol covers is named "after" the symbol before it: ring's assembly has local
labels (the Poly1305 NEON blocks come "after" poly1305 symbols), and libc's memcpy
and memmove variants are internal ("after __xpg_strerror_r" in Debian 12's armhf
libc). Python 3.11, standard library only.
"""
import bisect
import collections
import re
import subprocess
import sys

LIBC = "/usr/arm-linux-gnueabihf/lib/libc.so.6"
NM = "arm-linux-gnueabihf-nm"


def symbols(path, dynamic=False):
    args = [NM, "-S", "--defined-only"] + (["-D"] if dynamic else ["-C"]) + [path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in "tTwWi":
            table.setdefault(int(parts[0], 16) & ~1, (int(parts[1], 16), parts[3]))
    starts = sorted(table)
    return starts, table


def lookup(starts, table, offset):
    """The function at `offset`; for code no symbol covers (assembly's local labels,
    libc's internal functions), "after NAME", the symbol before it."""
    i = bisect.bisect_right(starts, offset) - 1
    if i < 0:
        return None
    size, name = table[starts[i]]
    name = re.sub(r"::h[0-9a-f]{16}$", "", name)
    if offset < starts[i] + max(size, 1):
        return name
    return "after " + name


def load_bases(pagelog):
    """The binary's load address (start_code) and libc's: the first executable
    mapping of libc's text size that is not the binary's."""
    text = open(pagelog).read()
    start = int(re.search(r"start_code\s+0x([0-9a-f]+)", text).group(1), 16)
    end = int(re.search(r"end_code\s+0x([0-9a-f]+)", text).group(1), 16)
    libc_text = 0
    out = subprocess.run(["arm-linux-gnueabihf-readelf", "-lW", LIBC], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            libc_text = int(f[5], 16)
            break
    libc = None
    for m in re.finditer(r"^([0-9a-f]+)-([0-9a-f]+) ([0-9a-f]+) r-x", text, re.M):
        lo, size = int(m.group(1), 16), int(m.group(3), 16)
        if not (start <= lo < end) and abs(size - libc_text) < 0x2000:
            libc = lo
    return start, end, libc


def per_function(path, where):
    counts = collections.Counter()
    for line in open(path):
        vaddr, insns, runs = line.split()
        counts[where(int(vaddr, 16))] += int(insns) * int(runs)
    return counts


def main():
    binary, pagelog, p1, p2, n1, n2 = sys.argv[1:7]
    rows = int(sys.argv[7]) if len(sys.argv) > 7 else 40
    n1, n2 = int(n1), int(n2)
    start, end, libc = load_bases(pagelog)
    own = symbols(binary)
    lib = symbols(LIBC, dynamic=True)

    def where(vaddr):
        if start <= vaddr < end:
            return lookup(*own, vaddr - start) or "<binary start>"
        if libc is not None and libc <= vaddr < libc + 0x200000:
            return "libc: " + (lookup(*lib, vaddr - libc) or "<start>")
        return "<other shared code>"

    a, b = per_function(p1, where), per_function(p2, where)
    per_request = {k: (b[k] - a[k]) / (n2 - n1) for k in set(a) | set(b)}
    print("%10.0f  instructions per request in all" % sum(per_request.values()))
    for name, v in sorted(per_request.items(), key=lambda kv: -kv[1])[:rows]:
        print("%10.0f  %s" % (v, name[:140]))


main()
