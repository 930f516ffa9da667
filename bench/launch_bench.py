#!/usr/bin/env python3
"""Launch overhead of `mvmctl run PLAN` against bare `unshare` (and `bwrap` when installed).

Readiness boundary: a verified-and-admitted plan's workload runs to completion. The workload is
`/bin/true` from the busybox template, so the time is all launcher: from `mvmctl run` starting to its
exit, which spans plan verification, replay admission, the rootfs lookup (cached), namespaces, cgroups,
seccomp, the guest agent coming up, one exec through the agent and the teardown.

Baselines run the same `/bin/true` in the same rootfs directory:

  unshare:  unshare --user --map-root-user --mount --pid --fork --net --ipc --uts \
              chroot ROOTFS /bin/true
  bwrap:    bwrap --unshare-all --ro-bind ROOTFS / --proc /proc --dev /dev /bin/true

They take turns: each of --runs rounds (after 3 warm-up rounds) runs every launcher once, so load
from other jobs falls on all of them alike; the table gives p50, p90 and min wall time, and the ratio
of mvmctl's p50 to each one's p50, and the same for CPU time (user + system of each run and of every
process it reaped: the sandbox's, the watchdog), which load from other jobs disturbs less than the
wall clock. `mvmctl --version` is run in the same rounds: what being the
mvmctl process costs at all (exec, loading and linking its shared libraries, static initialisation).
`mvmctl run -v` prints its own per-phase timings, including opening the state and closing the audit
log; their medians make the second table, with what is left outside them. One more run under
`strace -f -c` counts the syncs, renames, execs and clones.

    python3 bench/launch_bench.py --mvmctl build/bin/mvmctl [--runs 50] [--json out.json]
        [--out docs/perf/launch.md]

Needs root (as the container backend does). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, percentile, report_header, timed, write_report  # noqa: E402

WORKLOAD = '''from mvm import entrypoint, workload


@workload("launch-bench", image="template:busybox", isolation="container", timeout_seconds=30)
class LaunchBench:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
'''

# `mvmctl run -v` names its phases in this order (cli/run_cmd.cc). "verify" is all of admission
# (signature, replay state and the `verify` and `admit` audit records); "start other" is what the
# launcher's start does beside the backend (sandbox directories, the watchdog, the record files, the
# `launch` audit record); "audit close" is the log's closing checkpoint.
PHASES = ["open", "verify", "materialize", "namespaces", "agent ready", "exec", "teardown",
          "start other", "audit close"]


def sync_ms(fd: int) -> float:
    """One audit-record-sized append to `fd` and its fdatasync, in ms: what one of mvmctl's syncs
    costs on this file system at this moment."""
    os.write(fd, b"x" * 400 + b"\n")
    start = time.perf_counter()
    os.fdatasync(fd)
    return (time.perf_counter() - start) * 1000


def children_cpu_ms() -> float:
    """User plus system CPU time of every child reaped so far, with their own reaped descendants
    (the sandbox's processes, which mvmctl reaps), in ms."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def measure_interleaved(launchers: list[tuple[str, list[str]]], runs: int,
                        sync_dir: str) -> list[dict]:
    """Runs each launcher once per round, in turn, so that whatever else loads the machine falls on
    all of them alike; 3 warm-up rounds first. The load average and the cost of one sync (in
    `sync_dir`, the state directory's file system) are sampled every round."""
    for _ in range(3):
        for _, argv in launchers:
            timed(argv)
    rows = [{"name": name, "argv": argv, "samples": [], "cpu": [], "stderr": []}
            for name, argv in launchers]
    loads = []
    syncs = []
    probe = os.open(os.path.join(sync_dir, "sync-probe"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                    0o600)
    for _ in range(runs):
        loads.append(float(loadavg().split()[0]))
        syncs.append(sync_ms(probe))
        for row in rows:
            cpu_before = children_cpu_ms()
            ms, err = timed(row["argv"])
            row["cpu"].append(children_cpu_ms() - cpu_before)
            row["samples"].append(ms)
            row["stderr"].append(err)
    for row in rows:
        row["p50_ms"] = percentile(row["samples"], 0.5)
        row["p90_ms"] = percentile(row["samples"], 0.9)
        row["min_ms"] = min(row["samples"])
        row["cpu_p50_ms"] = percentile(row["cpu"], 0.5)
        row["load_1min"] = [min(loads), max(loads)]
        row["sync_p50_ms"] = percentile(syncs, 0.5)
    os.close(probe)
    return rows


def syscall_counts(argv: list[str]) -> dict[str, int]:
    """Some system calls of one run of `argv` and its children (strace -f -c): the syncs, renames,
    execs and clones; {} when strace is not installed."""
    if not shutil.which("strace"):
        return {}
    names = ("fsync", "fdatasync", "rename", "execve", "clone", "clone3")
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run(["strace", "-f", "-c", "-e", "trace=" + ",".join(names), "-o", out.name,
                        *argv], capture_output=True)
        counts = {}
        for line in out.read().splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[-1] in names:
                counts[parts[-1]] = int(parts[3])
        return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure this many times over; the report has one summary row each "
                        "and the full tables of the last")
    parser.add_argument("--json")
    parser.add_argument("--out", help="also write the Markdown report here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("launch_bench: run as root (the container backend needs it)")
    mvmctl = os.path.abspath(args.mvmctl)
    load_start = loadavg()

    work = tempfile.mkdtemp(prefix="mvm-launch-bench-")
    state = os.path.join(work, "state")
    # A directory of its own: a plan ships its source's directory tree to /app, and this one would
    # otherwise ship the signing key and the state beside it (and spend the launch copying them).
    os.mkdir(os.path.join(work, "src"))
    source = os.path.join(work, "src", "launch_bench.py")
    with open(source, "w") as f:
        f.write(WORKLOAD)
    # One plan, signed once with a key the launcher trusts; running the same plan again is admitted
    # (same epoch, same digest), so every run pays verification and admission but no compile.
    subprocess.run([mvmctl, "key", "gen", "--out", os.path.join(work, "keys")], check=True,
                   capture_output=True)
    subprocess.run([mvmctl, "compile", source, "-o", os.path.join(work, "out"), "--profile", "dev",
                    "--sign", os.path.join(work, "keys", "mvm.key")], check=True)
    plan = os.path.join(work, "out", "launch-bench.plan.json")
    trust = ["--trust", os.path.join(work, "keys", "mvm.pub")]
    # First run builds the busybox rootfs into the state's cache.
    subprocess.run([mvmctl, "run", plan, "--state-dir", state, *trust], check=True)
    rootfs_root = os.path.join(state, "rootfs", "busybox")
    rootfs = next(os.path.join(rootfs_root, d) for d in os.listdir(rootfs_root)
                  if d.startswith("sha256-") and os.path.isdir(os.path.join(rootfs_root, d)))

    run_argv = [mvmctl, "run", plan, "--state-dir", state, "-v", *trust]
    launchers = [("mvmctl run PLAN (container)", run_argv),
                 ("unshare + chroot", [
                     "unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--net",
                     "--ipc", "--uts", "chroot", rootfs, "/bin/true"])]
    if shutil.which("bwrap"):
        launchers.append(("bwrap --unshare-all", [
            "bwrap", "--unshare-all", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
            "/bin/true"]))
    # The cost of being mvmctl at all: exec, dynamic linking of its libraries, static
    # initialisation, exit.
    launchers.append(("mvmctl --version (process only)", [mvmctl, "--version"]))
    repeats = [measure_interleaved(launchers, args.runs, state)
               for _ in range(max(1, args.repeat))]
    rows = repeats[-1]
    syscalls = syscall_counts([mvmctl, "run", plan, "--state-dir", state, *trust])

    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    for err in rows[0]["stderr"]:
        m = re.search(r"phases \(ms\): (.*)", err)
        if not m:
            continue
        for part in m.group(1).split(", "):
            key, _, value = part.rpartition(" ")
            if key in phases:
                phases[key].append(float(value))

    def steps_of(line: str) -> dict[str, list[float]]:
        """The named steps of the `-v` line that starts with `line`, each with its values."""
        steps: dict[str, list[float]] = {}
        for err in rows[0]["stderr"]:
            m = re.search(re.escape(line) + r" \(ms\): (.*)", err)
            if not m:
                continue
            for part in m.group(1).split(", "):
                key, _, value = part.rpartition(" ")
                steps.setdefault(key, []).append(float(value))
        return steps

    # The container backend's own parts of the namespaces phase (its -v description), and the
    # launcher's steps of "start other".
    parts = steps_of("container start")
    other_parts = steps_of("start other")

    base = rows[0]["p50_ms"]
    unshare = rows[1]["p50_ms"]
    process = rows[-1]["p50_ms"]
    phase_sum = sum(statistics.median(v) for v in phases.values() if v)
    lines = [
        f"Backend container. Readiness boundary: process start to exit of `/bin/true` in the "
        f"sandbox; {args.runs} rounds after 3 warm-ups, the launchers taking turns in each round; "
        f"rootfs cached. 1-minute load average during the rounds: {rows[0]['load_1min'][0]:.2f} "
        f"to {rows[0]['load_1min'][1]:.2f}.",
        "",
        "| launcher | p50 ms | p90 ms | min ms | mvmctl p50 / this p50 | CPU p50 ms | mvmctl CPU / this CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    base_cpu = rows[0]["cpu_p50_ms"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['min_ms']:.1f} | "
                     f"{base / r['p50_ms']:.2f}x | {r['cpu_p50_ms']:.1f} | "
                     f"{base_cpu / max(r['cpu_p50_ms'], 0.01):.2f}x |")
    lines += ["", f"mvmctl run / unshare: **{base / unshare:.2f}x** (p50 over p50; the goal is 2x). "
              f"CPU time (user + system of the launcher and every process it reaped, the sandbox's "
              f"included), which other jobs on the machine disturb less than the wall clock: "
              f"**{base_cpu / max(rows[1]['cpu_p50_ms'], 0.01):.2f}x**.",
              "", f"Each of the {len(repeats)} measurements (the tables here are of the last):", "",
              "| measurement | 1-min load | " + " | ".join(f"{r['name']} p50 ms" for r in rows) +
              " | one fdatasync p50 ms | mvmctl run / unshare |",
              "|---|---|" + "---:|" * (len(rows) + 2)]
    for i, rep in enumerate(repeats, 1):
        lines.append(f"| {i} | {rep[0]['load_1min'][0]:.2f} to {rep[0]['load_1min'][1]:.2f} | " +
                     " | ".join(f"{r['p50_ms']:.1f}" for r in rep) +
                     f" | {rep[0]['sync_p50_ms']:.2f} | {rep[0]['p50_ms'] / rep[1]['p50_ms']:.2f}x |")
    lines += ["", "| mvmctl phase (`run -v`) | p50 ms |", "|---|---:|"]
    for p in PHASES:
        if phases[p]:
            lines.append(f"| {p} | {statistics.median(phases[p]):.2f} |")
        if p == "namespaces":
            # cgroups (creating them, and moving PID 1 in while it mounts) overlaps mounts, and
            # "to init's exec" includes waiting for that move.
            for key, values in parts.items():
                lines.append(f"| &nbsp;&nbsp;of which {key} | {statistics.median(values):.2f} |")
        if p == "start other":
            # Each step's own p50: they need not add up to the phase's.
            for key, values in other_parts.items():
                lines.append(f"| &nbsp;&nbsp;of which {key} | {statistics.median(values):.2f} |")
    lines += [
        f"| sum of the phases' p50s | {phase_sum:.2f} |",
        f"| outside them: wall p50 minus that sum | {base - phase_sum:.2f} |",
        f"| of that, a bare `mvmctl --version` (p50) | {process:.2f} |",
    ]
    if syscalls:
        lines += ["", "System calls of one `mvmctl run PLAN` and its children (`strace -f -c`): " +
                  ", ".join(f"{k} {v}" for k, v in sorted(syscalls.items())) + "."]
    lines += ["", f"One 400-byte append and fdatasync in the state directory, once per round: p50 "
              f"{rows[0]['sync_p50_ms']:.2f} ms."]
    body = "\n".join(lines) + "\n"
    header = report_header(mvmctl, load_start)
    print(header)
    print(body)
    if args.out:
        write_report(args.out, "Launch overhead (container backend)", "bench/launch_bench.py",
                     header, body)
    if args.json:
        for r in rows:
            del r["stderr"]
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "repeats": [[{k: v for k, v in r.items() if k != "stderr"}
                                                  for r in rep] for rep in repeats],
                       "phases": phases, "container_start": parts,
                       "start_other": other_parts, "syscalls": syscalls}, f,
                      indent=2)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
