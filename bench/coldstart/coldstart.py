#!/usr/bin/env python3
"""Cold-start harness: how long each sandbox backend takes to become usable, split by readiness
boundary, with p50/p95/p99/max over N fresh launches.

Every cold run is `mvmctl run PLAN -v --backend B --no-pool` of a busybox workload whose entrypoint
is `/bin/true`: a fresh sandbox each time (never claimed from a pool, no snapshot), rootfs and guest
images already cached. The launcher reports its phase timings on stderr (`mvmctl run: timings
{json}`); the boundaries are measured from the moment the backend starts launching (after plan
verification and the cache lookups), so they compare backends, not plan sizes:

  process spawned     container: clone() to PID 1 exec'd; qemu-microvm: qemu exec'd
  kernel entered      qemu-microvm only: the guest kernel started (from the guest's boot clock)
  guest agent ready   the agent answered Hello
  first exec result   `/bin/true`'s exit status back at the host
  mvmctl wall         the whole `mvmctl run` process, verification and teardown included

Then, unless --no-pool-rows, a warm pool of size 1 of the same plan on the same backend and state dir
(`mvmctl pool start`), waited on until its sandbox is ready, and N more runs without --no-pool, each
of which must claim the pool's ready sandbox (the harness fails if one boots instead). Before every
run the harness waits, untimed, for the pool to refill. These rows measure claiming a sandbox that
is already booted, not a boot:

  pool: claimed (agent answered)   from looking for a pool to the claimed sandbox's agent answering
  pool: first exec result          claimed plus `/bin/true`'s exit status back at the host
  pool: mvmctl wall                the whole `mvmctl run` process, verification and teardown included
  pool: refill                     from the end of a claiming run to the pool's next sandbox ready
                                   (as `pool ls`, polled every 50 ms, sees it)

For qemu-microvm the pool rows are repeated with `pool start --from-snapshot` (a pool that restores
one full snapshot instead of booting), as `pool (from snapshot):` rows.

For qemu-microvm, unless --no-restore-rows, a sandbox of the same plan is started (`mvmctl up
--detach`), snapshotted once (`mvmctl snapshot NAME --full`), and restored N times under new names
(`mvmctl restore NAME LABEL --as NEW --format json`), each copy destroyed, untimed, before the next:

  restore: agent ready        qemu started from the saved state to the agent answering Hello
  restore: first exec result  agent ready, plus the new identity applied (hostname, entropy,
                              clock), plus a whole `mvmctl exec NEW -- /bin/true` process
  restore: mvmctl wall        the whole `mvmctl restore` process: seal, digests, plan admission,
                              start and identity

    python3 bench/coldstart/coldstart.py --mvmctl build/bin/mvmctl [--runs 20]
        [--backends container,qemu-microvm] [--no-pool-rows] [--no-restore-rows]
        [--out docs/perf/coldstart]

writes OUT.md and OUT.json (host, backend, acceleration and boundary on every row) and prints the
Markdown. Needs root, as the backends do. Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchutil import host_description, loadavg, percentile, report_header, timed  # noqa: E402

WORKLOAD = '''from mvm import entrypoint, workload


@workload("coldstart-{isolation}", image="template:busybox", isolation="{isolation}",
          timeout_seconds=60)
class ColdStart:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
'''

BOUNDARIES = ["process spawned", "kernel entered", "guest agent ready", "first exec result",
              "mvmctl wall"]
POOL_BOUNDARIES = ["pool: claimed (agent answered)", "pool: first exec result", "pool: mvmctl wall",
                   "pool: refill"]
RESTORE_BOUNDARIES = ["restore: agent ready", "restore: first exec result", "restore: mvmctl wall"]


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


def pool_boundaries(t: dict, wall_ms: float) -> dict[str, float]:
    """Maps a claiming run's timings to the pool rows, in ms from looking for a pool."""
    return {"pool: claimed (agent answered)": t["claim_ms"],
            "pool: first exec result": t["first_exec_result_ms"], "pool: mvmctl wall": wall_ms}


def tail(path: str, limit: int = 4000) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-limit:]
    except OSError as e:
        return f"(cannot read {path}: {e})"


class WarmPool:
    """`mvmctl pool start PLAN --size 1` in the foreground, as a child of the harness; `stop()`
    ends it with `mvmctl pool stop` (and SIGTERM/SIGKILL if that does not end it)."""

    def __init__(self, mvmctl: str, plan: str, name: str, backend: str, state: str,
                 trust: list[str], logdir: str, from_snapshot: bool = False) -> None:
        self.mvmctl, self.name, self.state = mvmctl, name, state
        self.stdout_path = os.path.join(logdir, f"pool-{name}.stdout")
        self.stderr_path = os.path.join(logdir, f"pool-{name}.stderr")
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            # Its own session, so a Ctrl-C reaches only the harness, which stops the pool itself.
            self.proc = subprocess.Popen(
                [mvmctl, "pool", "start", plan, "--name", name, "--size", "1", "--backend", backend,
                 "--state-dir", state, *trust, *(["--from-snapshot"] if from_snapshot else [])],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def fail(self, why: str) -> None:
        sys.exit(f"coldstart: warm pool `{self.name}`: {why}\n--- pool stdout ---\n"
                 f"{tail(self.stdout_path)}\n--- pool stderr ---\n{tail(self.stderr_path)}")

    def status(self) -> dict | None:
        proc = subprocess.run([self.mvmctl, "pool", "ls", "--format", "json", "--state-dir",
                               self.state], capture_output=True, text=True)
        if proc.returncode != 0:
            self.fail(f"`pool ls` exited {proc.returncode}: {proc.stderr.strip()}")
        for pool in json.loads(proc.stdout)["pools"]:
            if pool.get("name") == self.name:
                return pool
        return None

    def wait_ready(self, claims: int, timeout_s: float) -> None:
        """Until one sandbox is ready and the pool has counted `claims` claims (so a `ready` read
        just after a claim is not the claimed sandbox's)."""
        deadline = time.monotonic() + timeout_s
        pool = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.fail(f"the pool process exited {rc} before a sandbox was ready")
            pool = self.status()
            if (pool is not None and pool.get("running") and pool.get("ready", 0) >= 1
                    and pool.get("claimed", 0) >= claims):
                return
            if time.monotonic() > deadline:
                self.fail(f"no ready sandbox after {timeout_s:.0f} s; last `pool ls`: "
                          f"{json.dumps(pool)}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:  # waits for a boot in progress (up to 120 s), then destroys the ready sandbox
                subprocess.run([self.mvmctl, "pool", "stop", self.name, "--state-dir", self.state],
                               capture_output=True, timeout=180)
            except (OSError, subprocess.TimeoutExpired):
                pass  # the signals below end it
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                self.proc.wait(timeout=30)
                return
            except subprocess.TimeoutExpired:
                self.proc.send_signal(sig)
        self.proc.wait()


def pool_samples(mvmctl: str, plan: str, backend: str, state: str, trust: list[str], work: str,
                 runs: int, warmups: int, timeout_s: float,
                 from_snapshot: bool = False) -> tuple[dict[str, list[float]], set]:
    """`runs` claims from a warm pool of size 1 (after `warmups` uncounted ones)."""
    name = f"coldstart-{backend}" + ("-snap" if from_snapshot else "")
    argv = [mvmctl, "run", plan, "--state-dir", state, "--backend", backend, "-v", *trust]
    samples: dict[str, list[float]] = {b: [] for b in POOL_BOUNDARIES}
    acceleration = set()
    pool = WarmPool(mvmctl, plan, name, backend, state, trust, work, from_snapshot)
    try:
        refilled_at = time.perf_counter()
        for i in range(warmups + runs):
            pool.wait_ready(claims=i, timeout_s=timeout_s)
            # The refill: from the end of the claiming run to the pool's next sandbox ready, as
            # `pool ls` polled every 50 ms sees it (so up to about 60 ms late).
            refill = (time.perf_counter() - refilled_at) * 1000.0
            if i > warmups:
                samples["pool: refill"].append(refill)
            wall, err = timed(argv)
            refilled_at = time.perf_counter()
            t = parse_timings(err)
            if t.get("pool") != name:
                sys.exit(f"coldstart: run {i + 1} of `{' '.join(argv)}` did not claim from pool "
                         f"`{name}` (timings: {json.dumps(t)}); stderr:\n{err[-4000:]}")
            if i < warmups:
                continue
            acceleration.add(t.get("acceleration") or "none (container)")
            for boundary, value in pool_boundaries(t, wall).items():
                samples[boundary].append(value)
    finally:
        pool.stop()
    return samples, acceleration


def restore_samples(mvmctl: str, plan: str, state: str, trust: list[str],
                    runs: int, warmups: int) -> dict[str, list[float]]:
    """`runs` restores of one full snapshot of a sandbox of `plan` (after `warmups` uncounted)."""
    common = ["--state-dir", state]
    source = "coldstart-snap-src"
    samples: dict[str, list[float]] = {b: [] for b in RESTORE_BOUNDARIES}

    def mvm(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([mvmctl, *argv], capture_output=True, text=True)

    def must(proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode != 0:
            sys.exit(f"coldstart: {what} exited {proc.returncode}:\n{proc.stderr[-4000:]}")

    must(mvm("up", plan, "--backend", "qemu-microvm", "--name", source, "--detach", "--no-pool",
             *common, *trust), "`up` of the snapshot's source")
    try:
        must(mvm("snapshot", source, "--full", "--label", "coldstart", *common),
             "`snapshot --full`")
        for i in range(warmups + runs):
            name = f"coldstart-restored-{i}"
            wall, out = timed([mvmctl, "restore", source, "coldstart", "--as", name,
                               "--format", "json", *common, *trust], stdout=True)
            try:
                t = json.loads(out)
                exec_ms, _ = timed([mvmctl, "exec", name, *common, "--", "/bin/true"])
            finally:
                mvm("destroy", name, *common)
            if i < warmups:
                continue
            samples["restore: agent ready"].append(t["agent_ready_ms"])
            samples["restore: first exec result"].append(
                t["agent_ready_ms"] + t["refresh_ms"] + exec_ms)
            samples["restore: mvmctl wall"].append(wall)
    finally:
        mvm("destroy", source, *common)
        mvm("snapshot", "rm", source, "coldstart", *common)
    return samples


def make_rows(host: dict, backend: str, mode: str, acceleration: set,
              samples: dict[str, list[float]], attempts: list[int]) -> list[dict]:
    rows = []
    for name, values in samples.items():
        if not values:
            continue
        if mode == "warm pool from snapshot":
            name = name.replace("pool:", "pool (from snapshot):")
        rows.append({"host": host["node"], "backend": backend,
                     "acceleration": "/".join(sorted(acceleration)), "boundary": name,
                     "mode": mode, "n": len(values), "p50_ms": percentile(values, 0.5),
                     "p95_ms": percentile(values, 0.95), "p99_ms": percentile(values, 0.99),
                     "max_ms": max(values), "samples_ms": values,
                     "boot_retries": sum(max(0, a - 1) for a in attempts)})
    return rows


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
    parser.add_argument("--no-pool-rows", action="store_true",
                        help="skip the warm-pool rows (claims from `mvmctl pool start --size 1`)")
    parser.add_argument("--no-restore-rows", action="store_true",
                        help="skip the qemu-microvm snapshot-restore rows")
    parser.add_argument("--pool-timeout", type=float, default=300.0,
                        help="seconds to wait for the warm pool to have a ready sandbox, at start "
                             "and after each claim (default 300)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("coldstart: run as root (the sandbox backends need it)")
    if args.runs < 1:
        sys.exit("coldstart: --runs must be at least 1")
    backends = [b for b in args.backends.split(",") if b] or (
        ["container"] + (["qemu-microvm"] if shutil.which("qemu-system-x86_64") else []))
    mvmctl = os.path.abspath(args.mvmctl)
    # SIGTERM unwinds like Ctrl-C, so the `finally`s stop a warm pool and remove the work dir.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("coldstart: terminated"))

    load_start = loadavg()
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
            # --no-pool: a cold run never claims, even if a pool of this plan were running.
            argv = [mvmctl, "run", plan, "--state-dir", state, "--backend", backend, "-v",
                    "--no-pool", *trust]
            # The first run builds and caches the rootfs (and guest images); warm-ups settle caches.
            for _ in range(1 + args.warmups):
                timed(argv)
            samples: dict[str, list[float]] = {b: [] for b in BOUNDARIES}
            acceleration = set()
            attempts = []
            for _ in range(args.runs):
                wall, err = timed(argv)
                t = parse_timings(err)
                if "pool" in t:
                    sys.exit(f"coldstart: a --no-pool run claimed from pool `{t['pool']}`:\n"
                             f"{err[-4000:]}")
                acceleration.add(t.get("acceleration") or "none (container)")
                attempts.append(t.get("boot_attempts", 0))
                for name, value in boundaries(backend, t, wall).items():
                    samples[name].append(value)
            rows += make_rows(host, backend, "cold", acceleration, samples, attempts)
            if not args.no_pool_rows:
                pool, pool_accel = pool_samples(mvmctl, plan, backend, state, trust, work,
                                                args.runs, args.warmups, args.pool_timeout)
                rows += make_rows(host, backend, "warm pool", pool_accel, pool, [])
                if backend == "qemu-microvm" and not args.no_restore_rows:
                    pool, pool_accel = pool_samples(mvmctl, plan, backend, state, trust, work,
                                                    args.runs, args.warmups, args.pool_timeout,
                                                    from_snapshot=True)
                    rows += make_rows(host, backend, "warm pool from snapshot", pool_accel, pool,
                                      [])
            if backend == "qemu-microvm" and not args.no_restore_rows:
                restored = restore_samples(mvmctl, plan, state, trust, args.runs, args.warmups)
                rows += make_rows(host, backend, "snapshot restore", acceleration, restored, [])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = report_header(mvmctl, load_start)
    lines = [
        header,
        f"Each row: {args.runs} fresh launches of a busybox `/bin/true` workload after "
        f"{args.warmups} warm-up run(s), images cached, `--no-pool` (never claimed from a warm "
        "pool). "
        "Times in ms from the backend's start, except `mvmctl wall` (the whole `mvmctl run` "
        "process).",
    ]
    if not args.no_pool_rows:
        lines.append(
            f"`pool:` rows: {args.runs} runs of the same plan (after {args.warmups} warm-up "
            "run(s)) that each claimed the ready sandbox of a warm pool of size 1 (`mvmctl pool start --size "
            "1`, same backend and state dir, started after the cold runs); before each run the "
            "harness waited, untimed, for the pool to refill. They measure the claim of an "
            "already-booted sandbox, not a boot: `claimed (agent answered)` is from looking for a "
            "pool to the claimed sandbox's agent answering, `first exec result` adds `/bin/true`'s "
            "exit status, `mvmctl wall` is the whole `mvmctl run` process (verification and "
            "teardown included); `refill` is from the end of a claiming run to the pool's next "
            "sandbox ready, as `pool ls` polled every 50 ms saw it. `pool (from snapshot):` rows: "
            "the same with `pool start --from-snapshot` (qemu-microvm), whose refills restore one "
            "full snapshot instead of booting.")
    if not args.no_restore_rows and "qemu-microvm" in backends:
        lines.append(
            f"`restore:` rows (qemu-microvm): one sandbox of the same plan started with `up "
            f"--detach`, one full snapshot of it (`snapshot --full`), then {args.runs} restores "
            f"of that snapshot under new names (after {args.warmups} warm-up restore(s)), each "
            "destroyed before the next. `agent ready` is from qemu's start from the saved state "
            "to the agent answering; `first exec result` adds the new identity (hostname, "
            "entropy, clock) and a whole `mvmctl exec NEW -- /bin/true` process; `mvmctl wall` "
            "is the whole `mvmctl restore` process (seal, every file's SHA-256, plan admission, "
            "start, identity).")
    lines += [
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
            json.dump({"header": header, "host": host, "when": when, "runs": args.runs, "warmups": args.warmups,
                       "cold_runs": "--no-pool", "pool_rows": not args.no_pool_rows,
                       "rows": rows}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
