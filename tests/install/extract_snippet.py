"""Prints the fenced code block of FILE whose first line is FIRST_LINE, exactly as the page has it.

usage: python3 extract_snippet.py FILE FIRST_LINE

Exits 1 when the page has no such block, or more than one that differ, so a test that runs the
snippet always runs what the documentation shows.
"""

import sys


def blocks(text):
    inside = None
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if inside is None:
                inside = []
            else:
                yield "".join(inside)
                inside = None
        elif inside is not None:
            inside.append(line)


def main():
    path, first = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        found = {b for b in blocks(f.read()) if b.split("\n", 1)[0] == first}
    if len(found) != 1:
        sys.stderr.write(f"{path}: {len(found)} different code blocks start with {first!r}, "
                         "want exactly one\n")
        return 1
    sys.stdout.write(found.pop())
    return 0


if __name__ == "__main__":
    sys.exit(main())
