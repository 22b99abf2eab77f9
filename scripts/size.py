#!/usr/bin/env python3
"""What a phone downloads before a page reacts, from the release build in target/site/pkg.

`make size` prints each asset (raw, gzip -9, brotli quality 11) and, for the first route of each
kind of user in size-budget.toml, the wasm + js it needs. `--check` (run by `make test` after the
release build) exits 1 when a route needs more than the budget there.

The portal is built in islands mode: one small module holds every island, so every route needs
all of it, and a later route needs nothing more (pages are page loads; the module is cached
under its content-hashed name). Brotli comes from Node's zlib (Python's standard library has none).
"""

import argparse
import gzip
import pathlib
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BROTLI_JS = (
    "const z=require('zlib');const b=require('fs').readFileSync(process.argv[1]);"
    "process.stdout.write(String(z.brotliCompressSync(b,{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length))"
)


def newest(pkg: pathlib.Path, ext: str) -> pathlib.Path:
    """The newest `portal*.<ext>` (a release build names it portal.<hash>.<ext>)."""
    files = sorted(pkg.glob(f"portal*.{ext}"), key=lambda p: p.stat().st_mtime, reverse=True)
    files = [f for f in files if not f.name.endswith(".d.ts")]
    if not files:
        sys.exit(f"missing {pkg}/portal*.{ext}: run 'make build' first")
    return files[0]


def sizes(path: pathlib.Path) -> tuple[int, int, int]:
    data = path.read_bytes()
    brotli = subprocess.run(["node", "-e", BROTLI_JS, str(path)], check=True, capture_output=True, text=True).stdout
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0)), int(brotli)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a route exceeds its budget")
    parser.add_argument("--site", default=str(ROOT / "target" / "site"), help="the built site (target/site)")
    args = parser.parse_args()
    budget = tomllib.loads((ROOT / "size-budget.toml").read_text())
    pkg = pathlib.Path(args.site) / "pkg"

    assets = {ext: newest(pkg, ext) for ext in ("wasm", "js", "css")}
    measured = {ext: sizes(path) for ext, path in assets.items()}
    for ext, (raw, gz, br) in measured.items():
        print(f"portal.{ext:<5} {raw:>10,} raw {gz:>10,} gzip {br:>10,} brotli   ({assets[ext].name})")

    # One module: every route needs the wasm and its glue (the stylesheet is render-blocking
    # but not needed to react; it is listed above).
    first = tuple(a + b for a, b in zip(measured["wasm"], measured["js"]))
    limit = budget["budget"]["first_route_brotli"]
    print()
    print(f"{'first route':<16} {'path':<16} {'raw':>10} {'gzip':>10} {'brotli':>10}   budget {limit:,}")
    over = []
    for name, path in budget["routes"].items():
        raw, gz, br = first
        print(f"{name:<16} {path:<16} {raw:>10,} {gz:>10,} {br:>10,}")
        if br > limit:
            over.append(f"{name} ({path}) needs {br:,} brotli bytes, over the budget of {limit:,}")
    print("a later route: 0 more bytes (a page load; the module is already cached)")
    if args.check:
        if over:
            print("\nsize budget exceeded (size-budget.toml):\n  " + "\n  ".join(over), file=sys.stderr)
            return 1
        print(f"\nevery route within its budget ({limit:,} brotli bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
