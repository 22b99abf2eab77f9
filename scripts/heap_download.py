#!/usr/bin/env python3
"""The heap one "Download now" holds, counted allocation by allocation (issue 16: "memory added
by one render stays under 16 MiB").

The resident-memory figures of `portal bench download` move from run to run: mimalloc keeps
freed pages for reuse, and the first download of a process also fills SQLite's page and statement
caches (bounded per connection) and loads the fonts (once per process). This script counts the
heap instead. It builds the portal with the system allocator (`--bin-features system-alloc`: only
the `portal` binary is rebuilt), runs `portal bench download --only FORMAT` under heaptrack
(Debian's `heaptrack` package), replays every allocation and free of the recording, and reports
the most the download's own code held at once: allocations made under the copy's functions
(reading the record, the Bundle, the PDF, the C-CDA, the attachments, the zip), leaving out
SQLite's caches and the fonts loaded once per process, which later downloads reuse.

    python3 scripts/heap_download.py [pdf|fhir|ccda|zip|scanned ...]   (default: pdf)

Heaptrack's own figure for the whole process (import and caches included) is printed beside it.
"""

import os
import subprocess
import sys
import tempfile

# A stack with one of these frames is the download's work...
DOWNLOAD = (
    "download_now",
    "make_copy",
    "copy_content",
    "fhir_pool",
    "directory_for",
    "render_copy",
    "self_contained_bundle",
    "copies::pdf::render",
    "copies::ccda::document",
    "place_attachments",
    "place_into",
    "attach::Placer",
    "copies::package::zip",
)
# ...unless it is one of what a process keeps for every later download.
KEPT = ("sqlite3", "Face::load", "pdf::fonts")


def build(root):
    env = dict(os.environ, PATH=f"{root}/node_modules/.bin:{os.environ['PATH']}")
    subprocess.run(["cargo", "leptos", "build", "--release", "--bin-features", "system-alloc"], cwd=root, env=env, check=True)
    binary = os.path.join(tempfile.mkdtemp(prefix="portal-heap-"), "portal")
    subprocess.run(["cp", os.path.join(root, "target/release/portal"), binary], check=True)
    # Put the usual binary back, so `target/release/portal` stays the one with mimalloc.
    subprocess.run(["cargo", "leptos", "build", "--release"], cwd=root, env=env, check=True)
    return binary


def replay(recording):
    """The most bytes allocated under DOWNLOAD frames (and no KEPT frame) live at once, and the
    heap's peak, from heaptrack's interpreted data (hex fields; `s` strings, `i` frames, `t`
    traces, `a` allocation kinds, `+`/`-` allocations and frees of a kind)."""
    data = subprocess.run(["zstdcat", recording], check=True, capture_output=True, text=True, errors="replace").stdout
    strings, frames, traces, kinds = [""], [None], [(0, 0)], []
    counted = {}

    def counts(trace):
        # Whether the stack from this trace up is the download's (and not a kept cache's).
        seen_download, seen_kept, t = False, False, trace
        while t:
            ip, parent = traces[t]
            for name in frames[ip] or ():
                seen_download |= any(d in name for d in DOWNLOAD)
                seen_kept |= any(k in name for k in KEPT)
            t = parent
        return seen_download and not seen_kept

    live = peak = 0
    mine = mine_peak = 0
    for line in data.splitlines():
        if not line:
            continue
        tag, rest = line[0], line[2:]
        if tag == "s":
            strings.append(rest.split(" ", 1)[1] if " " in rest else rest)
        elif tag == "i":
            f = rest.split()
            # ip, module, then (function, file, line) for the frame and each inlined one.
            names = [strings[int(f[k], 16)] for k in range(2, len(f), 3)]
            frames.append(names)
        elif tag == "t":
            ip, parent = rest.split()
            traces.append((int(ip, 16), int(parent, 16)))
        elif tag == "a":
            size, trace = rest.split()
            kinds.append((int(size, 16), int(trace, 16)))
        elif tag in "+-":
            k = int(rest, 16)
            size, trace = kinds[k]
            if trace not in counted:
                counted[trace] = counts(trace)
            sign = 1 if tag == "+" else -1
            live += sign * size
            peak = max(peak, live)
            if counted[trace]:
                mine += sign * size
                mine_peak = max(mine_peak, mine)
    return mine_peak, peak


def main():
    import shutil

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    formats = sys.argv[1:] or ["pdf"]
    unknown = [f for f in formats if f not in ("pdf", "fhir", "ccda", "zip", "scanned")]
    if unknown:
        sys.exit(f"unknown part {unknown[0]!r}: choose among pdf, fhir, ccda, zip, scanned")
    for tool, package in (("heaptrack", "heaptrack"), ("zstdcat", "zstd")):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install {package}")
    binary = build(root)
    work = tempfile.mkdtemp(prefix="portal-heaptrack-")
    for fmt in formats:
        out = os.path.join(work, fmt)
        run = subprocess.run(["heaptrack", "-o", out, binary, "bench", "download", "--only", fmt], cwd=root, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"heaptrack failed for {fmt}:\n{run.stdout}\n{run.stderr}")
        timing = [l for l in run.stdout.splitlines() if l.startswith(("PDF", "FHIR", "C-CDA", "all three"))]
        mine, peak = replay(out + ".zst")
        print(f"{fmt}: the download's own heap at most {mine / 2**20:.1f} MiB at once; whole process peak {peak / 2**20:.1f} MiB")
        for l in timing:
            print(f"  (under heaptrack, times are slower) {l}")


if __name__ == "__main__":
    main()
