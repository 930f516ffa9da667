#!/usr/bin/env python3
# Fails when a diagnostic kind of ir/support/diagnostics.def is never checked by a lit test.
#
# A kind counts as covered when it appears as `[kind-name]` (human output) or `"kind":"kind-name"` (JSON
# output) in a FileCheck directive of a lit test: a comment line `# PREFIX: ...`, `# PREFIX-NEXT: ...`,
# `# PREFIX-SAME: ...` (or `//` in TypeScript). `-NOT` directives assert absence, so they do not count;
# neither do RUN/XFAIL/REQUIRES lines, prose comments, or files under `Inputs/`.
#
# usage: check_kind_coverage.py [SOURCE_ROOT] [-v]
#   SOURCE_ROOT defaults to the parent of this script's directory. -v lists where each kind is checked.
# Exit status: 0 every kind is covered, 1 some are not (they are listed), 2 the registry cannot be read.
#
# RUN: python3 %s %src

import os
import re
import sys

KIND_RE = re.compile(r'^\s*MVM_DIAGNOSTIC\(\s*\w+\s*,\s*"([a-z0-9-]+)"', re.MULTILINE)
# `# CHECK: ...`, `// JSON-SAME: ...`; the prefix is FileCheck's: letters, digits, `-` and `_`.
DIRECTIVE_RE = re.compile(r"^\s*(?:#|//)\s*([A-Za-z][A-Za-z0-9_-]*):(.*)$")
NOT_DIRECTIVES = {"RUN", "XFAIL", "REQUIRES", "UNSUPPORTED", "ALLOW_RETRIES", "END"}
SKIPPED_DIRS = {"Inputs", "Output", "__pycache__"}


def read_kinds(root):
    path = os.path.join(root, "ir", "support", "diagnostics.def")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        print(f"check_kind_coverage: cannot read {path}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    kinds = KIND_RE.findall(text)
    if not kinds:
        print(f"check_kind_coverage: no MVM_DIAGNOSTIC entries in {path}", file=sys.stderr)
        sys.exit(2)
    return kinds


def check_lines(path):
    """Yields the pattern text of each positive FileCheck directive in `path`."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = DIRECTIVE_RE.match(line)
                if not m:
                    continue
                prefix = m.group(1)
                if prefix in NOT_DIRECTIVES or prefix.endswith("-NOT"):
                    continue
                yield m.group(2)
    except OSError:
        return


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(args[0]) if args else os.path.dirname(here)
    tests = os.path.join(root, "lit-tests")
    kinds = read_kinds(root)
    patterns = {k: (f"[{k}]", f'"kind":"{k}"') for k in kinds}
    covered = {k: [] for k in kinds}
    this = os.path.abspath(__file__)
    for dirpath, dirnames, filenames in os.walk(tests):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if os.path.abspath(path) == this or name in ("lit.cfg.py", "lit.site.cfg.py.in"):
                continue
            for text in check_lines(path):
                for kind, (human, json) in patterns.items():
                    if human in text or json in text:
                        covered[kind].append(os.path.relpath(path, tests))
    missing = [k for k in kinds if not covered[k]]
    if verbose:
        for k in kinds:
            files = sorted(set(covered[k]))
            print(f"{k}: {', '.join(files) if files else 'NOT CHECKED'}")
    if missing:
        print(f"{len(missing)} of {len(kinds)} diagnostic kinds in ir/support/diagnostics.def are not "
              "checked by any lit test (as `[kind]` or `\"kind\":\"kind\"` in a CHECK line):")
        for k in missing:
            print(f"  {k}")
        return 1
    print(f"all {len(kinds)} diagnostic kinds are checked by lit tests")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
