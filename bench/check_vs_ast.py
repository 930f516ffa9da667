#!/usr/bin/env python3
"""`mvmctl check` against CPython's own `ast.parse` over the same real Python trees, in one run.

Three corpora, each a list of files that both sides read:

- stdlib: the system Python's standard library, every *.py under /usr/lib/python3.11;
- debian: CPython's test suite, Django and SymPy, as Debian ships them (`apt-get download` of
  libpython3.11-testsuite, python3-django and python3-sympy into --cache, unpacked with
  `dpkg-deb -x`; both reused by later runs);
- generated: the corpus of bench/compile_bench.py (gen_decls.py, --generated-files files of
  ~200 lines), where every file declares workloads.

For each corpus: `mvmctl check --format json DIR` once to warm the page cache (its diagnostics are
the correctness half: a file `ast.parse` accepts must get no error), then --runs timed runs under
`/usr/bin/time` for peak RSS; and --runs runs of a separate `/usr/bin/python3` process that reads
every file's bytes and calls `ast.parse` on them (a file it rejects is counted, not fatal). Both
times are whole-process wall times (start-up included on both sides), best of the runs; the ratio
is ast.parse / mvmctl. mvmctl uses its thread per core, ast.parse one thread: neither is pinned.

mvmctl parses only the files whose bytes contain `mvm` (a file without them cannot import the SDK);
in the real trees that is almost none. So each real corpus is measured a second time as a copy
with a line `import mvm` appended to every file (--no-mark leaves these rows out): mvmctl then
parses every file in full and runs its import scan and passes on it, so that row compares the
parsers themselves, and any error it reports on a file CPython accepts is a false error of the
frontend proper, not hidden by the pre-filter.

Memory against file count: mvmctl check also runs over the first half of the debian corpus (by
path, through a tree of hard links to the same files; of the marked copy likewise), and both peak
RSS values are reported with the largest file of each.

    python3 bench/check_vs_ast.py --mvmctl build/bin/mvmctl
    python3 bench/check_vs_ast.py --mvmctl build/bin/mvmctl --limit 200 --runs 1   # smoke test
    python3 bench/check_vs_ast.py --mvmctl build/bin/mvmctl --out docs/perf/check_vs_ast.md \\
        --json /tmp/check_vs_ast.json

Standard library only, plus apt-get and dpkg-deb for the debian corpus. With the defaults it takes
a few minutes on a 2-core machine, most of it in ast.parse.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compile_bench  # noqa: E402  (sibling module: the generated corpus, reused as it makes it)
from benchutil import loadavg, report_header, write_report  # noqa: E402

STDLIB = Path("/usr/lib/python3.11")
DEBIAN_PACKAGES = ["libpython3.11-testsuite", "python3-django", "python3-sympy"]
# What mvmctl's walker (cli/source_walk.cc) compiles and what it does not descend into. The list
# is mirrored here so that the ast.parse side reads exactly the files mvmctl reads.
SOURCE_SUFFIXES = (".py", ".ts", ".tsx")
SKIPPED_DIRS = ("node_modules", "__pycache__")

# The ast.parse side, run by a fresh /usr/bin/python3 so that it pays its own start-up, as mvmctl
# does, and shares nothing with this script's process. It reads the NUL-separated paths in
# argv[1] and prints the files it rejected, with why, and the time of its loop alone.
AST_WORKER = r"""
import ast, json, sys, time
paths = open(sys.argv[1], "rb").read().split(b"\0")
rejected = []
started = time.perf_counter()
for p in paths:
    if not p:
        continue
    with open(p, "rb") as f:
        data = f.read()
    try:
        ast.parse(data, filename=p)
    except (SyntaxError, ValueError, UnicodeError, MemoryError, RecursionError) as e:
        rejected.append([p.decode("utf-8", "surrogateescape"), type(e).__name__ + ": " + str(e)])
loop = time.perf_counter() - started
json.dump({"loop_s": loop, "rejected": rejected}, sys.stdout)
"""


def walk_sources(root: Path) -> tuple[list[Path], list[Path]]:
    """The Python files and the TypeScript files mvmctl's walker finds below `root`, each sorted.
    Fails if a .gitignore could hide some of them from mvmctl (the walk here does not read them)."""
    py, ts = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        # os.walk does not follow symlinked directories by default, and neither does mvmctl.
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS]
        if ".gitignore" in filenames:
            sys.exit(f"{Path(dirpath) / '.gitignore'}: a .gitignore would make mvmctl skip files "
                     "that ast.parse reads; use a tree without one")
        for name in filenames:
            if name.endswith(".py"):
                py.append(Path(dirpath) / name)
            elif name.endswith(SOURCE_SUFFIXES):
                ts.append(Path(dirpath) / name)
    return sorted(py), sorted(ts)


def link_tree(files: list[Path], root: Path, view: Path) -> None:
    """Makes `view` a tree holding exactly `files` (paths below `root`) as hard links to the same
    inodes, so a subset of a corpus is read from the same bytes in the same page cache; symbolic
    links when `view` is on another file system."""
    if view.exists():
        shutil.rmtree(view)
    for f in files:
        target = view / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, target, follow_symlinks=True)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EPERM):
                raise
            os.symlink(f.resolve(), target)


def fetch_debian(cache: Path) -> Path:
    """The unpacked Debian packages (downloaded and unpacked once, then reused from `cache`)."""
    debs_dir = cache / "debs"
    tree = cache / "debian"
    debs_dir.mkdir(parents=True, exist_ok=True)
    debs = []
    for package in DEBIAN_PACKAGES:
        have = sorted(debs_dir.glob(f"{package}_*.deb"))
        if not have:
            print(f"  apt-get download {package} -> {debs_dir}", file=sys.stderr)
            proc = subprocess.run(["apt-get", "download", package], cwd=debs_dir,
                                  capture_output=True, text=True)
            have = sorted(debs_dir.glob(f"{package}_*.deb"))
            if proc.returncode != 0 or not have:
                sys.exit(f"apt-get download {package} failed ({proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}\n"
                         f"(check the name with `apt-cache policy {package}`)")
        debs.append(have[-1])
    stamp = tree / "bench-stamp.json"
    want = [d.name for d in debs]
    try:
        if json.loads(stamp.read_text()) == want:
            return tree
    except (OSError, ValueError):
        pass
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    for deb in debs:
        print(f"  dpkg-deb -x {deb.name}", file=sys.stderr)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree / deb.name.split("_")[0])], check=True)
    stamp.write_text(json.dumps(want) + "\n")
    return tree


class Corpus:
    def __init__(self, name: str, source: str, root: Path, files: list[Path]):
        self.name, self.source, self.root, self.files = name, source, root, files

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)

    def mentioning_mvm(self) -> int:
        """Files holding the bytes `mvm`: the only ones mvmctl parses (frontend.cc skips a file
        that cannot import the SDK without parsing it), so what its time is mostly made of."""
        return sum(1 for f in self.files if b"mvm" in f.read_bytes())


def make_corpus(name: str, source: str, root: Path, limit: int, views: Path) -> Corpus:
    """The corpus of every Python file below `root`; with `limit`, its first `limit` files by path,
    through a tree of links so that mvmctl is given a directory holding exactly those."""
    py, ts = walk_sources(root)
    if ts:
        sys.exit(f"{root} holds {len(ts)} TypeScript files ({ts[0]}, ...) that mvmctl would check "
                 "and ast.parse would not")
    if not py:
        sys.exit(f"{root}: no Python files")
    if limit and limit < len(py):
        view = views / f"{name}-first{limit}"
        link_tree(py[:limit], root, view)
        return Corpus(name, f"{source}, first {limit} files", view, walk_sources(view)[0])
    return Corpus(name, source, root, py)


def mark_corpus(corpus: Corpus, views: Path) -> Corpus:
    """A copy of the corpus with a line `import mvm` appended to every file: the same code, but
    every file now uses the SDK, so mvmctl parses it in full and judges it, and its parser is
    measured against CPython's on every file, not only on the few that mention mvm. ast.parse
    reads the copy too, so both sides still see the same bytes."""
    view = views / f"{corpus.root.name}-marked"
    if view.exists():
        shutil.rmtree(view)
    for f in corpus.files:
        target = view / f.relative_to(corpus.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = f.read_bytes()
        end = b"" if data.endswith((b"\n", b"\r")) else b"\n"
        target.write_bytes(data + end + b"import mvm\n")
    return Corpus(f"{corpus.name} + `import mvm`",
                  f"the {corpus.name} files, `import mvm` appended to each",
                  view, walk_sources(view)[0])


def measure_half(args, corpus: Corpus, views: Path) -> dict:
    """mvmctl alone on the first half of the corpus (by path), for memory against file count."""
    half = corpus.files[:len(corpus.files) // 2]
    view = views / f"{corpus.root.name}-first-half"
    link_tree(half, corpus.root, view)
    return measure(args, Corpus(f"{corpus.name}, first half", f"first {len(half):,} files by path",
                                view, walk_sources(view)[0]), with_ast=False)


class Timed:
    def __init__(self, wall: float, cpu: float, rss_kib: int, code: int, stdout: str, stderr: str):
        self.wall, self.cpu, self.rss_kib = wall, cpu, rss_kib
        self.code, self.stdout, self.stderr = code, stdout, stderr


def run_timed(argv: list[str]) -> Timed:
    """Runs argv under /usr/bin/time: wall time from here, CPU time from wait4 (which counts the
    command that time(1) waited for, to the microsecond, where time(1) prints hundredths), peak RSS
    from time(1). Not from wait4: a child forked from this Python inherits its high-water mark
    (see compile_bench.py)."""
    with tempfile.NamedTemporaryFile("r") as report, tempfile.TemporaryFile() as out, \
            tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        # time(1) puts "Command exited with non-zero status N" before the figure on failure.
        rss = Path(report.name).read_text().split()[-1]
        out.seek(0)
        err.seek(0)
        return Timed(wall, usage.ru_utime + usage.ru_stime, int(rss), proc.returncode,
                     out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def check_mvmctl(mvmctl: str, corpus: Corpus) -> tuple[Timed, dict[str, dict[str, int]]]:
    """One `mvmctl check --format json` over the corpus: the run, and per file (relative to the
    corpus root) the number of diagnostics by severity. Exits if mvmctl fails otherwise than by
    reporting errors (exit 1)."""
    run = run_timed([mvmctl, "check", "--format", "json", str(corpus.root)])
    if run.code not in (0, 1):
        sys.exit(f"mvmctl check {corpus.root} exited {run.code}:\n{run.stdout[-2000:]}"
                 f"{run.stderr[-2000:]}")
    try:
        diagnostics = json.loads(run.stdout)["diagnostics"]
    except (ValueError, KeyError):
        sys.exit(f"mvmctl check --format json printed no JSON object:\n{run.stdout[:2000]}")
    per_file: dict[str, dict[str, int]] = {}
    for d in diagnostics:
        rel = os.path.relpath(d["file"], corpus.root) if d["file"] else "(no file)"
        counts = per_file.setdefault(rel, {})
        counts[d["severity"]] = counts.get(d["severity"], 0) + 1
    return run, per_file


def time_mvmctl(mvmctl: str, corpus: Corpus, runs: int) -> list[Timed]:
    """--runs timed runs of `mvmctl check`, after the warm-up run the caller made."""
    timed = []
    for i in range(runs):
        r = run_timed([mvmctl, "check", "--format", "json", str(corpus.root)])
        if r.code not in (0, 1):
            sys.exit(f"mvmctl check run {i} exited {r.code}:\n{r.stderr[-2000:]}")
        timed.append(r)
        print(f"  mvmctl check run {i + 1}/{runs}: {r.wall:.3f} s, {r.rss_kib / 1024:.1f} MiB",
              file=sys.stderr)
    return timed


def time_ast(python: str, corpus: Corpus, runs: int) -> tuple[list[Timed], list[dict]]:
    """--runs runs of the ast.parse worker over the corpus; and the files it rejected."""
    timed, rejected = [], []
    with tempfile.NamedTemporaryFile("wb", suffix=".paths") as paths:
        paths.write(b"\0".join(os.fsencode(f) for f in corpus.files))
        paths.flush()
        for i in range(runs):
            r = run_timed([python, "-I", "-c", AST_WORKER, paths.name])
            if r.code != 0:
                sys.exit(f"the ast.parse worker exited {r.code}:\n{r.stderr[-3000:]}")
            result = json.loads(r.stdout)
            rejected = [{"file": os.path.relpath(p, corpus.root), "error": e}
                        for p, e in result["rejected"]]
            r.loop = result["loop_s"]
            timed.append(r)
            print(f"  ast.parse run {i + 1}/{runs}: {r.wall:.3f} s ({len(rejected)} rejected)",
                  file=sys.stderr)
    return timed, rejected


def measure(args, corpus: Corpus, with_ast: bool = True) -> dict:
    print(f"{corpus.name}: {len(corpus.files):,} files under {corpus.root}", file=sys.stderr)
    load = loadavg()
    warm, per_file = check_mvmctl(args.mvmctl, corpus)
    mvm_runs = time_mvmctl(args.mvmctl, corpus, args.runs)
    result = {
        "corpus": corpus.name,
        "source": corpus.source,
        "root": str(corpus.root),
        "files": len(corpus.files),
        "bytes": corpus.bytes,
        "mentioning_mvm": corpus.mentioning_mvm(),
        # Peak RSS follows the largest files being parsed at once more than the file count.
        "largest_file_kib": max(f.stat().st_size for f in corpus.files) / 1024,
        "load_at_start": load,
        "mvmctl_exit": warm.code,
        "mvmctl_wall_s": [r.wall for r in mvm_runs],
        "mvmctl_best_s": min(r.wall for r in mvm_runs),
        "mvmctl_cpu_s": statistics.median(r.cpu for r in mvm_runs),
        "mvmctl_peak_rss_mib": max(r.rss_kib for r in [warm, *mvm_runs]) / 1024,
        "mvmctl_files_with_errors": sorted(f for f, c in per_file.items() if c.get("error")),
        "mvmctl_files_with_warnings": sorted(f for f, c in per_file.items() if c.get("warning")),
    }
    if not with_ast:
        return result
    ast_runs, rejected = time_ast(args.python, corpus, args.runs)
    rejected_files = {r["file"] for r in rejected}
    result.update({
        "ast_wall_s": [r.wall for r in ast_runs],
        "ast_best_s": min(r.wall for r in ast_runs),
        "ast_loop_best_s": min(r.loop for r in ast_runs),
        "ast_cpu_s": statistics.median(r.cpu for r in ast_runs),
        "ast_peak_rss_mib": max(r.rss_kib for r in ast_runs) / 1024,
        "ast_rejected": rejected,
        "ratio": min(r.wall for r in ast_runs) / result["mvmctl_best_s"],
        # The correctness half: an error on a file CPython parses is a false error.
        "false_errors": [f for f in result["mvmctl_files_with_errors"] if f not in rejected_files],
        # Not failures (a warning does not fail check), but each is a construct CPython's parser
        # reads and mvmctl's grammar does not.
        "warnings_on_accepted": [f for f in result["mvmctl_files_with_warnings"]
                                 if f not in rejected_files],
    })
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mvmctl", default="build/bin/mvmctl", help="mvmctl binary")
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the Python whose ast.parse is measured (default /usr/bin/python3)")
    parser.add_argument("--runs", type=int, default=3,
                        help="timed runs of each side per corpus; the best is reported (default 3)")
    parser.add_argument("--corpora", default="stdlib,debian,generated",
                        help="comma-separated, among stdlib, debian, generated (default all)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvm-bench",
                        help="where the .deb files, their unpacked trees, the generated corpus and "
                             "the half-corpus links are kept (default ~/.cache/mvm-bench)")
    parser.add_argument("--stdlib", type=Path, default=STDLIB,
                        help=f"the standard library tree (default {STDLIB})")
    parser.add_argument("--generated-files", type=int, default=1000,
                        help="files in the generated corpus (default 1000)")
    parser.add_argument("--limit", type=int, default=0,
                        help="use only the first N files of each real corpus (smoke tests)")
    parser.add_argument("--no-mark", dest="mark", action="store_false",
                        help="leave out the copies of the real corpora with `import mvm` appended "
                             "to every file (which make mvmctl parse and judge every file)")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    args.mvmctl = shutil.which(args.mvmctl) if os.sep not in args.mvmctl else args.mvmctl
    if not args.mvmctl or not os.access(args.mvmctl, os.X_OK):
        parser.error("mvmctl not found or not executable")
    args.mvmctl = os.path.abspath(args.mvmctl)
    if not os.access("/usr/bin/time", os.X_OK):
        parser.error("/usr/bin/time not found (Debian package `time`): it measures peak RSS")
    chosen = [c.strip() for c in args.corpora.split(",") if c.strip()]
    if not chosen or any(c not in ("stdlib", "debian", "generated") for c in chosen):
        parser.error("--corpora takes stdlib, debian and generated")
    if args.runs < 1 or args.limit < 0 or args.generated_files < 1:
        parser.error("--runs and --generated-files must be >= 1, --limit >= 0")

    load_before = loadavg()
    version = subprocess.run([args.mvmctl, "--version"], capture_output=True,
                             text=True).stdout.strip()
    python_version = subprocess.run([args.python, "--version"], capture_output=True,
                                    text=True).stdout.strip()
    views = args.cache / "views"
    results, flatness = [], []
    for name in chosen:
        if name == "stdlib":
            corpus = make_corpus("stdlib", f"`{args.stdlib}`, every *.py", args.stdlib,
                                 args.limit, views)
        elif name == "debian":
            tree = fetch_debian(args.cache)
            debs = ", ".join(d.name for d in sorted((args.cache / "debs").glob("*.deb"))
                             if d.name.split("_")[0] in DEBIAN_PACKAGES)
            corpus = make_corpus("debian", f"every *.py of {debs}", tree, args.limit, views)
        else:
            root, manifest = compile_bench.ensure_corpus(args.cache / "generated",
                                                         args.generated_files, 200, 1, "py")
            # A walk that skipped files or declarations not recognised would make check look
            # fast and clean: mvmctl must read back every workload the generator wrote.
            read = compile_bench.count_workloads(args.mvmctl, root)
            if read != manifest["workloads"]:
                sys.exit(f"mvmctl read {read} workloads from {root}, the generator wrote "
                         f"{manifest['workloads']}")
            corpus = Corpus("generated", f"gen_decls.py --files {args.generated_files} --lines "
                            f"200 --seed 1, {read:,} workloads, all read back by `mvmctl compile`",
                            root, walk_sources(root)[0])
        results.append(measure(args, corpus))
        if name == "debian":
            flatness.append([measure_half(args, corpus, views), results[-1]])
        if name != "generated" and args.mark:
            marked = mark_corpus(corpus, views)
            results.append(measure(args, marked))
            if name == "debian":
                flatness.append([measure_half(args, marked, views), results[-1]])

    header = report_header(args.mvmctl, load_before)
    body = render(args, version, python_version, results, flatness)
    print()
    print(header)
    print(body)
    if args.out:
        write_report(str(args.out), "mvmctl check against ast.parse on real trees",
                     "bench/check_vs_ast.py", header, body)
    if args.json:
        args.json.write_text(json.dumps({"mvmctl": version, "python": python_version,
                                         "loadavg_before": load_before, "loadavg_after": loadavg(),
                                         "results": results, "flatness": flatness},
                                        indent=2) + "\n")
    return 1 if any(r["false_errors"] for r in results) else 0


def render(args, version: str, python_version: str, results: list[dict],
           flatness: list[dict]) -> str:
    out = [
        f"- mvmctl: {version}, `mvmctl check --format json DIR`, not pinned (one thread per core)",
        f"- ast.parse: {python_version}, `{args.python} -I -c WORKER PATHS`: reads each file's "
        "bytes and parses them, one thread; a file it rejects is counted, not fatal",
        f"- times: whole-process wall time, best of {args.runs} runs each after one warm-up "
        "`mvmctl check` (page cache warm); CPU is user+sys, median; ratio = ast.parse / mvmctl",
        "- peak RSS: `/usr/bin/time -f %M`, the highest of the runs",
        "- with `mvm`: files whose bytes contain `mvm`. mvmctl parses only those (a file without "
        "them cannot import the SDK and is skipped unparsed); ast.parse parses every file. So on "
        "the trees as shipped the ratio compares checking a tree with parsing it; the "
        "`+ import mvm` rows (the same files, `import mvm` appended to each, both sides reading "
        "the copy) make mvmctl parse and judge every file: parser against parser",
        "",
        "| corpus | files | MiB | with `mvm` | load (1 min) | mvmctl (s) | mvmctl CPU (s) "
        "| mvmctl RSS (MiB) | ast.parse (s) | ast.parse CPU (s) | ast.parse RSS (MiB) | ast/mvmctl "
        "| ast.parse rejects | mvmctl errors | false errors | mvmctl warnings |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        out.append(
            f"| {r['corpus']} | {r['files']:,} | {r['bytes'] / 2**20:.1f} "
            f"| {r['mentioning_mvm']:,} "
            f"| {r['load_at_start'].split()[0]} "
            f"| {r['mvmctl_best_s']:.3f} | {r['mvmctl_cpu_s']:.3f} "
            f"| {r['mvmctl_peak_rss_mib']:.1f} | {r['ast_best_s']:.3f} | {r['ast_cpu_s']:.3f} "
            f"| {r['ast_peak_rss_mib']:.1f} | {r['ratio']:.1f}x | {len(r['ast_rejected'])} "
            f"| {len(r['mvmctl_files_with_errors'])} | {len(r['false_errors'])} "
            f"| {len(r['mvmctl_files_with_warnings'])} |")
    out.append("")
    for r in results:
        out.append(f"- {r['corpus']}: {r['source']}")
    out.append("")
    for half, whole in flatness:
        per_file = ((whole["mvmctl_peak_rss_mib"] - half["mvmctl_peak_rss_mib"]) * 1024
                    / max(1, whole["files"] - half["files"]))
        out.append(f"- memory against files ({whole['corpus']}): mvmctl peak RSS "
                   f"{half['mvmctl_peak_rss_mib']:.1f} MiB on the first half ({half['files']:,} "
                   f"files, {half['mvmctl_best_s']:.3f} s), {whole['mvmctl_peak_rss_mib']:.1f} MiB "
                   f"on the whole ({whole['files']:,} files, {whole['mvmctl_best_s']:.3f} s): "
                   f"{per_file:.1f} KiB per extra file (0 would be flat in the number of files); "
                   f"largest file {half['largest_file_kib']:,.0f} KiB in the half, "
                   f"{whole['largest_file_kib']:,.0f} KiB in the whole")
    if flatness:
        out.append("")
    goals = {"stdlib": 10, "debian": 10, "generated": 4}
    for r in results:
        goal = goals.get(r["corpus"])
        if goal is None:
            continue
        verdict = "met" if r["ratio"] >= goal else "not met"
        out.append(f"- goal ≥ {goal}× ast.parse on {r['corpus']} (#23): {verdict} "
                   f"({r['ratio']:.1f}×)")
    out.append("")
    for r in results:
        for f in r["false_errors"]:
            out.append(f"- false error: {r['corpus']}: `{f}` (ast.parse accepts it)")
        for f in r["warnings_on_accepted"]:
            out.append(f"- warning on a file ast.parse accepts: {r['corpus']}: `{f}`")
        if r["ast_rejected"]:
            shown = ", ".join(f"`{x['file']}`" for x in r["ast_rejected"][:12])
            more = len(r["ast_rejected"]) - 12
            out.append(f"- ast.parse rejects in {r['corpus']}: {shown}"
                       + (f" and {more} more" if more > 0 else ""))
    if not any(r["false_errors"] for r in results):
        out.append("- no false errors: mvmctl reported no error on any file ast.parse accepts")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
