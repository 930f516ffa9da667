"""What a sandbox's egress proxy adds: connection set-up (connect → first response byte, p50/p99/max)
and bulk throughput, through the proxy against direct from the network namespace mvmctl runs in,
in the same run.

    python3 bench/egress_bench.py --mvmctl build/bin/mvmctl [--internet build/bin/mvm_egress_bench_internet]
        [--n 200] [--rounds 10] [--bulk-mib 256] [--rootfs-cache DIR] [--out docs/perf/egress.md]

Root. Starts the tests' internet (tests/support/test_internet.h, held up by
mvm_egress_bench_internet), then one container sandbox of the `python-3.11` template whose policy
allows http and https to allowed.test (`mvmctl up --detach` in the client namespace, as the egress
tests run mvmctl). The same client, bench/egress_client.py, runs in four places, in rotation over
`--rounds` rounds:
  - direct: the host's /usr/bin/python3 in the client namespace, dialling the server's address;
  - chroot: the template's python3 there, by chroot (a control: the sandbox's Python and OpenSSL
    without the sandbox);
  - redirect: the sandbox's python3 through `mvmctl exec`, ignoring the proxy variables exec
    exports: it dials the name's sandbox-side address and the nftables redirect hands the
    connection to the proxy;
  - proxy: the same through HTTP_PROXY / HTTPS_PROXY (absolute-form GET, CONNECT for HTTPS).
Each run makes n / rounds sequential connections per scheme (after 3 unrecorded ones) and one bulk
`GET /bytes/N` per scheme. The egress helper's CPU time (utime + stime from /proc) over the proxied
runs is reported per MiB moved.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import REPO, loadavg, percentile, report_header, write_report  # noqa: E402

WORKLOAD = """from mvm import workload, entrypoint, NetworkPolicy, Volume

POLICY = (NetworkPolicy.deny_by_default()
          .allow_https("allowed.test")
          .allow_http("allowed.test")
          .allow_dns())


@workload("egress-bench", image="template:python-3.11", isolation="container", cpu=2,
          memory_mb=512, network=POLICY, volumes=[Volume.local("./share", "/bench", mode="ro")])
class EgressBench:
    @entrypoint(command=["true"])
    def main(self): ...
"""

PATHS = [("direct", "direct (client namespace)"),
         ("chroot", "direct, template's python3 (chroot)"),
         ("redirect", "proxy, transparent redirect"),
         ("proxy", "proxy, HTTP(S)_PROXY")]


def run(argv: list[str], timeout: float = 600, env: dict | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        sys.exit(f"egress_bench: `{' '.join(argv)}` exited {proc.returncode}:\n"
                 f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def egress_helper_pid(name: str) -> int | None:
    """The sandbox's egress helper: argv[0] `mvm-egress`, the sandbox's name among its arguments."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0] == b"mvm-egress" and name.encode() in argv:
            return int(entry.name)
    return None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stats(values: list[float]) -> dict:
    return {"n": len(values), "p50": percentile(values, 0.5), "p99": percentile(values, 0.99),
            "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--internet", help="mvm_egress_bench_internet (default: beside mvmctl)")
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the direct client's Python (default: the host's Debian one)")
    parser.add_argument("--n", type=int, default=200, help="connections per scheme and path")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--bulk-mib", type=int, default=256)
    parser.add_argument("--rootfs-cache", help="a template cache to use (it is linked, not copied)")
    parser.add_argument("--json")
    parser.add_argument("--out", help="also write the Markdown report here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("egress_bench: run as root (namespaces, the container backend)")
    mvmctl = os.path.abspath(args.mvmctl)
    internet = os.path.abspath(args.internet or os.path.join(os.path.dirname(mvmctl),
                                                             "mvm_egress_bench_internet"))
    load_start = loadavg()
    per_round = max(1, args.n // args.rounds)
    bulk_bytes = args.bulk_mib << 20

    work = Path(tempfile.mkdtemp(prefix="mvm-egress-bench-"))
    state = work / "state"
    state.mkdir()
    if args.rootfs_cache:
        (state / "rootfs").symlink_to(os.path.abspath(args.rootfs_cache))
    (work / "share").mkdir()
    shutil.copy(REPO / "bench" / "egress_client.py", work / "share" / "egress_client.py")
    (work / "egress_bench_workload.py").write_text(WORKLOAD)
    name = f"egress-bench-{os.getpid()}"
    holder = subprocess.Popen([internet], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    up = False
    try:
        line = holder.stdout.readline()
        if not line:
            sys.exit("egress_bench: the test internet did not start (see its stderr above)")
        net = json.loads(line)
        prefix = net["prefix"]
        shutil.copy(net["ca"], work / "share" / "ca.pem")
        os.chmod(work / "share" / "ca.pem", 0o644)
        os.chmod(work / "share" / "egress_client.py", 0o644)
        os.chmod(work / "share", 0o755)

        def mvm(*argv: str, timeout: float = 600) -> str:
            return run([*prefix, mvmctl, argv[0], f"--state-dir={state}", *argv[1:]], timeout)

        mvm("up", str(work / "egress_bench_workload.py"), "--name", name, "--detach")
        up = True
        helper = egress_helper_pid(name)
        rootfs = (state / "rootfs" / "python-3.11" / "current").resolve()
        client = ["--ca", None, "--n", str(per_round), "--bulk-bytes", str(bulk_bytes)]
        host_env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}

        def measure(path: str) -> dict:
            if path == "direct":
                argv = [*prefix, args.python, str(work / "share" / "egress_client.py"),
                        "--mode", "dial", *client]
                argv[argv.index("--ca") + 1] = str(work / "share" / "ca.pem")
                return json.loads(run(argv, env=host_env))
            if path == "chroot":
                # The sandbox's Python and OpenSSL without the sandbox: the template's root
                # filesystem, the client and CA bound on its /mnt (in the prefix's private mount
                # namespace), no resolv.conf there, so the address is given.
                script = ('share=$1; root=$2; shift 2; mount --bind "$share" "$root/mnt" && '
                          'exec chroot "$root" /usr/bin/python3 /mnt/egress_client.py "$@"')
                argv = [*prefix, "sh", "-c", script, "sh", str(work / "share"), str(rootfs),
                        "--mode", "dial", "--address", "203.0.113.10", *client]
                argv[argv.index("--ca") + 1] = "/mnt/ca.pem"
                return json.loads(run(argv, env=host_env))
            argv = [*prefix, mvmctl, "exec", f"--state-dir={state}", name, "--timeout", "600",
                    "--", "python3", "/bench/egress_client.py",
                    "--mode", "dial" if path == "redirect" else "proxy", *client]
            argv[argv.index("--ca") + 1] = "/bench/ca.pem"
            return json.loads(run(argv))

        results = {p: {"lookup_ms": [], "http_ms": [], "https_ms": [],
                       "bulk": {"http": [], "https": []}} for p, _ in PATHS}
        pythons = {}
        helper_cpu = 0.0
        helper_bytes = 0
        order = [p for p, _ in PATHS]
        for r in range(args.rounds):
            for path in order[r % len(order):] + order[:r % len(order)]:
                before = cpu_seconds(helper) if helper and path in ("redirect", "proxy") else None
                out = measure(path)
                if before is not None:
                    helper_cpu += cpu_seconds(helper) - before
                    helper_bytes += sum(b for b, _ in out["bulk"]["http"] + out["bulk"]["https"])
                pythons[path] = out["python"]
                for key in ("lookup_ms", "http_ms", "https_ms"):
                    results[path][key] += out[key]
                for scheme in ("http", "https"):
                    results[path]["bulk"][scheme] += out["bulk"][scheme]
                print(f"round {r + 1}/{args.rounds} {path}: http p50 "
                      f"{percentile(out['http_ms'], 0.5):.3f} ms, https p50 "
                      f"{percentile(out['https_ms'], 0.5):.3f} ms", file=sys.stderr)
    finally:
        if up:
            for verb in ("stop", "destroy"):
                subprocess.run([*prefix, mvmctl, verb, f"--state-dir={state}", name],
                               capture_output=True, timeout=120)
        holder.stdin.close()
        holder.wait(timeout=120)
        shutil.rmtree(work, ignore_errors=True)

    # Tables.
    rows = []
    summary = {"paths": {}, "pythons": pythons, "per_round": per_round, "rounds": args.rounds,
               "bulk_bytes": bulk_bytes}
    direct = {}
    for path, label in PATHS:
        res = results[path]
        entry = {"label": label}
        for scheme in ("http", "https"):
            entry[scheme] = stats(res[f"{scheme}_ms"])
            runs = res["bulk"][scheme]
            entry[f"bulk_{scheme}_mb_s"] = sorted(b / s / 1e6 for b, s in runs)
        if res["lookup_ms"]:
            entry["lookup"] = stats(res["lookup_ms"])
        summary["paths"][path] = entry
        if path == "direct":
            direct = entry
    summary["samples"] = results
    summary["helper_cpu_s"] = helper_cpu
    summary["helper_bytes"] = helper_bytes

    def med(values: list[float]) -> float:
        return percentile(values, 0.5)

    lines = ["| path | scheme | n | p50 (ms) | p99 (ms) | max (ms) | p50 − direct p50 (ms) |",
             "|---|---|---|---|---|---|---|"]
    for path, label in PATHS:
        e = summary["paths"][path]
        for scheme in ("http", "https"):
            s = e[scheme]
            added = "" if path == "direct" else f"{s['p50'] - direct[scheme]['p50']:+.3f}"
            lines.append(f"| {label} | {scheme} | {s['n']} | {s['p50']:.3f} | {s['p99']:.3f} | "
                         f"{s['max']:.3f} | {added} |")
    latency = "\n".join(lines)
    lines = ["| path | scheme | runs | MB/s (median) | MB/s (min–max) | ratio to direct |",
             "|---|---|---|---|---|---|"]
    for path, label in PATHS:
        e = summary["paths"][path]
        for scheme in ("http", "https"):
            v = e[f"bulk_{scheme}_mb_s"]
            ratio = "" if path == "direct" else \
                f"{med(v) / med(direct[f'bulk_{scheme}_mb_s']):.2f}"
            lines.append(f"| {label} | {scheme} | {len(v)} | {med(v):.0f} | {v[0]:.0f}–{v[-1]:.0f} "
                         f"| {ratio} |")
    bulk = "\n".join(lines)
    lookups = [f"- {label}: p50 {summary['paths'][p]['lookup']['p50']:.3f} ms, p99 "
               f"{summary['paths'][p]['lookup']['p99']:.3f} ms"
               for p, label in PATHS if "lookup" in summary["paths"][p]]
    helper_line = (f"{helper_cpu:.2f} s of CPU for {helper_bytes / 2**20:.0f} MiB through the "
                   f"proxy ({helper_cpu * 1e3 / max(1, helper_bytes / 2**20):.2f} ms per MiB), "
                   "counting every connection of the proxied runs")
    verdicts = []
    for path, label in PATHS:
        if path not in ("redirect", "proxy"):
            continue
        for scheme in ("http", "https"):
            e = summary["paths"][path]
            added = e[scheme]["p50"] - direct[scheme]["p50"]
            ratio = med(e[f"bulk_{scheme}_mb_s"]) / med(direct[f"bulk_{scheme}_mb_s"])
            verdicts.append(f"- {label}, {scheme}: {added:+.3f} ms at p50 "
                            f"({'met' if added < 1.0 else 'missed'}), throughput {ratio:.2f} of "
                            f"direct ({'met' if ratio >= 0.5 else 'missed'})")
    goal = ("The goal on record (issue 17): under 1 ms added at p50, throughput at least half of "
            "direct. In this run:\n\n" + "\n".join(verdicts))
    print(latency + "\n\n" + bulk + "\n\nlookups:\n" + "\n".join(lookups) + "\n\negress helper: " +
          helper_line + "\n\n" + goal)

    if args.json:
        summary["load_start"] = load_start
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    if args.out:
        body = f"""Backend: container; one sandbox of the `python-3.11` template ({pythons.get('redirect')}),
policy `allow_https("allowed.test")`, `allow_http("allowed.test")`, `allow_dns()`, started once with
`mvmctl up --detach` in the tests' internet's client namespace; the measuring client is
`bench/egress_client.py`, the same file in every row, run with the host's `{args.python}`
({pythons.get('direct')}) for the direct rows and with the sandbox's `python3` through `mvmctl exec` for
the proxy rows. The server is allowed.test (203.0.113.10) of the tests' internet, a Python
`http.server` in its own network namespace across a veth pair; client, proxy and server share the
host's cores. {args.rounds} rounds, each path once per round in rotation.

## Connection set-up

Readiness boundary: from the client's `connect()` (to the server's address for direct and redirect,
to the proxy for HTTP(S)_PROXY) to the first byte of the answer to `GET /`, which includes, for
https, the TLS handshake with the server (end to end: the proxy does not terminate TLS) and, through
the proxy variables, CONNECT and its answer. The name lookup is outside it (timed on its own below).
{per_round} sequential connections per scheme, path and round after 3 unrecorded ones.

{latency}

The last column is the row's p50 minus the direct p50 of the same scheme: for the proxy rows, what
the proxy adds, together with what running in a sandbox (its seccomp filter, cgroup and network
namespace) adds to the client. The chroot row is the control for the two clients being different
builds: the template's `python3` and OpenSSL, run directly in the client namespace (`chroot` into the
template's root filesystem, the address given since that tree has no resolv.conf).

Name lookups (`getaddrinfo`, A), per connection, by the dialling clients: direct asks the test DNS
server, the sandbox asks its egress helper's resolver, which asks the test DNS server:

{chr(10).join(lookups)}

## Bulk

`GET /bytes/{bulk_bytes}` ({args.bulk_mib} MiB), timed from `connect()` to the last byte, once per
scheme, path and round; read into a 1 MiB buffer. MB/s is 10^6 bytes a second.

{bulk}

The egress helper (`mvm-egress`, utime + stime from /proc over the proxied runs): {helper_line}.

## Against the goal

{goal}
"""
        write_report(args.out, "Egress proxy: connection set-up and throughput",
                     "bench/egress_bench.py", report_header(mvmctl, load_start), body)


if __name__ == "__main__":
    main()
