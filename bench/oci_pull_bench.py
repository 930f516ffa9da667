#!/usr/bin/env python3
"""`oci:` images: pulling one from a registry, and launching from the image cache.

    sudo /usr/bin/python3 bench/oci_pull_bench.py [--mvmctl build/bin/mvmctl] [--rounds 5]
        [--launch-rounds 20] [--rootfs-cache build-rootfs-cache]

Root; standard library only; needs /usr/bin/docker-registry, skopeo and umoci. In one run:

The image: a ~50 MB subset of the python-3.11 template's tree (ROOTFS_CACHE/python-3.11/current) in
three gzip layers (base: etc, the top-level symlinks, the ld.so and the libraries python3 needs
plus others from usr/lib/x86_64-linux-gnu; the standard library usr/lib/python3.11 without test/
and site-packages/; usr/bin with python3 and coreutils), Cmd `/usr/bin/python3 -c pass`. The
layout is written here (tarfile, gzip level 6, sha256, JSON) and pushed with `skopeo copy` to a
`docker-registry` (distribution) on a free 127.0.0.1 port, filesystem storage in a temp dir.

1. Pull + unpack into an empty cache, --rounds rounds, each side in a fresh directory every round,
   the two sides alternating:
     mvm:          mvmctl image pull 127.0.0.1:PORT/bench:1 --state-dir FRESH --quiet
     skopeo+umoci: skopeo copy --src-tls-verify=false docker://127.0.0.1:PORT/bench:1 oci:DIR:bench
                   then umoci unpack --image DIR:bench BUNDLE
   Boundary: process start to exit (both processes, back to back, for skopeo+umoci). mvm's pull also
   hashes the unpacked tree (the tree digest it stores); umoci does no such thing.
2. Launch from the cache: `mvmctl run FILE --state-dir S` of a class-form workload on
   `oci:127.0.0.1:PORT/bench@sha256:DIGEST` (no entrypoint: the image's Cmd runs), against the same
   shape on `template:python-3.11` with an entrypoint running the same command; both container
   backend. One warm-up each, then --launch-rounds runs each, alternating. Boundary: the whole
   `mvmctl run` process (compile, sign, verify, rootfs lookup, sandbox, exec, teardown). The oci:
   launch re-hashes the image's tree on every start (runtime/launcher/image.cc); its cost is
   bounded above by `mvmctl image verify DIGEST` (manifest + config + tree), timed --launch-rounds
   times.

Prints a header and the Markdown tables; writes nothing into the repository and removes its temp
dir and the registry at exit (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import loadavg, percentile, report_header  # noqa: E402

IMAGE_BUDGET = 50 * 1000 * 1000  # bytes of regular files, uncompressed, over all layers
BASE_LIBS_BUDGET = 12 * 1000 * 1000
CMD = ["/usr/bin/python3", "-c", "pass"]
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]
# What python3 needs from usr/lib/x86_64-linux-gnu (ldd of usr/bin/python3.11) and the loader.
PYTHON_LIBS = ["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libz.so.1", "libexpat.so.1"]
BIN_FIRST = ["python3", "python3.11", "true", "sh", "dash", "env", "ls", "cat", "bash"]

OCI_WORKLOAD = """from mvm import workload


@workload("bench-oci", image="oci:{ref}", isolation="container", timeout_seconds=60)
class BenchOci:
    pass
"""

TEMPLATE_WORKLOAD = """from mvm import workload, entrypoint


@workload("bench-template", image="template:python-3.11", isolation="container", timeout_seconds=60)
class BenchTemplate:
    @entrypoint(command={cmd})
    def main(self): ...
"""


class Failed(Exception):
    pass


def run(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise Failed(f"`{' '.join(argv)}` exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
                     f"{proc.stderr[-4000:]}")
    return proc


def timed_s(argv: list[str], timeout: float = 600) -> tuple[float, str]:
    start = time.perf_counter()
    proc = run(argv, timeout)
    return time.perf_counter() - start, proc.stderr


# --- the image -------------------------------------------------------------------------------------

def file_size(path: Path) -> int:
    return path.lstat().st_size if path.is_file() and not path.is_symlink() else 0


def tree_entries(root: Path, rel: str, skip: set[str]) -> list[str]:
    """Every path under root/rel (itself included), relative to root, sorted, minus `skip` subtrees."""
    out = []
    for dirpath, dirs, files in os.walk(root / rel):
        dirs[:] = sorted(d for d in dirs
                         if str((Path(dirpath) / d).relative_to(root)) not in skip)
        out.append(str(Path(dirpath).relative_to(root)))
        out += [str((Path(dirpath) / f).relative_to(root)) for f in sorted(files)]
    return out


def pick_files(root: Path, rel: str, first: list[str], budget: int) -> list[str]:
    """Entries of the flat directory root/rel: `first` (and what their symlinks point to in the
    same directory), then the rest in name order while the regular files fit in `budget`, then the
    symlinks whose target is in. Subdirectories are left out."""
    d = root / rel
    names = sorted(os.listdir(d))
    chosen: list[str] = []
    used = 0

    def add(name: str) -> None:
        nonlocal used
        if name in chosen:
            return
        p = d / name
        if p.is_symlink():
            target = os.readlink(p)
            if "/" not in target and (d / target).exists():
                add(target)
        chosen.append(name)
        used += file_size(p)

    for name in first:
        if (d / name).exists() or (d / name).is_symlink():
            add(name)
    for name in names:
        p = d / name
        if p.is_symlink() or p.is_dir():
            continue
        if used + file_size(p) <= budget:
            add(name)
    for name in names:
        p = d / name
        if p.is_symlink() and "/" not in os.readlink(p) and os.readlink(p) in chosen:
            add(name)
    return [f"{rel}/{n}" for n in chosen]


def parents(paths: list[str]) -> list[str]:
    seen: set[str] = set()
    for p in paths:
        parts = Path(p).parts[:-1]
        for i in range(1, len(parts) + 1):
            seen.add(str(Path(*parts[:i])))
    return sorted(seen)


def write_layer(root: Path, paths: list[str], blobs: Path) -> dict:
    """A gzip tar of `paths` (relative to root; parents added) as a blob: its descriptor fields."""
    raw = io.BytesIO()
    files = 0
    size = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(set(parents(paths)) | set(paths)):
            p = root / rel
            st = p.lstat()
            info = tarfile.TarInfo(rel)
            info.mtime = int(st.st_mtime)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if p.is_symlink():
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(p)
                info.mode = 0o777
                tar.addfile(info)
            elif p.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif p.is_file():
                # Every regular file stored whole (hard links inside the template tree are not
                # kept: a link across two layers would not resolve).
                info.mode = st.st_mode & 0o7777
                info.size = st.st_size
                with open(p, "rb") as f:
                    tar.addfile(info, f)
                files += 1
                size += st.st_size
    tar_bytes = raw.getvalue()
    gz = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    digest = hashlib.sha256(gz).hexdigest()
    (blobs / digest).write_bytes(gz)
    return {"digest": "sha256:" + digest, "size": len(gz),
            "diff_id": "sha256:" + hashlib.sha256(tar_bytes).hexdigest(),
            "files": files, "bytes": size}


def write_blob(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def build_layout(template: Path, layout: Path) -> list[dict]:
    """An OCI image layout at `layout`, tag `bench`: three gzip layers cut from the template tree."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    top = sorted(n for n in os.listdir(template) if n not in (".mvm",))
    base = [n for n in top if (template / n).is_symlink()]
    base += [n for n in top if (template / n).is_dir() and not (template / n).is_symlink()
             and n not in ("usr", "etc", "var", "app")]
    base += tree_entries(template, "etc", set())
    base += tree_entries(template, "usr/lib64", set())
    base += pick_files(template, "usr/lib/x86_64-linux-gnu", PYTHON_LIBS, BASE_LIBS_BUDGET)
    python = tree_entries(template, "usr/lib/python3.11",
                          {"usr/lib/python3.11/test", "usr/lib/python3.11/site-packages"})
    used = sum(file_size(template / p) for p in base + python)
    binaries = pick_files(template, "usr/bin", BIN_FIRST, max(IMAGE_BUDGET - used, 0))
    layers = [write_layer(template, paths, blobs) for paths in (base, python, binaries)]

    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ENV, "Cmd": CMD, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in layers]},
        "history": [{"created_by": f"oci_pull_bench.py layer {i + 1}"} for i in range(len(layers))],
    }
    config_digest, config_size = write_blob(blobs, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer["digest"], "size": layer["size"]} for layer in layers],
    }
    manifest_digest, manifest_size = write_blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
        "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return layers


# --- the registry ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    storage = work / "registry"
    storage.mkdir()
    config = work / "registry.yml"
    config.write_text(f"""version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
    proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)],
                            stdout=open(work / "registry.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failed(f"docker-registry exited {proc.returncode}: "
                         f"{(work / 'registry.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                return proc, port
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise Failed(f"docker-registry did not answer /v2/ on port {port} within 20 s")


# --- measurements ----------------------------------------------------------------------------------

def fresh(parent: Path, name: str) -> Path:
    if parent.exists():
        shutil.rmtree(parent)
    parent.mkdir(parents=True)
    return parent / name


def pull_rounds(mvmctl: str, work: Path, tag_ref: str, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"mvm": [], "skopeo": [], "umoci": [], "skopeo+umoci": []}
    scratch = work / "pull"
    for i in range(rounds):
        state = fresh(scratch, "state")
        seconds, _ = timed_s([mvmctl, "image", "pull", tag_ref, "--state-dir", str(state), "--quiet"])
        times["mvm"].append(seconds)

        layout = fresh(scratch, "layout")
        bundle = scratch / "bundle"
        copy_s, _ = timed_s(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                             f"docker://{tag_ref}", f"oci:{layout}:bench"])
        unpack_s, _ = timed_s(["umoci", "unpack", "--image", f"{layout}:bench", str(bundle)])
        times["skopeo"].append(copy_s)
        times["umoci"].append(unpack_s)
        times["skopeo+umoci"].append(copy_s + unpack_s)
        print(f"  pull round {i + 1}/{rounds}: mvm {times['mvm'][-1]:.2f} s, skopeo {copy_s:.2f} s "
              f"+ umoci {unpack_s:.2f} s", file=sys.stderr, flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return times


def pull_profile(mvmctl: str, work: Path, tag_ref: str) -> list[tuple[float, str]]:
    """One more (untimed for the table) pull without --quiet: each progress line on stderr with the
    seconds since the start at which it arrived."""
    state = fresh(work / "profile", "state")
    start = time.perf_counter()
    proc = subprocess.Popen([mvmctl, "image", "pull", tag_ref, "--state-dir", str(state)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append((time.perf_counter() - start, line.rstrip()))
    proc.wait(timeout=600)
    lines.append((time.perf_counter() - start, f"(exit {proc.returncode})"))
    shutil.rmtree(work / "profile", ignore_errors=True)
    return lines


PHASES = ["verify", "materialize", "namespaces", "agent ready", "exec", "teardown"]


def phases_of(stderr: str) -> dict[str, float]:
    """The launcher's own per-phase ms from `mvmctl run -v` (the line launch_bench.py reads too)."""
    m = re.search(r"phases \(ms\): (.*)", stderr)
    out = {}
    for part in (m.group(1).split(", ") if m else []):
        key, _, value = part.rpartition(" ")
        if key in PHASES:
            out[key] = float(value)
    return out


def launch_rounds(mvmctl: str, state: Path, files: dict[str, Path], rounds: int, digest: str
                  ) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]]]:
    times: dict[str, list[float]] = {name: [] for name in files}
    times["verify"] = []
    phases: dict[str, dict[str, list[float]]] = {name: {p: [] for p in PHASES} for name in files}
    for name, path in files.items():  # warm-up: compiles, and the first start of each rootfs
        timed_s([mvmctl, "run", str(path), "--state-dir", str(state)])
    for i in range(rounds):
        for name, path in files.items():
            seconds, err = timed_s([mvmctl, "run", str(path), "--state-dir", str(state), "-v"])
            times[name].append(seconds * 1000)
            for key, ms in phases_of(err).items():
                phases[name][key].append(ms)
        seconds, _ = timed_s([mvmctl, "image", "verify", digest, "--state-dir", str(state)])
        times["verify"].append(seconds * 1000)
    return times, phases


# --- report ----------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--mvmctl", default=os.path.join(root, "build", "bin", "mvmctl"),
                        help="the mvmctl to measure (default build/bin/mvmctl of this checkout)")
    parser.add_argument("--rounds", type=int, default=5, help="pull rounds per side (default 5)")
    parser.add_argument("--launch-rounds", type=int, default=20,
                        help="launches per workload after one warm-up (default 20)")
    parser.add_argument("--rootfs-cache", default=os.path.join(root, "build-rootfs-cache"),
                        help="a rootfs cache holding python-3.11/current (the template's tree)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("oci_pull_bench: run as root (the container backend needs it)")
    if args.rounds < 1 or args.launch_rounds < 1:
        sys.exit("oci_pull_bench: --rounds and --launch-rounds must be at least 1")
    mvmctl = os.path.abspath(args.mvmctl)
    if not os.access(mvmctl, os.X_OK):
        sys.exit(f"oci_pull_bench: no mvmctl at {mvmctl} (--mvmctl PATH)")
    rootfs_cache = Path(args.rootfs_cache).resolve()
    template = (rootfs_cache / "python-3.11" / "current").resolve()
    if not (template / "usr" / "bin" / "python3.11").is_file():
        sys.exit(f"oci_pull_bench: no python-3.11 template tree at {template}")
    for tool in ("skopeo", "umoci", "/usr/bin/docker-registry"):
        if not shutil.which(tool):
            sys.exit(f"oci_pull_bench: `{tool}` is not installed")
    load_start = loadavg()

    work = Path(tempfile.mkdtemp(prefix="mvm-oci-bench-"))
    registry: subprocess.Popen | None = None

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        layout = work / "layout"
        built = time.perf_counter()
        layers = build_layout(template, layout)
        built = time.perf_counter() - built
        registry, port = start_registry(work)
        tag_ref = f"127.0.0.1:{port}/bench:1"
        digest_file = work / "digest"
        run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--digestfile",
             str(digest_file), f"oci:{layout}:bench", f"docker://{tag_ref}"])
        digest = digest_file.read_text().strip()
        pinned = f"127.0.0.1:{port}/bench@{digest}"
        print(f"oci_pull_bench: image built in {built:.1f} s and pushed: {pinned}",
              file=sys.stderr, flush=True)

        pulls = pull_rounds(mvmctl, work, tag_ref, args.rounds)
        profile = pull_profile(mvmctl, work, tag_ref)

        state = work / "state"
        state.mkdir()
        (state / "rootfs").symlink_to(rootfs_cache)
        run([mvmctl, "image", "pull", pinned, "--state-dir", str(state), "--quiet"])
        wl = work / "workloads"
        wl.mkdir()
        files = {"oci": wl / "bench_oci.py", "template": wl / "bench_template.py"}
        files["oci"].write_text(OCI_WORKLOAD.format(ref=pinned))
        files["template"].write_text(TEMPLATE_WORKLOAD.format(cmd=json.dumps(CMD)))
        launches, phases = launch_rounds(mvmctl, state, files, args.launch_rounds, digest)
        tree_files = sum(layer["files"] for layer in layers)
        tree_bytes = sum(layer["bytes"] for layer in layers)
    except Failed as e:
        print(f"oci_pull_bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("oci_pull_bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if registry is not None:
            registry.kill()
            registry.wait()
        shutil.rmtree(work, ignore_errors=True)

    mb = 1e6
    sizes = ", ".join(f"{layer['bytes'] / mb:.1f} → {layer['size'] / mb:.1f} MB" for layer in layers)
    out = [report_header(mvmctl, load_start),
           f"Machine: {os.cpu_count()} CPUs (nproc), Linux {os.uname().release}. All figures are "
           "wall-clock time of whole processes, measured by this script with `time.perf_counter()` "
           "around `subprocess.run`; other jobs may share the machine.",
           "",
           f"Image: {len(layers)} gzip layers cut from the python-3.11 template's tree, "
           f"{tree_files} files, {tree_bytes / mb:.1f} MB uncompressed, "
           f"{sum(layer['size'] for layer in layers) / mb:.1f} MB compressed "
           f"({sizes}); "
           f"Cmd `{json.dumps(CMD)}`; served by docker-registry (distribution) over plain HTTP on "
           "127.0.0.1.",
           "",
           "## Pull + unpack into an empty cache",
           "",
           f"{args.rounds} rounds, the two sides alternating, each in a fresh directory. Boundary: "
           "process start to exit; mvm is `mvmctl image pull REF --state-dir FRESH --quiet` "
           "(resolve, download and check every blob, unpack, hash the tree, publish into the "
           "cache); skopeo+umoci is `skopeo copy docker://REF oci:DIR:bench` then "
           "`umoci unpack --image DIR:bench BUNDLE`, back to back (no tree digest).",
           "",
           "| side | n | p50 s | min s | max s |",
           "|---|---:|---:|---:|---:|"]
    for name in ("mvm", "skopeo+umoci", "skopeo", "umoci"):
        t = pulls[name]
        label = {"skopeo": "  skopeo copy alone", "umoci": "  umoci unpack alone"}.get(name, name)
        out.append(f"| {label} | {len(t)} | {statistics.median(t):.2f} | {min(t):.2f} | "
                   f"{max(t):.2f} |")
    ratio = statistics.median(pulls["mvm"]) / statistics.median(pulls["skopeo+umoci"])
    out += ["", f"mvm / (skopeo+umoci), p50 over p50: **{ratio:.2f}x**", "",
            "One more mvm pull without `--quiet`, each stderr line with the time it arrived "
            "(seconds from the start):", "", "```"]
    out += [f"{t:7.2f}  {line}" for t, line in profile]
    out += ["```", "",
            "## Launch from the cache: `oci:` against `template:`",
            "",
            f"`mvmctl run FILE --state-dir S -v`, container backend, one warm-up each, then "
            f"{args.launch_rounds} runs each, alternating. Boundary: the whole `mvmctl run` process "
            "(compile, sign, verify, rootfs lookup, sandbox up, the command, teardown). The oci: "
            "workload is class-form with no entrypoint (the image's Cmd runs), pinned by digest and "
            "already in S's cache; the template one runs the same command as its entrypoint from "
            "the prebuilt template tree (S/rootfs is a symlink to the rootfs cache).",
            "",
            "| workload | n | p50 ms | p99 ms | min ms |",
            "|---|---:|---:|---:|---:|"]
    names = {"oci": f"`oci:…/bench@{digest[:19]}…`", "template": "`template:python-3.11`",
             "verify": "`mvmctl image verify DIGEST` (a full hash)"}
    for name in ("oci", "template", "verify"):
        t = launches[name]
        out.append(f"| {names[name]} | {len(t)} | {percentile(t, 0.5):.1f} | "
                   f"{percentile(t, 0.99):.1f} | {min(t):.1f} |")
    out += ["", "The launcher's own phases (`mvmctl run -v`, the same runs), p50 ms; the oci: "
            "tree check falls in `materialize`:", "",
            "| phase | oci: | template: |", "|---|---:|---:|"]
    for p in PHASES:
        if phases["oci"][p] and phases["template"][p]:
            out.append(f"| {p} | {statistics.median(phases['oci'][p]):.1f} | "
                       f"{statistics.median(phases['template'][p]):.1f} |")
    diff = percentile(launches["oci"], 0.5) - percentile(launches["template"], 0.5)
    out += ["",
            f"oci p50 − template p50: {diff:+.1f} ms. The oci: launch checks the image's tree on "
            "every start (`ImageStore::CheckTree`): a full hash the first time (the warm-up), then "
            "a metadata fingerprint while it is unchanged. `mvmctl image verify` hashes manifest + "
            f"config + the whole tree ({tree_files} files, {tree_bytes / mb:.1f} MB), p50 "
            f"{percentile(launches['verify'], 0.5):.1f} ms as a whole process: about what each "
            "oci: launch would pay without the fingerprint (page cache warm)."
            + (" p99 over fewer than 100 runs is close to the maximum." if args.launch_rounds < 100
               else "")]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
