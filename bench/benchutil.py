"""Helpers shared by the benchmark scripts: percentiles and a description of the host, so every
table names the machine it was measured on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks; `p` in [0, 1]."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def host_description() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = float("nan")
    return {"node": platform.node(), "cpu": cpu, "cpus": os.cpu_count(),
            "kernel": platform.release(), "load_1min_at_start": load}


def timed(argv: list[str]) -> tuple[float, str]:
    """Runs `argv` to completion: wall-clock ms and its stderr; exits with its stderr if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    elapsed = (time.perf_counter() - start) * 1000.0
    if proc.returncode != 0:
        sys.exit(f"{os.path.basename(sys.argv[0])}: `{' '.join(argv)}` exited {proc.returncode}:\n"
                 f"{proc.stderr[-4000:]}")
    return elapsed, proc.stderr
