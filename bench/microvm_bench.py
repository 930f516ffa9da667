#!/usr/bin/env python3
"""What the qemu-microvm backend costs beyond its boot: output throughput over the virtio-serial port,
the guest's own CPU speed, and a read-write (virtio-fs) volume against a read-only (copied) one.

One busybox workload (`isolation="microvm"`), one work directory, one fresh state directory:

  exec rows     `mvmctl up --detach` boots one VM; then `mvmctl exec NAME -- CMD` is timed --runs
                times for each CMD, in rotation, from the host: `true` (the floor: one exec through
                the agent and the multiplexer), `head -c BYTES /dev/zero` (BYTES of stdout carried
                over the port to mvmctl, which writes them to a pipe this script drains), and
                `sh -c 'yes | head -c BYTES >/dev/null'` (the same bytes made and discarded inside
                the guest: guest CPU, no port). Throughput is BYTES / (p50 of `head` - p50 of `true`).
  first run     the first `mvmctl run` in the fresh state directory, which unpacks the kernel
                package and makes the guest and root images (the package itself is fetched first
                unless MVM_KERNEL_DEB names a copy); the package's size is reported too.
  volume rows   `mvmctl run -v --no-pool` of an entrypoint that reads one file from /data, with /data a
                read-write `Volume.local` (served by a confined virtiofsd) or the same directory
                read-only (copied into the extras image), alternating, --volume-runs each: the whole
                `mvmctl run` and the launcher's guest agent ready (ms from the backend's start).

    python3 bench/microvm_bench.py --mvmctl build/bin/mvmctl [--runs 10] [--volume-runs 3]
        [--bytes 4000000] [--out docs/perf/microvm.md]

Readiness boundaries are named on every row. Needs root (read-write volumes on this backend do) and
qemu-system-x86_64. The kernel package is fetched into the fresh state directory unless
MVM_KERNEL_DEB names a copy. Standard library only.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, percentile, report_header, timed, write_report  # noqa: E402

WORKLOAD = '''from mvm import Volume, entrypoint, workload


@workload("microvm-bench", image="template:busybox", isolation="microvm", timeout_seconds=120)
class Idle:
    @entrypoint(command=["/bin/true"])
    def main(self): ...


@workload("microvm-bench-rw", image="template:busybox", isolation="microvm", timeout_seconds=120,
          volumes=[Volume.local("{data}", "/data", mode="rw")])
class ReadWrite:
    @entrypoint(command=["cat", "/data/file"])
    def main(self): ...


@workload("microvm-bench-ro", image="template:busybox", isolation="microvm", timeout_seconds=120,
          volumes=[Volume.local("{data}", "/data", mode="ro")])
class ReadOnly:
    @entrypoint(command=["cat", "/data/file"])
    def main(self): ...
'''


def parse_timings(stderr: str) -> dict:
    for line in stderr.splitlines():
        if line.startswith("mvmctl run: ") and "timings " in line:
            return json.loads(line.split("timings ", 1)[1])
    sys.exit("microvm_bench: no `mvmctl run: timings {...}` line on stderr")


def row(name: str, boundary: str, values: list[float]) -> dict:
    return {"name": name, "boundary": boundary, "n": len(values), "p50": percentile(values, 0.5),
            "min": min(values), "max": max(values), "samples": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--runs", type=int, default=10, help="timed execs per command (default 10)")
    parser.add_argument("--volume-runs", type=int, default=3,
                        help="timed `mvmctl run`s per volume kind (default 3)")
    parser.add_argument("--bytes", type=int, default=4_000_000)
    parser.add_argument("--out", default="", help="write the Markdown report here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("microvm_bench: run as root (read-write volumes on qemu-microvm need it)")
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("microvm_bench: qemu-system-x86_64 is not installed")
    mvmctl = os.path.abspath(args.mvmctl)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("microvm_bench: terminated"))
    load_start = loadavg()

    work = tempfile.mkdtemp(prefix="mvm-microvm-bench-")
    state = os.path.join(work, "state")
    os.makedirs(os.path.join(work, "data"))
    with open(os.path.join(work, "data", "file"), "w") as f:
        f.write("one file\n")
    source = os.path.join(work, "microvm_bench.py")
    with open(source, "w") as f:
        f.write(WORKLOAD.replace("{data}", os.path.join(work, "data")))
    keys = os.path.join(work, "keys")
    subprocess.run([mvmctl, "key", "gen", "--out", keys], check=True, capture_output=True)
    out = os.path.join(work, "out")
    subprocess.run([mvmctl, "compile", source, "-o", out, "--profile", "dev", "--sign",
                    os.path.join(keys, "mvm.key")], check=True, capture_output=True)
    common = ["--state-dir", state, "--backend", "qemu-microvm", "--trust",
              os.path.join(keys, "mvm.pub")]
    name = "microvm-bench"
    rows = []
    accel = set()
    try:
        # The first run fetches and unpacks the kernel (unless MVM_KERNEL_DEB) and builds the images.
        first, err = timed([mvmctl, "run", os.path.join(out, "microvm-bench.plan.json"), "-v",
                            "--no-pool", *common])
        accel.add(parse_timings(err).get("acceleration", "?"))
        rows.append(row("run `/bin/true`, first in a fresh state directory (kernel package "
                        "unpacked, guest and root images made)", "mvmctl run process start to exit",
                        [first]))
        debs = [os.environ.get("MVM_KERNEL_DEB", "")] + glob.glob(
            os.path.join(state, "guest", "debs", "*.deb"))
        deb_bytes = next((os.path.getsize(d) for d in debs if d and os.path.isfile(d)), 0)
        timed([mvmctl, "up", os.path.join(out, "microvm-bench.plan.json"), "--name", name,
               "--detach", "--no-pool", *common])
        n = args.bytes
        commands = {
            "exec `true`": ["true"],
            f"exec `head -c {n} /dev/zero` (stdout to the host)": ["head", "-c", str(n),
                                                                 "/dev/zero"],
            f"exec `sh -c 'yes | head -c {n} >/dev/null'` (in the guest only)":
                ["sh", "-c", f"yes | head -c {n} >/dev/null"],
        }
        samples: dict[str, list[float]] = {k: [] for k in commands}
        for i in range(1 + args.runs):  # round 0 warms up
            for label, cmd in commands.items():
                ms, _ = timed([mvmctl, "exec", name, "--state-dir", state, "--", *cmd])
                if i > 0:
                    samples[label].append(ms)
        boundary = "mvmctl exec process start to exit (output drained)"
        rows += [row(label, boundary, values) for label, values in samples.items()]

        vol: dict[str, list[float]] = {"run, read-write volume (virtio-fs)": [],
                                       "run, read-only volume (copied)": []}
        ready: dict[str, list[float]] = {"guest agent ready, read-write volume": [],
                                         "guest agent ready, read-only volume": []}
        plans = {"rw": os.path.join(out, "microvm-bench-rw.plan.json"),
                 "ro": os.path.join(out, "microvm-bench-ro.plan.json")}
        for kind in plans:  # one untimed run each
            timed([mvmctl, "run", plans[kind], "-v", "--no-pool", *common])
        for _ in range(args.volume_runs):
            for kind, whole, agent in zip(plans, vol, ready):
                ms, err = timed([mvmctl, "run", plans[kind], "-v", "--no-pool", *common])
                t = parse_timings(err)
                accel.add(t.get("acceleration", "?"))
                vol[whole].append(ms)
                ready[agent].append(t["agent_ready_ms"])
        rows += [row(label, "mvmctl run process start to exit", values)
                 for label, values in vol.items()]
        rows += [row(label, "launcher: backend start to the agent's Hello answered", values)
                 for label, values in ready.items()]
    finally:
        subprocess.run([mvmctl, "destroy", name, "--state-dir", state], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    p50 = {r["name"]: r["p50"] for r in rows}
    floor = p50["exec `true`"]
    head = p50[f"exec `head -c {n} /dev/zero` (stdout to the host)"]
    yes = p50[f"exec `sh -c 'yes | head -c {n} >/dev/null'` (in the guest only)"]
    lines = [
        f"Backend qemu-microvm, acceleration {'/'.join(sorted(accel))}; busybox template; "
        f"{args.runs} timed execs per command (after one warm-up round) in one VM booted once, "
        f"{args.volume_runs} timed `mvmctl run`s per volume kind (alternating, after one untimed "
        "run each). Times in ms.",
        "",
        "| what | readiness boundary | n | p50 | min | max |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['name'].replace('|', chr(92) + '|')} | {r['boundary']} | {r['n']} | {r['p50']:.1f} | "
                     f"{r['min']:.1f} | {r['max']:.1f} |")
    lines += [
        "",
        f"- output over the port: {n:,} bytes in {head - floor:.0f} ms beyond the `true` floor, "
        f"{n / (head - floor) / 1000:.2f} MB/s (p50s)",
        f"- the same bytes made and discarded in the guest: {yes - floor:.0f} ms beyond the floor",
        f"- the kernel package: {deb_bytes / 1e6:.1f} MB ({deb_bytes:,} bytes)",
    ]
    body = "\n".join(lines) + "\n"
    header = report_header(mvmctl, load_start)
    print(header)
    print(body)
    if args.out:
        write_report(args.out, "qemu-microvm: output, guest CPU and volumes",
                     "bench/microvm_bench.py", header, body)
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"header": header, "rows": rows}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
