#!/usr/bin/env python3
"""How long building a `template:` root filesystem takes the first time, per template.

For each template of --templates and each of --runs rounds: a fresh state directory (so an empty
rootfs cache), then `mvmctl run -v --no-pool` of a workload on that template whose entrypoint is
`/bin/true`, on the container backend. The launcher prints `built template NAME in X s`; that is
the figure (readiness boundary: the template build, from its start to the tree sealed in the cache).
The whole `mvmctl run` is reported beside it. `python-3.11` is made with mmdebstrap from the Debian
mirror, so its time includes the downloads and depends on the network.

    python3 bench/template_bench.py --mvmctl build/bin/mvmctl [--templates busybox,python-3.11]
        [--runs 1] [--out docs/perf/templates.md]

Needs root (as the container backend does), and mmdebstrap and the mirror for python-3.11.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, percentile, report_header, timed, write_report  # noqa: E402

WORKLOAD = '''from mvm import entrypoint, workload


@workload("template-bench", image="template:{template}", isolation="container",
          timeout_seconds=60)
class TemplateBench:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--templates", default="busybox,python-3.11")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--out", default="", help="write the Markdown report here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("template_bench: run as root (the container backend needs it)")
    mvmctl = os.path.abspath(args.mvmctl)
    load_start = loadavg()
    work = tempfile.mkdtemp(prefix="mvm-template-bench-")
    results: dict[str, dict[str, list[float]]] = {}
    try:
        keys = os.path.join(work, "keys")
        subprocess.run([mvmctl, "key", "gen", "--out", keys], check=True, capture_output=True)
        for template in [t for t in args.templates.split(",") if t]:
            source = os.path.join(work, f"{template}.py")
            with open(source, "w") as f:
                f.write(WORKLOAD.format(template=template))
            out = os.path.join(work, f"out-{template}")
            subprocess.run([mvmctl, "compile", source, "-o", out, "--profile", "dev", "--sign",
                            os.path.join(keys, "mvm.key")], check=True, capture_output=True)
            plan = os.path.join(out, "template-bench.plan.json")
            build, whole = [], []
            for i in range(args.runs):
                state = os.path.join(work, f"state-{template}-{i}")
                ms, err = timed([mvmctl, "run", plan, "-v", "--no-pool", "--backend", "container",
                                 "--state-dir", state, "--trust", os.path.join(keys, "mvm.pub")])
                m = re.search(rf"built template {re.escape(template)} in ([0-9.]+) s", err)
                if not m:
                    sys.exit(f"template_bench: no `built template {template} in N s` line on "
                             f"stderr:\n{err[-4000:]}")
                build.append(float(m.group(1)))
                whole.append(ms / 1000)
                shutil.rmtree(state, ignore_errors=True)
            results[template] = {"build_s": build, "run_s": whole}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        f"Backend container; {args.runs} round(s) per template, each in a fresh state directory "
        "(empty rootfs cache). `template build` is the launcher's own `built template NAME in X s` "
        "(readiness boundary: the build's start to the tree sealed in the cache); `whole run` is "
        "the `mvmctl run` process, start to exit. Times in s.",
        "",
        "| template | what | n | p50 | min | max |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for template, r in results.items():
        for what, key in (("template build", "build_s"), ("whole run", "run_s")):
            v = r[key]
            lines.append(f"| {template} | {what} | {len(v)} | {percentile(v, 0.5):.1f} | "
                         f"{min(v):.1f} | {max(v):.1f} |")
    body = "\n".join(lines) + "\n"
    header = report_header(mvmctl, load_start)
    print(header)
    print(body)
    if args.out:
        write_report(args.out, "Template builds", "bench/template_bench.py", header, body)
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"header": header, "results": results}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
