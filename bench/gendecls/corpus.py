"""Writing and checking a corpus: one file per index, in either language."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from . import python, typescript

LANGS = ("py", "ts")


def generate_file(seed: int, index: int, target_lines: int, lang: str = "py") -> tuple[str, list[str]]:
    """Source text of file `index` and the workload ids it declares."""
    half = typescript.generate_ts_file if lang == "ts" else python.generate_file
    return half(seed, index, target_lines)


def file_name(index: int, lang: str = "py") -> str:
    # Two levels so directory walking is exercised too; 100 files per directory.
    return os.path.join(f"pkg{index // 100:04d}", f"mod_{index:06d}.{lang}")


def write_corpus(out_dir: Path, files: int, lines: int, seed: int, lang: str = "py") -> dict:
    """Writes the corpus and a manifest; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    total_lines = 0
    total_bytes = 0
    ids: list[str] = []
    for i in range(files):
        text, file_ids = generate_file(seed, i, lines, lang)
        path = out_dir / file_name(i, lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        total_lines += text.count("\n")
        total_bytes += len(data)
        ids += file_ids
    if len(set(ids)) != len(ids):
        raise SystemExit("internal error: duplicate workload ids generated")
    manifest = {"lang": lang, "files": files, "lines_per_file": lines, "seed": seed,
                "total_lines": total_lines,
                "total_bytes": total_bytes, "workloads": len(ids)}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def verify(out_dir: Path, files: int, lines: int, seed: int, mvmctl: str, sample: int,
           lang: str = "py") -> int:
    """Runs `mvmctl check` on a sample of the corpus (zero diagnostics expected), then
    `mvmctl compile --dump ir` on the same sample to confirm every declaration was read."""
    rng = random.Random(f"verify:{seed}")
    indices = sorted(rng.sample(range(files), min(sample, files)))
    paths = [str(out_dir / file_name(i, lang)) for i in indices]
    expected: list[str] = []
    for i in indices:
        expected += generate_file(seed, i, lines, lang)[1]
    check = subprocess.run([mvmctl, "check", "--format", "json", *paths], capture_output=True,
                           text=True)
    diagnostics = json.loads(check.stdout or "[]") if check.stdout.strip().startswith(
        ("[", "{")) else None
    count = len(diagnostics) if isinstance(diagnostics, list) else (
        len(diagnostics.get("diagnostics", [])) if isinstance(diagnostics, dict) else -1)
    if check.returncode != 0 or count != 0 or check.stderr.strip():
        sys.stderr.write(f"verify: mvmctl check exited {check.returncode} with {count} diagnostics\n")
        sys.stderr.write(check.stdout[:4000] + check.stderr[:4000] + "\n")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        dump = subprocess.run([mvmctl, "compile", "--dump", "ir", "-o", tmp, *paths],
                              capture_output=True, text=True)
    if dump.returncode != 0:
        sys.stderr.write(f"verify: mvmctl compile --dump ir exited {dump.returncode}\n"
                         + dump.stderr[:4000] + "\n")
        return 1
    got = sorted(w["id"] for w in json.loads(dump.stdout).get("workloads", []))
    if got != sorted(expected):
        missing = sorted(set(expected) - set(got))[:10]
        sys.stderr.write(f"verify: expected {len(expected)} workloads, mvmctl read {len(got)}; "
                         f"missing e.g. {missing}\n")
        return 1
    print(f"verify: {len(paths)} {lang} files, {len(expected)} workloads, 0 diagnostics",
          file=sys.stderr)
    return 0
