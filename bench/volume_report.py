#!/usr/bin/env python3
"""Runs `mvm_volume_bench` (bench/volume_bench.cc, root) and writes its table as a Markdown report
with the common header (commit, build type, host, load, command).

    sudo python3 bench/volume_report.py build/bin/mvm_volume_bench [--out docs/perf/volumes.md]
        [-- BENCH_ARGS...]

Everything after `--` goes to the benchmark (`--mib N`, `--files N`, `--object-mib N`,
`--object-files N`). Standard library only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, report_header, write_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--out", default="docs/perf/volumes.md")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    load = loadavg()
    run = subprocess.run([args.binary, *rest], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{args.binary} failed ({run.returncode}):\n{run.stderr}")
    body = ("Sequential write and read of one large file in 1 MiB chunks (every file fsync-ed before "
            "it is published, the raw baseline too; reads follow the writes, so they come from the "
            "page cache where the backend has one), and creates of 4 KiB files, one after another. "
            "`× raw` is the ratio to the raw host file system of the same run. The `mount` rows are "
            "the views sandboxes get (gocryptfs, s3fs), written with plain system calls as a "
            "workload writes them; the `API` rows go through the volume contract. The object "
            "backend and its s3fs mount write less (their own MiB and files columns) because "
            "s3rver is slow.\n\n"
            + run.stdout)
    if run.stderr.strip():
        body += "\nNotes from the run:\n\n" + "".join(f"- {line}\n" for line in
                                                      run.stderr.strip().splitlines())
    write_report(args.out, "Volume backends: throughput and small files", "bench/volume_report.py",
                 report_header(args.binary, load), body)
    print(run.stdout, end="")


if __name__ == "__main__":
    main()
