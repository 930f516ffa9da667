#!/usr/bin/env python3
"""Generate a corpus of realistic Python or TypeScript files carrying mvm declarations (benchmarks).

Each Python file (--lang py, the default) is ordinary-looking application code (imports, dataclasses,
classes, functions with loops, docstrings, comments, a Flask-style route or a pytest fixture) with 1-3
`@workload` declarations mixed in: class form with `@entrypoint`/`@service` methods and function form,
several import styles (`from mvm import ...`, `import mvm as m`, aliased names), module-level constants
(including folded arithmetic and string concatenation), NetworkPolicy chains, SecretRefs whose hosts
the policy allows, volumes, env, ports and labels.

Each TypeScript file (--lang ts) is the same idea in TypeScript: interfaces, type aliases and guards,
enums, classes with async retry loops, generators, async pools, an Express-style handler or an
Angular-style `@Injectable`/`@Component` (decorators not from @mvm/sdk, which mvmctl must skip), with
1-3 `@workload` classes from `@mvm/sdk` (TypeScript has no function form) covering the same options.

Every generated file is meant to pass `mvmctl check` with zero diagnostics, and workload ids are unique
across the whole corpus.

Output is a pure function of (--lang, --seed, --files, --lines): same arguments, same bytes. The
TypeScript generator draws from its own random streams, so Python output does not depend on it.

    python3 bench/gen_decls.py OUT_DIR --files 1000 [--lines 200] [--seed 1] [--lang py|ts]
    python3 bench/gen_decls.py OUT_DIR --files 1000 --lang ts --verify --mvmctl build/bin/mvmctl

Standard library only. The generator itself is the package bench/gendecls/; this is its command line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gendecls import LANGS, verify, write_corpus

# compile_bench.py imports this module for the corpus.
__all__ = ["LANGS", "write_corpus"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="directory to write into (created if missing)")
    parser.add_argument("--files", "-n", type=int, default=100, help="number of files (default 100)")
    parser.add_argument("--lines", type=int, default=200, help="approximate lines per file (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--lang", choices=LANGS, default="py",
                        help="py: Python files (default); ts: TypeScript files")
    parser.add_argument("--verify", action="store_true",
                        help="run mvmctl on a sample and fail unless it reports zero diagnostics "
                             "and reads every declaration")
    parser.add_argument("--verify-sample", type=int, default=500,
                        help="files checked by --verify (default 500; all when fewer)")
    parser.add_argument("--mvmctl", default="build/bin/mvmctl", help="mvmctl binary for --verify")
    args = parser.parse_args(argv)
    if args.files < 1 or args.lines < 40:
        parser.error("--files must be >= 1 and --lines >= 40")
    manifest = write_corpus(args.out_dir, args.files, args.lines, args.seed, args.lang)
    print(json.dumps(manifest))
    if args.verify:
        return verify(args.out_dir, args.files, args.lines, args.seed, args.mvmctl,
                      args.verify_sample, args.lang)
    return 0


if __name__ == "__main__":
    sys.exit(main())
