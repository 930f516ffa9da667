#!/usr/bin/env python3
"""How much `mvmctl check` prints for many diagnostics on one long source line.

Writes a Python file whose `@workload(...)` call is one line with --options unknown options
(`opt0=1, opt1=1, ...`), so every one of them is an `unknown-option` error on the same line, and runs
`mvmctl check FILE` (human format) --runs times: the bytes it prints (stdout and stderr together),
the line's length and the wall time (readiness boundary: the `mvmctl check` process, start to exit).
Before the human printer showed a window of the line around the caret, each diagnostic repeated the
whole line, so the output grew as diagnostics × line length.

    python3 bench/long_line_bench.py --mvmctl build/bin/mvmctl [--options 5000] [--runs 3]
        [--out docs/perf/long-lines.md]

Standard library only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, percentile, report_header, write_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--options", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default="", help="write the Markdown report here")
    args = parser.parse_args()
    mvmctl = os.path.abspath(args.mvmctl)
    load_start = loadavg()
    opts = ", ".join(f"opt{i}=1" for i in range(args.options))
    line = f'@workload("long-line", image="template:busybox", {opts})'
    source = ("from mvm import entrypoint, workload\n\n\n" + line + "\n"
              "class LongLine:\n    @entrypoint(command=[\"/bin/true\"])\n    def main(self): ...\n")
    sizes, walls, diagnostics = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "long_line.py")
        with open(path, "w") as f:
            f.write(source)
        for _ in range(args.runs):
            start = time.perf_counter()
            proc = subprocess.run([mvmctl, "check", path], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
            walls.append(time.perf_counter() - start)
            if proc.returncode != 1:
                sys.exit(f"long_line_bench: `mvmctl check` exited {proc.returncode}, expected 1")
            sizes.append(len(proc.stdout))
            diagnostics = proc.stdout.count(b"[unknown-option]")
    if diagnostics != args.options:
        sys.exit(f"long_line_bench: {diagnostics} unknown-option diagnostics, expected "
                 f"{args.options}")
    body = (
        f"One `@workload(...)` line of {len(line.encode()):,} bytes with {args.options:,} unknown "
        f"options: {diagnostics:,} `unknown-option` errors on that line, human format. "
        f"{args.runs} runs.\n\n"
        "| what | value |\n|---|---:|\n"
        f"| bytes printed (stdout + stderr) | {sizes[0]:,} |\n"
        f"| bytes per diagnostic | {sizes[0] / diagnostics:,.0f} |\n"
        f"| wall p50 (s), `mvmctl check` process start to exit | {percentile(walls, 0.5):.2f} |\n"
    )
    header = report_header(mvmctl, load_start)
    print(header)
    print(body)
    if args.out:
        write_report(args.out, "Diagnostics on one long line", "bench/long_line_bench.py", header,
                     body)


if __name__ == "__main__":
    main()
