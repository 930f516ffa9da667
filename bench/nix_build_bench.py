#!/usr/bin/env python3
"""Wall time of `mvmctl build app.py` for a `template:busybox` workload: into an empty Nix store,
and again with the output already in the store (evaluation and hashing only).

Each of --runs rounds makes a fresh state directory (so a fresh local store under it), times
`mvmctl build app.py -o OUT --state-dir STATE` once (empty store: the template flake's busybox
derivation is built) and then once more in the same state directory (output already there). The
readiness boundary is the `mvmctl build` process: start to exit, compile, `nix build`, NAR hashing
and the plan written back included.

    python3 bench/nix_build_bench.py --mvmctl build/bin/mvmctl [--runs 5] [--out docs/perf/nix.md]

Needs `nix` on PATH (Debian's nix-bin) and whatever `mvmctl build` needs (root for Nix's sandbox
here). Standard library only.
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


@workload("nix-bench", image="template:busybox", timeout_seconds=30)
class NixBench:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default="", help="write the Markdown report here")
    args = parser.parse_args()
    if not shutil.which("nix"):
        sys.exit("nix_build_bench: nix is not on PATH (apt-get install nix-bin)")
    mvmctl = os.path.abspath(args.mvmctl)
    load_start = loadavg()
    nix_version = subprocess.run(["nix", "--version"], capture_output=True,
                                 text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="mvm-nix-bench-")
    # In a directory of its own: the project files shipped with it are that directory.
    os.makedirs(os.path.join(work, "src"))
    source = os.path.join(work, "src", "app.py")
    with open(source, "w") as f:
        f.write(WORKLOAD)
    samples: dict[str, list[float]] = {"empty store": [], "output already in the store": []}
    try:
        for i in range(args.runs):
            state = os.path.join(work, f"state{i}")
            argv = [mvmctl, "build", source, "-o", os.path.join(work, "out"), "--state-dir", state]
            for label in samples:
                ms, _ = timed(argv)
                samples[label].append(ms)
            shutil.rmtree(state, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    publish_seconds(
        args.out, mvmctl, load_start, "mvmctl build (Nix)", "bench/nix_build_bench.py",
        f"{nix_version}; workload image `template:busybox` (the template flake's busybox output); "
        f"{args.runs} rounds, each in a fresh state directory (fresh store). Readiness boundary: "
        "the `mvmctl build app.py` process, start to exit. Times in s.",
        "store", samples, {"nix": nix_version})


if __name__ == "__main__":
    main()
