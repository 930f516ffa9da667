#!/usr/bin/env python3
"""Runs a Google Benchmark binary of bench/ (`mvm_frontend_bench`, `mvm_virtiofsd_bench`) and writes
its results as a Markdown report with the common header (commit, build type, host, load, command).

    python3 bench/gbench_report.py build/bin/mvm_frontend_bench [--out docs/perf/frontend.md]
        [--title TITLE] [-- BENCHMARK_ARGS...]

Everything after `--` goes to the benchmark binary (`--benchmark_filter`, `--benchmark_repetitions`,
...); set `--taskset CPU` to pin it with `taskset -c CPU`. One row per benchmark (or per aggregate
when repetitions are asked for): real and CPU time per iteration, iterations, and the benchmark's
counters (bytes/s, items/s, lines/s); with repetitions, the `iterations` of an aggregate row is the
number of repetitions, and its `cv` row is a percentage. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, report_header, write_report  # noqa: E402

SKIP = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations",
        "real_time", "cpu_time", "time_unit", "family_index", "per_family_instance_index",
        "aggregate_name", "aggregate_unit", "label", "error_occurred", "error_message"}


def counter(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.2f}"


def main() -> None:
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--out", default="")
    parser.add_argument("--title", default="")
    parser.add_argument("--taskset", default="", help="pin to this CPU with taskset -c")
    args = parser.parse_args(argv)
    binary = os.path.abspath(args.binary)
    load_start = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = os.path.join(tmp, "out.json")
        cmd = [binary, f"--benchmark_out={results}", "--benchmark_out_format=json", *extra]
        if args.taskset:
            if not shutil.which("taskset"):
                sys.exit("gbench_report: taskset is not installed")
            cmd = ["taskset", "-c", args.taskset, *cmd]
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            sys.exit(f"gbench_report: `{' '.join(cmd)}` exited {proc.returncode}")
        with open(results) as f:
            data = json.load(f)
    context = data.get("context", {})
    lines = [
        f"Google Benchmark context: {context.get('num_cpus', '?')} CPUs at "
        f"{context.get('mhz_per_cpu', '?')} MHz, library built as "
        f"{context.get('library_build_type', '?')} (the benchmark library's own bookkeeping, not "
        "the code under test, which has the build type above).",
        "",
        "| benchmark | real time | CPU time | iterations | counters |",
        "|---|---:|---:|---:|---|",
    ]
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            lines.append(f"| {b['name']} | error: {b.get('error_message', '')} | | | |")
            continue
        unit = b.get("time_unit", "ns")
        counters = ", ".join(f"{k} {counter(v)}" for k, v in sorted(b.items())
                             if k not in SKIP and isinstance(v, (int, float)))
        if b.get("aggregate_unit") == "percentage":  # the coefficient of variation: a ratio
            real, cpu = f"{b['real_time'] * 100:.1f} %", f"{b['cpu_time'] * 100:.1f} %"
        else:
            real, cpu = f"{b['real_time']:.1f} {unit}", f"{b['cpu_time']:.1f} {unit}"
        lines.append(f"| {b['name']} | {real} | {cpu} | {b['iterations']} | {counters} |")
    body = "\n".join(lines) + "\n"
    header = report_header(binary, load_start)
    print(header)
    print(body)
    if args.out:
        title = args.title or os.path.basename(binary)
        write_report(args.out, title, "bench/gbench_report.py", header, body)


if __name__ == "__main__":
    main()
