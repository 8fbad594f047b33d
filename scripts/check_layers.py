#!/usr/bin/env python3
"""Fails when a source file includes a header of a layer its folder may not use.

Reads the layer table (cmake/layers.txt: "folder: folders it may use"), then scans every
C++ file under each folder listed there for `#include "X/..."` (or <X/...>) where X is another
folder of the table, and reports each include the table does not allow, one per line:

  cli/common.h:14: includes "node/config.h": cli may use only base crypto ...

Exit status: 0 when every include is allowed, 1 when one is not, 2 on a bad table or usage.
cmake/layers.cmake checks the same table against the CMake link graph at configure time.
"""
import argparse
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
SOURCES = {".h", ".hpp", ".cpp", ".cc"}


def read_table(path):
    allowed = {}
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_]+)\s*:(.*)", line)
        if not m:
            raise ValueError(f"{path}:{n}: not 'folder: folders...': {raw!r}")
        allowed.setdefault(m.group(1), set()).update(m.group(2).split())
    for folder, deps in allowed.items():
        unknown = deps - allowed.keys()
        if unknown:
            raise ValueError(f"{path}: {folder} may use {', '.join(sorted(unknown))}, "
                             "which the table does not list")
    return allowed


def violations(root, allowed):
    for folder in sorted(allowed):
        base = root / folder
        if not base.is_dir():
            continue
        for f in sorted(base.rglob("*")):
            if f.suffix not in SOURCES or not f.is_file():
                continue
            for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m or "/" not in m.group(1):
                    continue
                dep = m.group(1).split("/", 1)[0]
                if dep in allowed and dep != folder and dep not in allowed[folder]:
                    may = " ".join(sorted(allowed[folder])) or "(nothing)"
                    yield (f"{f.relative_to(root)}:{n}: includes \"{m.group(1)}\": "
                           f"{folder} may use only {may}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".", help="source tree (default: .)")
    ap.add_argument("--table", help="layer table (default: ROOT/cmake/layers.txt)")
    args = ap.parse_args()
    root = pathlib.Path(args.root)
    table = pathlib.Path(args.table) if args.table else root / "cmake" / "layers.txt"
    try:
        allowed = read_table(table)
    except (OSError, ValueError) as e:
        print(f"check_layers: {e}", file=sys.stderr)
        return 2
    bad = list(violations(root, allowed))
    for v in bad:
        print(v)
    if bad:
        print(f"check_layers: {len(bad)} include(s) reach a higher layer (table: {table})")
        return 1
    print(f"check_layers: every include follows {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
