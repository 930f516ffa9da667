"""The Python half of the generator: ordinary-looking application code ("filler") and `@workload`
declarations, in every import style, class form and function form."""
from __future__ import annotations

import random

from .common import (NOUNS, VERBS, DeclWriterBase, Names, SdkNames, assemble, body_chunks,
                     declaration_chunks, join_members, pick, q)
from .fillers import FILLERS, chunk_flask, chunk_pytest

STDLIB_IMPORTS = [
    "import os", "import sys", "import json", "import time", "import logging", "import re",
    "import hashlib", "import itertools", "import functools", "import math", "import uuid",
    "import csv", "import shutil", "import asyncio",
    "from pathlib import Path", "from collections import defaultdict, Counter",
    "from datetime import datetime, timedelta, timezone",
    "from typing import Any, Iterable, Iterator, Optional",
    "from concurrent.futures import ThreadPoolExecutor",
]


# ---------------------------------------------------------------------------------------------------
# Declarations


SDK_STYLES = {
    "plain": ("", ["from mvm import workload, entrypoint, service, NetworkPolicy, SecretRef, Volume"]),
    "module_alias": ("m.", ["import mvm as m"]),
    "name_alias": (None, ["from mvm import workload as wl, entrypoint as ep, service as svc, "
                          "NetworkPolicy as Net, SecretRef as Secret, Volume as Vol"]),
    "module": ("mvm.", ["import mvm"]),
}


class DeclWriter(DeclWriterBase):
    SCRIPT = "/app/${verb}_${noun}.py"
    SERVICE_PORTS = [8000, 8080, 9000]
    MEMBERS = {
        "main": ['    @${entrypoint}(command=["python", ${script}])', "    def main(self):",
                 '        """Runs ${path} in the guest."""', "        ..."],
        "warmup": ['    @${entrypoint}("warmup", command=["python", "/app/warm.py"], '
                   "timeout_seconds=${t})",
                   "    def warmup(self): ..."],
        "migrate": ['    @${entrypoint}(name="migrate", command=["python", "-m", "app.migrate"])',
                    "    def run_migrations(self):", "        # Applied once per deploy; idempotent.",
                    "        ..."],
        "api": ['    @${service}("api", command=["python", "-m", "http.server", ${port_src}], '
                "port=${port})",
                "    def api(self): ..."],
        "helper": ["    def helper(self, value: int) -> int:",
                   "        # An ordinary method: not a declaration, ignored by mvm.",
                   "        return value * 2"],
    }

    def id_src(self, wid: str) -> str:
        r = self.rng.random()
        if r < 0.15:
            return self.const("WORKLOAD_ID", q(wid))
        if r < 0.25:
            return f"id={q(wid)}"
        return q(wid)

    def class_form(self, names: Names, k: int) -> list[str]:
        sdk = self.sdk
        wid = self.new_id(k)
        lines = [f"@{sdk.workload}("] + self.options([f"{self.INDENT}{self.id_src(wid)},"]) + [")"]
        cls = names.cls("Workload")
        lines += [f"class {cls}:", f'    """Sandboxed job `{wid}`."""', ""]
        return lines + self.class_members()

    def function_form(self, names: Names, k: int) -> list[str]:
        rng = self.rng
        sdk = self.sdk
        wid = self.new_id(k)
        fn = names.func()
        body = [
            f"def {fn}():",
            f'    """Entry point of `{wid}`: runs inside the sandbox."""',
            "    started = time.time()",
            "    total = 0",
            f"    for i in range({rng.randint(3, 100)}):",
            "        total += i * i",
            '    print(f"done: {total} in {time.time() - started:.3f}s")',
        ]
        if rng.random() < 0.5:
            head = [f"@{sdk.workload}({q(wid)}, image={q('template:python-3.11')}, "
                    f"cpu=1, memory_mb={rng.choice([128, 256, 512])})"]
        else:
            head = [f"@{sdk.workload}("] + self.options([f"{self.INDENT}{self.id_src(wid)},"]) + [")"]
        return head + body


# ---------------------------------------------------------------------------------------------------
# Files


def generate_file(seed: int, index: int, target_lines: int) -> tuple[str, list[str]]:
    """Python source text of file `index` and the workload ids it declares."""
    rng = random.Random(f"mvm-bench:{seed}:{index}")
    names = Names(rng)
    for reserved in ("app", "logger", "main", "mvm", "m", "request", "jsonify", "Flask", "pytest"):
        names.used.add(reserved)
    sdk = SdkNames(SDK_STYLES, pick(rng, list(SDK_STYLES)))
    decls = DeclWriter(rng, sdk, index, names)
    decl_chunks = declaration_chunks(rng, names, decls, decls.function_form)

    web = rng.random() < 0.5  # a Flask-style module, else one with pytest fixtures
    ctx: dict = {}
    topic = pick(rng, NOUNS)
    header = [
        f'"""{topic.capitalize()} {pick(rng, VERBS)} service.',
        "",
        f"Ordinary application code for {topic}s, plus the mvm declarations that run parts of it",
        "in a sandbox. Generated for benchmarking mvmctl; not meant to be imported.",
        '"""',
        "",
    ]
    imports = ["from __future__ import annotations", ""] if rng.random() < 0.5 else []
    std = sorted(set(rng.sample(STDLIB_IMPORTS, rng.randint(3, 7))) | {
        "import json", "import logging", "import math", "import time", "import asyncio",
        "from collections import defaultdict, Counter",
        "from dataclasses import dataclass, field",
        "from datetime import datetime, timedelta, timezone",
        "from pathlib import Path",
        "from typing import Any, Iterable, Iterator, Optional",
    })
    imports += [line for line in std if line.startswith("import ")]
    imports += [line for line in std if line.startswith("from ")]
    imports.append("")
    imports.append("import pytest" if not web else "from flask import Flask, jsonify, request")
    imports.append("")
    imports += sdk.import_lines
    imports += ["", "logger = logging.getLogger(__name__)"]

    # Filler: enough chunks to reach the target size once declarations are counted.
    decl_lines = sum(len(c) + 2 for c in decl_chunks)
    budget = target_lines - len(header) - len(imports) - decl_lines - len(decls.constants) - 12
    body = body_chunks(rng, names, ctx, budget, chunk_flask if web else chunk_pytest, FILLERS,
                       decl_chunks, gap=2)
    footer = [
        "", "",
        "def main() -> int:",
        f'    logging.basicConfig(level=logging.INFO, format="%(asctime)s {topic} %(message)s")',
        '    logger.info("ready")',
        "    return 0",
        "",
        "",
        'if __name__ == "__main__":',
        "    sys.exit(main())" if "import sys" in std else "    raise SystemExit(main())",
    ]
    text = assemble(header + imports, decls.constants,
                    "# Sandbox settings (module constants are read statically by mvmctl).", body,
                    2, footer)
    return text, decls.ids
