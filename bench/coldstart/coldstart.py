#!/usr/bin/env python3
"""Cold-start harness: how long each sandbox backend takes to become usable, split by readiness
boundary, with p50/p95/p99/max over N fresh launches.

Every run is `mvmctl run PLAN -v --backend B` of a busybox workload whose entrypoint is `/bin/true`:
a fresh sandbox each time (no pool, no snapshot), rootfs and guest images already cached. The
launcher reports its phase timings on stderr (`mvmctl run: timings {json}`); the boundaries are
measured from the moment the backend starts launching (after plan verification and the cache
lookups), so they compare backends, not plan sizes:

  process spawned     container: clone() to PID 1 exec'd; qemu-microvm: qemu exec'd
  kernel entered      qemu-microvm only: the guest kernel started (from the guest's boot clock)
  guest agent ready   the agent answered Hello
  first exec result   `/bin/true`'s exit status back at the host
  mvmctl wall         the whole `mvmctl run` process, verification and teardown included

    python3 bench/coldstart/coldstart.py --mvmctl build/bin/mvmctl [--runs 20]
        [--backends container,qemu-microvm] [--out docs/perf/coldstart]

writes OUT.md and OUT.json (host, backend, acceleration and boundary on every row) and prints the
Markdown. Needs root, as the backends do. Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchutil import host_description, percentile, timed  # noqa: E402

WORKLOAD = '''from mvm import entrypoint, workload


@workload("coldstart-{isolation}", image="template:busybox", isolation="{isolation}",
          timeout_seconds=60)
class ColdStart:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
'''

BOUNDARIES = ["process spawned", "kernel entered", "guest agent ready", "first exec result",
              "mvmctl wall"]


def parse_timings(stderr: str) -> dict:
    for line in stderr.splitlines():
        marker = "timings "
        if line.startswith("mvmctl run: ") and marker in line:
            return json.loads(line.split(marker, 1)[1])
    raise ValueError("no `mvmctl run: timings {...}` line on stderr (is -v passed, and is this "
                     "mvmctl new enough?)")


def boundaries(backend: str, t: dict, wall_ms: float) -> dict[str, float]:
    """Maps the launcher's timings to the harness's boundaries, in ms from the backend's start."""
    if backend == "container":
        spawned = t["namespaces_ms"]
        ready = spawned + t["agent_ready_ms"]
        return {"process spawned": spawned, "guest agent ready": ready,
                "first exec result": ready + t["exec_ms"], "mvmctl wall": wall_ms}
    return {"process spawned": t["process_spawned_ms"], "kernel entered": t["kernel_entered_ms"],
            "guest agent ready": t["agent_ready_ms"],
            "first exec result": t["first_exec_result_ms"], "mvmctl wall": wall_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--backends", default="",
                        help="comma-separated; default: container, and qemu-microvm when "
                             "qemu-system-x86_64 is installed")
    parser.add_argument("--out", default="", help="write OUT.md and OUT.json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("coldstart: run as root (the sandbox backends need it)")
    if args.runs < 1:
        sys.exit("coldstart: --runs must be at least 1")
    backends = [b for b in args.backends.split(",") if b] or (
        ["container"] + (["qemu-microvm"] if shutil.which("qemu-system-x86_64") else []))
    mvmctl = os.path.abspath(args.mvmctl)

    work = tempfile.mkdtemp(prefix="mvm-coldstart-")
    state = os.path.join(work, "state")
    subprocess.run([mvmctl, "key", "gen", "--out", os.path.join(work, "keys")], check=True,
                   capture_output=True)
    trust = ["--trust", os.path.join(work, "keys", "mvm.pub")]
    host = host_description()
    rows = []
    try:
        for backend in backends:
            isolation = "microvm" if backend == "qemu-microvm" else "container"
            source = os.path.join(work, f"coldstart_{isolation}.py")
            with open(source, "w") as f:
                f.write(WORKLOAD.format(isolation=isolation))
            out = os.path.join(work, "out")
            subprocess.run([mvmctl, "compile", source, "-o", out, "--profile", "dev", "--sign",
                            os.path.join(work, "keys", "mvm.key")], check=True,
                           capture_output=True)
            plan = os.path.join(out, f"coldstart-{isolation}.plan.json")
            argv = [mvmctl, "run", plan, "--state-dir", state, "--backend", backend, "-v", *trust]
            # The first run builds and caches the rootfs (and guest images); warm-ups settle caches.
            for _ in range(1 + args.warmups):
                timed(argv)
            samples: dict[str, list[float]] = {b: [] for b in BOUNDARIES}
            acceleration = set()
            attempts = []
            for _ in range(args.runs):
                wall, err = timed(argv)
                t = parse_timings(err)
                acceleration.add(t.get("acceleration") or "none (container)")
                attempts.append(t.get("boot_attempts", 0))
                for name, value in boundaries(backend, t, wall).items():
                    samples[name].append(value)
            for name in BOUNDARIES:
                values = samples[name]
                if not values:
                    continue
                rows.append({"host": host["node"], "backend": backend,
                             "acceleration": "/".join(sorted(acceleration)), "boundary": name,
                             "n": len(values), "p50_ms": percentile(values, 0.5),
                             "p95_ms": percentile(values, 0.95), "p99_ms": percentile(values, 0.99),
                             "max_ms": max(values), "samples_ms": values,
                             "boot_retries": sum(max(0, a - 1) for a in attempts)})
    finally:
        shutil.rmtree(work, ignore_errors=True)

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Host: {host['node']}: {host['cpu']}, {host['cpus']} CPUs, Linux {host['kernel']}, "
        f"1-min load {host['load_1min_at_start']} at start; {when}.",
        f"Each row: {args.runs} fresh launches of a busybox `/bin/true` workload after "
        f"{args.warmups} warm-ups, images cached, no warm pool. Times in ms from the backend's "
        "start, except `mvmctl wall` (the whole `mvmctl run` process).",
        "",
        "| host | backend | acceleration | boundary | n | p50 | p95 | p99 | max |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['host']} | {r['backend']} | {r['acceleration']} | {r['boundary']} | "
                     f"{r['n']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | "
                     f"{r['max_ms']:.1f} |")
    retries = {r["backend"]: r["boot_retries"] for r in rows if r["boot_retries"]}
    if retries:
        lines.append("")
        lines.append("Boot retries (a stuck boot killed and tried again): " +
                     ", ".join(f"{b}: {n}" for b, n in retries.items()))
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out + ".md", "w") as f:
            f.write("# Cold start\n\nMade by `bench/coldstart/coldstart.py`.\n\n" + report)
        with open(args.out + ".json", "w") as f:
            json.dump({"host": host, "when": when, "runs": args.runs, "warmups": args.warmups,
                       "rows": rows}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
