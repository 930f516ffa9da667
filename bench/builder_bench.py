#!/usr/bin/env python3
"""The busybox template built by Nix on the host against `mvmctl build` in the builder sandbox.

Each of --runs rounds uses fresh state directories and stores, and times, start to exit:

- `nix build` of the template flake on the host into an empty local store, then again (output in
  the store): Nix alone, what `mvmctl build` ran before the builder sandbox;
- `mvmctl build app.py` with no warm builder (a builder started for the build and destroyed after,
  its store image made and mounted): into an empty store, then again;
- `mvmctl build app.py` in the warm builder (`mvmctl builder start` first, not timed): into an
  empty store, then again;
- with --microvm, the same two builder rows on `--builder-backend qemu-microvm`. Its state
  directory (--microvm-state) is kept across rounds, so that the guest kernel, the builder's Debian
  root and its image are made once, before the first round (not timed); each round gets a fresh
  store.

    python3 bench/builder_bench.py --mvmctl build/bin/mvmctl [--runs 3] [--microvm] \
        [--out docs/perf/builder.md]

Needs root, nix-bin and e2fsprogs, as the builder does (and qemu-system-x86 for --microvm).
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, publish_seconds, timed  # noqa: E402

WORKLOAD = '''from mvm import entrypoint, workload


@workload("builder-bench", image="template:busybox", timeout_seconds=30)
class BuilderBench:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
'''

ROWS = [
    "host nix, empty store", "host nix, output in store",
    "new builder, empty store", "new builder, output in store",
    "warm builder, empty store", "warm builder, output in store",
]
MICROVM_ROWS = [
    "new microVM builder, empty store", "new microVM builder, output in store",
    "warm microVM builder, empty store", "warm microVM builder, output in store",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default="", help="write the Markdown report here")
    parser.add_argument("--microvm", action="store_true",
                        help="also time the builder on the qemu-microvm backend")
    parser.add_argument("--microvm-state", default="",
                        help="the microVM rows' state directory (default: one made for the run)")
    args = parser.parse_args()
    if not shutil.which("nix"):
        sys.exit("builder_bench: nix is not on PATH (apt-get install nix-bin)")
    mvmctl = os.path.abspath(args.mvmctl)
    templates = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "templates")
    load_start = loadavg()
    work = tempfile.mkdtemp(prefix="mvm-builder-bench-")
    # In a directory of its own: the project files shipped with it are that directory.
    os.makedirs(os.path.join(work, "src"))
    source = os.path.join(work, "src", "app.py")
    with open(source, "w") as f:
        f.write(WORKLOAD)
    rows = ROWS + (MICROVM_ROWS if args.microvm else [])
    samples: dict[str, list[float]] = {row: [] for row in rows}
    out = os.path.join(work, "out")
    vm_state = os.path.abspath(args.microvm_state or os.path.join(work, "microvm"))
    vm = ["--builder-backend", "qemu-microvm"]
    if args.microvm:
        # The kernel, the Debian root and its image, once: what a host pays on its first build.
        subprocess.run([mvmctl, "build", source, "-o", out, "--state-dir", vm_state,
                        "--builder-store-mb", "1024"] + vm, check=True)
    try:
        for i in range(args.runs):
            store = os.path.join(work, f"store{i}")
            host = ["nix", "--extra-experimental-features", "nix-command flakes", "build",
                    "--store", store, "--option", "substituters", "", "--option",
                    "build-users-group", "", "--no-link", "--json",
                    f"path:{templates}#packages.x86_64-linux.busybox"]
            for row in ROWS[0:2]:
                samples[row].append(timed(host)[0])
            state = os.path.join(work, f"cold{i}")
            build = [mvmctl, "build", source, "-o", out, "--state-dir", state,
                     "--builder-store-mb", "1024", "--builder-backend", "container"]
            for row in ROWS[2:4]:
                samples[row].append(timed(build)[0])
            state = os.path.join(work, f"warm{i}")
            subprocess.run([mvmctl, "builder", "start", "--state-dir", state,
                            "--builder-store-mb", "1024", "--builder-backend", "container"],
                           check=True)
            build = [mvmctl, "build", source, "-o", out, "--state-dir", state]
            try:
                for row in ROWS[4:6]:
                    samples[row].append(timed(build)[0])
            finally:
                subprocess.run([mvmctl, "builder", "stop", "--state-dir", state], check=False)
            if not args.microvm:
                continue
            store_image = os.path.join(vm_state, "builder", "store.img")
            if os.path.exists(store_image):
                os.remove(store_image)
            build = [mvmctl, "build", source, "-o", out, "--state-dir", vm_state,
                     "--builder-store-mb", "1024"] + vm
            for row in MICROVM_ROWS[0:2]:
                samples[row].append(timed(build)[0])
            os.remove(store_image)
            subprocess.run([mvmctl, "builder", "start", "--state-dir", vm_state,
                            "--builder-store-mb", "1024"] + vm, check=True)
            build = [mvmctl, "build", source, "-o", out, "--state-dir", vm_state]
            try:
                for row in MICROVM_ROWS[2:4]:
                    samples[row].append(timed(build)[0])
            finally:
                subprocess.run([mvmctl, "builder", "stop", "--state-dir", vm_state], check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    publish_seconds(
        args.out, mvmctl, load_start, "mvmctl build in the builder sandbox",
        "bench/builder_bench.py",
        f"Template `busybox` (the template flake's output), {args.runs} rounds, each with fresh "
        "stores. Readiness boundary: the process (`nix build` or `mvmctl build app.py`), start to "
        "exit. Times in s.",
        "build", samples)


if __name__ == "__main__":
    main()
