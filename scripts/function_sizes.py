#!/usr/bin/env python3
"""The largest C++ files and functions of a source tree, as markdown tables.

    scripts/function_sizes.py [ROOT] [--top N] [--over LINES] [--exclude PREFIX ...]

A function is a definition whose opening line (the one ending in '{') starts at column 0 and
whose body ends at the next '}' at column 0: the shape clang-format gives every free function,
member function defined out of line and TEST_CASE in this tree (namespaces are not indented).
Its size is the number of lines from the first line of its signature to its closing brace.
Functions defined inside a class body (indented) are not counted; they are short by
convention. --over lists every function of at least LINES lines, for finding the ones to
split; without it the script prints the two top-N tables the closing notes compare.
"""

import argparse
import os
import re
import sys

SOURCE_SUFFIXES = (".cpp", ".cc", ".h", ".hpp")
SKIP_DIRS = {".git", "out", ".cache"}
# Column-0 lines ending in '{' that open something other than a function body.
NOT_A_FUNCTION = re.compile(
    r"^(namespace\b|(template\s*<.*>\s*)?(class|struct|union|enum)\b|extern\s+\"C\"|.*=\s*\{$)")
NAME = re.compile(r"(TEST_CASE|TEMPLATE_TEST_CASE|SCENARIO)\s*\(\s*(\"(?:[^\"\\]|\\.)*\")|"
                  r"((?:[A-Za-z_]\w*::)*~?[A-Za-z_]\w*|operator\s*\S+)\s*\(")


def source_files(root, excludes):
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIP_DIRS and not d.startswith("build")
            and not any(os.path.join(rel_dir, d).lstrip("./").startswith(e) for e in excludes))
        for f in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, f))
            if f.endswith(SOURCE_SUFFIXES) and not any(rel.startswith(e) for e in excludes):
                yield rel


def strip_comment(line):
    return line.split("//", 1)[0].rstrip()


def signature_start(lines, open_index):
    """The first line of the declaration whose body opens at lines[open_index]."""
    i = open_index
    while i > 0:
        prev = strip_comment(lines[i - 1])
        if (not prev.strip() or prev.startswith("#") or prev.endswith((";", "}", "{"))
                or lines[i - 1].lstrip().startswith(("//", "/*", "*"))):
            break
        i -= 1
    return i


def function_name(signature):
    m = NAME.search(signature)
    if not m:
        return signature.strip()[:60]
    if m.group(1):
        return "%s(%s)" % (m.group(1), m.group(2))
    return m.group(3)


def functions(path, text):
    """(name, first_line, size) of each column-0 function in `text` (1-based lines)."""
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        line = strip_comment(lines[i])
        opens = (line and not line[0].isspace() and line.endswith("{")
                 and not line.startswith(("#", "}", "/", "*")) and not NOT_A_FUNCTION.match(line))
        # A signature wrapped over several lines ends with its '{' on an indented line.
        if not opens and line.endswith((") {", ") const {", ") override {")):
            start = signature_start(lines, i)
            opens = start < i and lines[start] and not lines[start][0].isspace() and \
                not NOT_A_FUNCTION.match(strip_comment(lines[start]))
        if not opens:
            i += 1
            continue
        start = signature_start(lines, i)
        end = i + 1
        while end < len(lines) and not lines[end].startswith("}"):
            end += 1
        if end == len(lines):  # not a body after all (e.g. an unbalanced macro)
            i += 1
            continue
        signature = " ".join(l.strip() for l in lines[start:i + 1])
        out.append((function_name(signature), start + 1, end - start + 1))
        i = end + 1
    return out


def table(title, header, rows):
    print("### " + title)
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", nargs="?", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--over", type=int, help="list every function of at least this many lines")
    ap.add_argument("--exclude", nargs="*", default=[], help="path prefixes to leave out")
    args = ap.parse_args()
    root = os.path.abspath(args.root)

    files, funcs = [], []
    for rel in source_files(root, args.exclude):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        files.append((text.count("\n"), rel))
        funcs.extend((size, rel, line, name) for name, line, size in functions(rel, text))
    files.sort(key=lambda r: (-r[0], r[1]))
    funcs.sort(key=lambda r: (-r[0], r[1], r[2]))

    if args.over is not None:
        for size, rel, line, name in funcs:
            if size < args.over:
                break
            print("%5d  %s:%d  %s" % (size, rel, line, name))
        return 0
    table("Largest files", ["lines", "file"], [(n, "`%s`" % rel) for n, rel in files[:args.top]])
    table("Largest functions", ["lines", "function", "where"],
          [(n, "`%s`" % name, "`%s:%d`" % (rel, line)) for n, rel, line, name in funcs[:args.top]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
