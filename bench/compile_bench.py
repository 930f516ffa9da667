#!/usr/bin/env python3
"""End-to-end throughput and memory of `mvmctl check` on generated corpora.

For each corpus size N (default 100, 1000, 10000 files of ~200 lines) and each language (default
Python and TypeScript, `--langs`), generates the corpus with gen_decls.py (reused from a previous run
when the generator, language, seed and size are unchanged), then runs

    taskset -c 0 MVMCTL check DIR

once to warm the page cache (it must exit 0 with no output: the corpus is diagnostic-free), then
--runs more times, and prints one Markdown table with a row per (N, language): median and best wall
time, CPU time, files/s, lines/s, peak RSS and RSS per file.

Peak RSS comes from one extra run per size under `/usr/bin/time -f %M`. Not from this script's own
wait4()/getrusage(): a child forked from this Python process inherits its RSS high-water mark across
exec (Linux keeps max(parent RSS at fork, child peak) in ru_maxrss), which inflated small-N numbers
2x in practice. Without /usr/bin/time, a fresh `python3 -c` wrapper measures it instead; its own
~14 MiB then sets a floor under the reported number.

    python3 bench/compile_bench.py --mvmctl build/bin/mvmctl
    python3 bench/compile_bench.py --mvmctl build/bin/mvmctl --sizes 1000 --runs 9 --json out.json
    python3 bench/compile_bench.py --mvmctl build/bin/mvmctl --langs ts
    python3 bench/compile_bench.py --mvmctl build/bin/mvmctl --out docs/perf/compile.md

Standard library only. With the defaults (both languages, three sizes) it takes about 4 minutes on a
2-core machine, 1-2 of them generating the corpora the first time (they are then reused).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_decls  # noqa: E402  (sibling module)
from benchutil import cpu_model, loadavg, report_header, write_report  # noqa: E402


def generator_digest() -> str:
    sources = [HERE / "gen_decls.py", *sorted((HERE / "gendecls").glob("*.py"))]
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]


def corpus_name(files: int | str, lines: int, seed: int, lang: str) -> str:
    """Directory name of a corpus; Python keeps the name it had before there were two languages."""
    return f"n{files}-l{lines}-s{seed}" + ("" if lang == "py" else f"-{lang}")


def ensure_corpus(base: Path, files: int, lines: int, seed: int, lang: str) -> tuple[Path, dict]:
    """The corpus directory for (files, lines, seed, lang), generated unless an identical one exists."""
    out = base / corpus_name(files, lines, seed, lang)
    stamp_path = out / "bench-stamp.json"
    want = {"generator": generator_digest(), "lang": lang, "files": files, "lines": lines,
            "seed": seed}
    if stamp_path.exists():
        try:
            stamp = json.loads(stamp_path.read_text())
            if stamp.get("key") == want:
                return out, stamp["manifest"]
        except (OSError, ValueError, KeyError):
            pass
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    manifest = gen_decls.write_corpus(out, files, lines, seed, lang)
    print(f"  generated {files} {lang} files in {time.perf_counter() - started:.1f} s -> {out}",
          file=sys.stderr)
    stamp_path.write_text(json.dumps({"key": want, "manifest": manifest}, indent=2) + "\n")
    return out, manifest


class Run:
    def __init__(self, wall: float, cpu: float, code: int, output: str):
        self.wall, self.cpu, self.code, self.output = wall, cpu, code, output


def run_once(argv: list[str]) -> Run:
    """Runs argv; wall time from the parent, CPU time (user+sys) from wait4 on that one child."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    return Run(wall, usage.ru_utime + usage.ru_stime, proc.returncode, output)


# Fallback RSS probe: a fresh, small interpreter whose only child is the measured command, so
# RUSAGE_CHILDREN holds exactly that child (plus the wrapper's own high-water mark inherited at fork).
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
    " stderr=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if code == 0 else -1)\n"
)


def rss_method() -> str:
    return "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else "python3 -c wrapper"


def peak_rss_kib(argv: list[str]) -> int:
    """Peak RSS of one run of argv in KiB (see the module docstring for why not wait4 here)."""
    if rss_method() == "/usr/bin/time":
        with tempfile.NamedTemporaryFile("r") as report:
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise RuntimeError(f"{shlex.join(argv)} exited {proc.returncode}")
            return int(Path(report.name).read_text().split()[-1])
    proc = subprocess.run([sys.executable, "-c", RSS_WRAPPER, *argv], capture_output=True, text=True)
    value = int(proc.stdout.strip() or "-1")
    if value < 0:
        raise RuntimeError(f"{shlex.join(argv)} failed under the RSS wrapper")
    return value


def count_workloads(mvmctl: str, corpus: Path) -> int:
    """Workloads mvmctl reads from `corpus`: guards against a walk that silently skips files (the
    walker honours .gitignore files) or declarations that are silently not recognised, either of
    which would make `check` look trivially fast and clean."""
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([mvmctl, "compile", "--dump", "ir", "-o", out, str(corpus)],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"mvmctl compile --dump ir exited {proc.returncode}: {proc.stderr[:2000]}")
    return len(json.loads(proc.stdout).get("workloads", []))


def measure(args, mvmctl: str, taskset: list[str], extra: list[str], n: int, lang: str,
            check_count: bool) -> dict | None:
    """Generates (or reuses) the corpus for (n, lang) and times `mvmctl check` on it; None (after
    saying why on stderr) when mvmctl fails or the corpus is not read back as generated."""
    corpus, manifest = ensure_corpus(args.corpus_dir, n, args.lines, args.seed, lang)
    cmd = [*taskset, mvmctl, "check", *extra, str(corpus)]
    warm = run_once(cmd)  # warms the page cache; also the correctness gate
    if warm.code != 0 or warm.output.strip():
        sys.stderr.write(f"mvmctl check exited {warm.code} on a corpus that should be clean:\n"
                         f"{warm.output[:3000]}\n")
        return None
    if check_count:
        read = count_workloads(mvmctl, corpus)
        if read != manifest["workloads"]:
            sys.stderr.write(f"mvmctl read {read} workloads from {corpus}, the generator wrote "
                             f"{manifest['workloads']}: is the corpus directory git-ignored?\n")
            return None
    runs = args.runs
    if warm.wall * runs > args.budget:
        runs = max(3, min(runs, int(args.budget / max(warm.wall, 1e-9))))
    measured = []
    for i in range(runs):
        r = run_once(cmd)
        if r.code != 0:
            sys.stderr.write(f"run {i} exited {r.code}:\n{r.output[:3000]}\n")
            return None
        measured.append(r)
        print(f"  run {i + 1}/{runs}: {r.wall:.3f} s", file=sys.stderr)
    walls = [r.wall for r in measured]
    rss_kib = peak_rss_kib(cmd)
    print(f"  peak RSS: {rss_kib / 1024:.1f} MiB", file=sys.stderr)
    median = statistics.median(walls)
    return {
        "lang": lang,
        "files": n,
        "lines": manifest["total_lines"],
        "bytes": manifest["total_bytes"],
        "workloads": manifest["workloads"],
        "runs": runs,
        "wall_median_s": median,
        "wall_min_s": min(walls),
        "wall_max_s": max(walls),
        "cpu_median_s": statistics.median(r.cpu for r in measured),
        "files_per_s": n / median,
        "lines_per_s": manifest["total_lines"] / median,
        "mib_per_s": manifest["total_bytes"] / 2**20 / median,
        "peak_rss_mib": rss_kib / 1024,
        "rss_per_file_kib": rss_kib / n,
        "command": shlex.join(cmd),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mvmctl", default="build/bin/mvmctl", help="mvmctl binary")
    parser.add_argument("--sizes", default="100,1000,10000",
                        help="comma-separated corpus sizes in files (default 100,1000,10000)")
    parser.add_argument("--langs", default="py,ts",
                        help="comma-separated languages to measure, each at every size: py (Python), "
                             "ts (TypeScript) (default py,ts)")
    parser.add_argument("--lines", type=int, default=200, help="lines per file (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--runs", type=int, default=7,
                        help="timed runs per size and language (default 7)")
    parser.add_argument("--budget", type=float, default=75.0,
                        help="seconds of timed runs per size and language at most; fewer runs "
                             "(never below 3) when one run is slow (default 75)")
    parser.add_argument("--cpu", default="0", help="CPU list for taskset (default 0)")
    parser.add_argument("--no-taskset", action="store_true", help="do not pin to one core")
    parser.add_argument("--corpus-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "mvm-bench-corpus",
                        help="where corpora are generated and reused (default $TMPDIR/mvm-bench-corpus)")
    parser.add_argument("--extra-args", default="",
                        help="extra mvmctl check arguments, e.g. '--phase frontend'")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)

    mvmctl = shutil.which(args.mvmctl) if os.sep not in args.mvmctl else args.mvmctl
    if not mvmctl or not os.access(mvmctl, os.X_OK):
        parser.error(f"mvmctl not found or not executable: {args.mvmctl}")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or min(sizes) < 1 or args.runs < 1:
        parser.error("--sizes needs positive integers and --runs >= 1")
    langs = [s.strip() for s in args.langs.split(",") if s.strip()]
    if not langs or any(lang not in gen_decls.LANGS for lang in langs) or len(set(langs)) != len(langs):
        parser.error(f"--langs takes distinct values among {', '.join(gen_decls.LANGS)}")
    taskset = [] if args.no_taskset else ["taskset", "-c", args.cpu]
    if taskset and not shutil.which("taskset"):
        parser.error("taskset not found (install util-linux or pass --no-taskset)")
    extra = shlex.split(args.extra_args)

    version = subprocess.run([mvmctl, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    args.corpus_dir.mkdir(parents=True, exist_ok=True)
    load_before = loadavg()

    results = []
    for n in sizes:
        for lang in langs:
            print(f"N={n} {lang}:", file=sys.stderr)
            result = measure(args, mvmctl, taskset, extra, n, lang, check_count=n == min(sizes))
            if result is None:
                return 1
            results.append(result)

    corpus_pattern = str(args.corpus_dir / corpus_name("<N>", args.lines, args.seed, "py"))
    if "ts" in langs:
        corpus_pattern += "[-ts]" if "py" in langs else "-ts"
    shown_cmd = shlex.join([*taskset, args.mvmctl, "check", *extra, corpus_pattern])
    out: list[str] = []
    pinning = f"pinned to CPU {args.cpu} with taskset" if taskset else "not pinned"
    out.append(f"- mvmctl: {version} ({mvmctl}), {pinning}")
    out.append(f"- measured command: `{shown_cmd}` (warm page cache; median of the runs shown)")
    out.append(f"- corpus: gen_decls.py --lang {'|'.join(langs)} --lines {args.lines} "
               f"--seed {args.seed}; 0 diagnostics expected and checked")
    out.append("- peak RSS: " + ("`/usr/bin/time -f %M` around the same command (one extra run)"
                                 if rss_method() == "/usr/bin/time" else
                                 "fresh `python3 -c` wrapper (includes its own ~14 MiB floor)"))
    out.append("")
    out.append("| lang | files | lines | MiB | workloads | runs | wall median (s) | wall min (s) "
               "| CPU (s) | files/s | lines/s | MiB/s | peak RSS (MiB) | RSS/file (KiB) |")
    out.append("|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        out.append(f"| {r['lang']} | {r['files']:,} | {r['lines']:,} | {r['bytes'] / 2**20:.1f} "
                   f"| {r['workloads']:,} "
                   f"| {r['runs']} | {r['wall_median_s']:.3f} | {r['wall_min_s']:.3f} "
                   f"| {r['cpu_median_s']:.3f} | {r['files_per_s']:,.0f} | {r['lines_per_s']:,.0f} "
                   f"| {r['mib_per_s']:.2f} | {r['peak_rss_mib']:.1f} | {r['rss_per_file_kib']:.1f} |")
    out.append("")
    for lang in langs:
        mine = [r for r in results if r["lang"] == lang]
        if len(mine) >= 2:
            a, b = mine[-2], mine[-1]
            marginal = (b["peak_rss_mib"] - a["peak_rss_mib"]) * 1024 / (b["files"] - a["files"])
            out.append(f"- marginal memory ({lang}): {marginal:.1f} KiB of peak RSS per extra file "
                       f"between N={a['files']:,} and N={b['files']:,} (0 would be flat in N)")
    for r in results:
        if r["files"] == 1000 and args.lines == 200:
            verdict = "met" if r["wall_median_s"] < 1.0 else "not met"
            out.append(f"- goal 1,000 files of ~200 lines in < 1 s on one core ({r['lang']}): "
                       f"{verdict} ({r['wall_median_s']:.3f} s)")
    header = report_header(mvmctl, load_before)
    body = "\n".join(out) + "\n"
    print()
    print(header)
    print(body)
    if args.out:
        write_report(str(args.out), "mvmctl check throughput", "bench/compile_bench.py", header,
                     body)
    if args.json:
        args.json.write_text(json.dumps({"date": now, "nproc": nproc, "cpu": cpu_model(),
                                         "mvmctl": version, "loadavg_before": load_before,
                                         "loadavg_after": loadavg(), "results": results},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
