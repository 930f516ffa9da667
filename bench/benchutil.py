"""Helpers shared by the benchmark scripts: percentiles, timed runs, and the header every committed
report starts with (commit, build type, host, load and the exact command), so a figure in the docs
can be traced to what measured it and under which conditions."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# When the script started: the scripts import this module before they measure anything.
STARTED = datetime.datetime.now(datetime.timezone.utc)


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks; `p` in [0, 1]."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them ("?" elsewhere)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def host_description() -> dict:
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = float("nan")
    return {"node": platform.node(), "cpu": cpu_model(), "cpus": os.cpu_count(),
            "kernel": platform.release(), "load_1min_at_start": load}


def commit() -> str:
    """`git rev-parse HEAD` of the source tree the scripts live in, plus " (dirty)" when a tracked
    file differs from it. Untracked files are not counted, nor docs/perf/, where the reports
    themselves are written (one script's report must not make the next one's tree dirty)."""
    def git(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, text=True)
    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                ":(exclude)docs/perf").stdout.strip()
    return head.stdout.strip() + (" (dirty)" if dirty else "")


def build_dir_of(binary: str) -> Path | None:
    """The CMake build directory a binary was built in: the nearest parent holding CMakeCache.txt."""
    for parent in Path(os.path.abspath(binary)).parents:
        if (parent / "CMakeCache.txt").is_file():
            return parent
    return None


def build_type(build_dir: Path | None) -> str:
    """CMAKE_BUILD_TYPE and the C++ compiler from the build directory's CMakeCache.txt."""
    if build_dir is None:
        return "unknown (no CMakeCache.txt above the binary)"
    cache = {}
    for line in (build_dir / "CMakeCache.txt").read_text(errors="replace").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith(("#", "//")):
            cache[name.split(":", 1)[0]] = value
    kind = cache.get("CMAKE_BUILD_TYPE") or "(empty CMAKE_BUILD_TYPE)"
    compiler = os.path.basename(cache.get("CMAKE_CXX_COMPILER", "") or "?")
    shown = os.path.relpath(build_dir, REPO) if build_dir.is_relative_to(REPO) else str(build_dir)
    return f"{kind}, {compiler} (`{shown}/`)"


def command_line() -> str:
    """The command that ran this script, as it could be typed again from the same directory, with
    the MVM_* environment variables it ran under."""
    script = os.path.relpath(os.path.abspath(sys.argv[0]), os.getcwd())
    env = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("MVM_")]
    return shlex.join([*env, "python3", script, *sys.argv[1:]])


def report_header(binary: str | None, load_start: str, command: str | None = None,
                  started: datetime.datetime | None = None) -> str:
    """The header block of a report, as Markdown list items: commit (dirty or not), build type of
    the build directory `binary` lives in, host (name, CPU model, cores, kernel), /proc/loadavg at
    the start (`load_start`, read by the caller before measuring) and now, at the end, and the
    command, and when the script started (`started`, default: when this module was imported) and
    finished. The load line says that other processes share the machine: the scripts do not keep
    them off it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    when = (started or STARTED).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"- commit: `{commit()}`",
        f"- build: {build_type(build_dir_of(binary) if binary else None)}",
        f"- host: {platform.node()}: {cpu_model()}, {os.cpu_count()} cores, Linux "
        f"{platform.release()}",
        f"- load (/proc/loadavg, 1/5/15 min): {load_start} at the start, {loadavg()} at the end; "
        "other jobs may share the machine, and nothing here keeps them off it",
        f"- date: started {when}, finished {now.strftime('%H:%M UTC')}",
        f"- command: `{command or command_line()}`",
    ]
    return "\n".join(lines) + "\n"


def write_report(out: str, title: str, script: str, header: str, body: str) -> None:
    """Writes `out` (a Markdown report): the title, the script that made it, the header, the body."""
    os.makedirs(os.path.dirname(os.path.abspath(out)) or ".", exist_ok=True)
    with open(out, "w") as f:
        f.write(f"# {title}\n\nMade by `{script}`.\n\n{header}\n{body}")


def timed(argv: list[str], stdout: bool = False) -> tuple[float, str]:
    """Runs `argv` to completion: wall-clock ms and its stderr (its stdout when `stdout`); exits
    with its stderr if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    elapsed = (time.perf_counter() - start) * 1000.0
    if proc.returncode != 0:
        sys.exit(f"{os.path.basename(sys.argv[0])}: `{' '.join(argv)}` exited {proc.returncode}:\n"
                 f"{proc.stderr[-4000:]}")
    return elapsed, proc.stdout if stdout else proc.stderr


def publish_seconds(out: str, binary: str, load_start: str, title: str, script: str, intro: str,
                    first_column: str, samples: dict[str, list[float]],
                    extra: dict | None = None) -> None:
    """Prints and, with `out`, writes a report whose body is `intro` and a table of n, p50, min and
    max in seconds, a row per label of `samples` (in ms), with the samples beside it as JSON (the
    header, `extra` and `samples_ms`)."""
    lines = [intro, "", f"| {first_column} | n | p50 | min | max |", "|---|---:|---:|---:|---:|"]
    for label, values in samples.items():
        lines.append(f"| {label} | {len(values)} | {percentile(values, 0.5) / 1000:.2f} | "
                     f"{min(values) / 1000:.2f} | {max(values) / 1000:.2f} |")
    body = "\n".join(lines) + "\n"
    header = report_header(binary, load_start)
    print(header)
    print(body)
    if out:
        write_report(out, title, script, header, body)
        with open(os.path.splitext(out)[0] + ".json", "w") as f:
            json.dump({"header": header, **(extra or {}), "samples_ms": samples}, f, indent=2)
            f.write("\n")
