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

Each is run --runs times (after 3 warm-up runs); the table gives p50, p90 and min wall time, and the
ratio of mvmctl's p50 to each baseline's p50. `mvmctl run -v` prints its own per-phase timings; their
medians make the second table.

    python3 bench/launch_bench.py --mvmctl build/bin/mvmctl [--runs 50] [--json out.json]
        [--out docs/perf/launch.md]

Needs root (as the container backend does). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, percentile, report_header, timed, write_report  # noqa: E402

WORKLOAD = '''from mvm import entrypoint, workload


@workload("launch-bench", image="template:busybox", isolation="container", timeout_seconds=30)
class LaunchBench:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
'''

PHASES = ["verify", "materialize", "namespaces", "agent ready", "exec", "teardown"]


def measure(name: str, argv: list[str], runs: int) -> dict:
    for _ in range(3):
        timed(argv)
    samples = []
    stderr_lines = []
    for _ in range(runs):
        ms, err = timed(argv)
        samples.append(ms)
        stderr_lines.append(err)
    return {
        "name": name,
        "argv": argv,
        "p50_ms": percentile(samples, 0.5),
        "p90_ms": percentile(samples, 0.9),
        "min_ms": min(samples),
        "samples": samples,
        "stderr": stderr_lines,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json")
    parser.add_argument("--out", help="also write the Markdown report here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("launch_bench: run as root (the container backend needs it)")
    mvmctl = os.path.abspath(args.mvmctl)
    load_start = loadavg()

    work = tempfile.mkdtemp(prefix="mvm-launch-bench-")
    state = os.path.join(work, "state")
    source = os.path.join(work, "launch_bench.py")
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

    rows = [measure("mvmctl run PLAN (container)",
                    [mvmctl, "run", plan, "--state-dir", state, "-v", *trust], args.runs)]
    rows.append(measure("unshare + chroot", [
        "unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--net", "--ipc",
        "--uts", "chroot", rootfs, "/bin/true"], args.runs))
    if shutil.which("bwrap"):
        rows.append(measure("bwrap --unshare-all", [
            "bwrap", "--unshare-all", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
            "/bin/true"], args.runs))

    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    for err in rows[0]["stderr"]:
        m = re.search(r"phases \(ms\): (.*)", err)
        if not m:
            continue
        for part in m.group(1).split(", "):
            key, _, value = part.rpartition(" ")
            if key in phases:
                phases[key].append(float(value))

    base = rows[0]["p50_ms"]
    lines = [
        f"Backend container. Readiness boundary: process start to exit of `/bin/true` in the "
        f"sandbox; {args.runs} runs after 3 warm-ups; rootfs cached.",
        "",
        "| launcher | p50 ms | p90 ms | min ms | mvmctl p50 / this p50 |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['min_ms']:.1f} | "
                     f"{base / r['p50_ms']:.2f}x |")
    lines += ["", "| mvmctl phase | p50 ms |", "|---|---:|"]
    for p in PHASES:
        if phases[p]:
            lines.append(f"| {p} | {statistics.median(phases[p]):.2f} |")
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
            json.dump({"rows": rows, "phases": phases}, f, indent=2)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
