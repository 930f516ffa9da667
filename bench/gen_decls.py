#!/usr/bin/env python3
"""Generate a corpus of realistic Python files carrying mvm declarations, for benchmarking.

Each file is ordinary-looking application code (imports, dataclasses, classes, functions with loops,
docstrings, comments, a Flask-style route or a pytest fixture) with 1-3 `@workload` declarations mixed
in: class form with `@entrypoint`/`@service` methods and function form, several import styles
(`from mvm import ...`, `import mvm as m`, aliased names), module-level constants (including folded
arithmetic and string concatenation), NetworkPolicy chains, SecretRefs whose hosts the policy allows,
volumes, env, ports and labels. Every generated file is meant to pass `mvmctl check` with zero
diagnostics, and workload ids are unique across the whole corpus.

Output is a pure function of (--seed, --files, --lines): same arguments, same bytes.

    python3 bench/gen_decls.py OUT_DIR --files 1000 [--lines 200] [--seed 1]
    python3 bench/gen_decls.py OUT_DIR --files 1000 --verify --mvmctl build/bin/mvmctl

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

# ---------------------------------------------------------------------------------------------------
# Vocabulary

NOUNS = [
    "invoice", "order", "payment", "customer", "report", "ledger", "ticket", "session", "profile",
    "document", "embedding", "index", "crawler", "summary", "metric", "event", "alert", "build",
    "artifact", "dataset", "model", "shard", "queue", "batch", "upload", "thumbnail", "transcript",
    "review", "schedule", "inventory", "shipment", "quote", "contract", "feature", "snapshot",
]
VERBS = [
    "fetch", "load", "parse", "render", "sync", "export", "import", "score", "rank", "merge",
    "split", "resize", "validate", "normalize", "index", "publish", "archive", "refresh", "compute",
    "collect", "dispatch", "reconcile", "summarize", "enrich", "classify", "transform",
]
ADJECTIVES = [
    "pending", "active", "stale", "primary", "cached", "remote", "local", "nightly", "hourly",
    "partial", "final", "raw", "clean", "shared", "internal", "public", "default", "fallback",
]
TEAMS = ["ml", "infra", "data", "billing", "search", "platform", "growth", "security", "ops"]
TLDS = ["example.com", "example.org", "example.net", "internal.example", "corp.example"]
API_HOSTS = [
    "api.openai.com", "api.anthropic.com", "api.github.com", "hooks.slack.com", "api.stripe.com",
    "storage.googleapis.com", "s3.amazonaws.com", "pypi.org", "files.pythonhosted.org",
    "registry.npmjs.org", "api.sendgrid.com", "sentry.io",
]
TEMPLATES = ["python-3.11", "busybox"]
OCI_REPOS = [
    "ghcr.io/acme/worker", "docker.io/library/python", "registry.example.com/team/agent",
    "quay.io/acme/indexer", "ghcr.io/acme/scraper", "docker.io/library/alpine",
]
OCI_TAGS = ["3.11-slim", "latest", "1.4.2", "2024.06", "stable"]
NIX_REFS = [
    "./flake#agent-runtime", ".#worker", "github:acme/images#python311", "./nix#batch",
    "path:./env#default", "github:acme/infra/main#scraper",
]
STDLIB_IMPORTS = [
    "import os", "import sys", "import json", "import time", "import logging", "import re",
    "import hashlib", "import itertools", "import functools", "import math", "import uuid",
    "import csv", "import shutil", "import asyncio",
    "from pathlib import Path", "from collections import defaultdict, Counter",
    "from datetime import datetime, timedelta, timezone",
    "from typing import Any, Iterable, Iterator, Optional",
    "from concurrent.futures import ThreadPoolExecutor",
]


def pick(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))]


def camel(*words: str) -> str:
    return "".join(w.capitalize() for w in words)


def snake(*words: str) -> str:
    return "_".join(words)


# ---------------------------------------------------------------------------------------------------
# Ordinary code ("filler"): every chunk returns a list of lines at module level.


class Names:
    """Hands out identifiers unique within one file, so filler never rebinds a module constant."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def fresh(self, make) -> str:
        for attempt in range(1000):
            name = make() if attempt < 20 else f"{make()}_{attempt}"
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("ran out of names")

    def func(self) -> str:
        return self.fresh(lambda: snake(pick(self.rng, VERBS), pick(self.rng, NOUNS)))

    def cls(self, suffix: str = "") -> str:
        return self.fresh(lambda: camel(pick(self.rng, ADJECTIVES), pick(self.rng, NOUNS)) + suffix)


def chunk_dataclass(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    name = names.cls()
    noun = pick(rng, NOUNS)
    fields = [
        ("id", "str"), ("created_at", "datetime"), (f"{noun}_count", "int = 0"),
        ("tags", "list[str] = field(default_factory=list)"),
        ("score", "float = 0.0"), ("owner", "Optional[str] = None"),
    ]
    n = rng.randint(3, len(fields))
    lines = ["@dataclass", f"class {name}:", f'    """A {pick(rng, ADJECTIVES)} {noun} record."""', ""]
    lines += [f"    {f}: {t}" for f, t in fields[:n]]
    lines += [
        "",
        "    def to_dict(self) -> dict[str, Any]:",
        "        out = {",
        '            "id": self.id,',
        '            "created_at": self.created_at.isoformat(),',
        "        }",
        f"        if self.{fields[2][0]}:" if n > 2 else "        if self.id:",
        f'            out["count"] = self.{fields[2][0]}' if n > 2 else '            out["has_id"] = True',
        "        return out",
        "",
        "    @property",
        "    def age(self) -> timedelta:",
        "        # Naive timestamps are treated as UTC.",
        "        return datetime.now(timezone.utc) - self.created_at.replace(tzinfo=timezone.utc)",
    ]
    ctx["record"] = name
    return lines


def chunk_function_loop(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = names.func()
    noun = pick(rng, NOUNS)
    limit = rng.choice([10, 50, 100, 500, 1000])
    return [
        f"def {fn}(items: Iterable[dict], limit: int = {limit}) -> list[dict]:",
        f'    """{fn.replace("_", " ").capitalize()} for up to `limit` items.',
        "",
        f"    Items without a `{noun}` key are skipped; duplicates are merged by id.",
        '    """',
        "    seen: dict[str, dict] = {}",
        "    for index, item in enumerate(items):",
        "        if index >= limit:",
        "            break",
        f'        if "{noun}" not in item:',
        "            continue",
        '        key = str(item.get("id", index))',
        "        if key in seen:",
        "            seen[key].update(item)",
        "        else:",
        "            seen[key] = dict(item)",
        f'    logger.debug("{fn}: %d unique of %d", len(seen), limit)',
        "    return sorted(seen.values(), key=lambda d: str(d.get(\"id\")))",
    ]


def chunk_class(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    name = names.cls("Client")
    host = f"{pick(rng, NOUNS)}.{pick(rng, TLDS)}"
    retries = rng.randint(2, 6)
    return [
        f"class {name}:",
        f'    """Talks to https://{host}; retries transient failures."""',
        "",
        f"    def __init__(self, base_url: str = \"https://{host}\", retries: int = {retries}):",
        "        self.base_url = base_url.rstrip(\"/\")",
        "        self.retries = retries",
        "        self._cache: dict[str, Any] = {}",
        "",
        "    def _url(self, path: str) -> str:",
        '        return f"{self.base_url}/{path.lstrip(\'/\')}"',
        "",
        "    def get(self, path: str) -> Any:",
        "        url = self._url(path)",
        "        if url in self._cache:",
        "            return self._cache[url]",
        "        last_error: Optional[Exception] = None",
        "        for attempt in range(self.retries):",
        "            try:",
        "                result = self._fetch(url)",
        "            except OSError as error:  # network hiccup: back off and retry",
        "                last_error = error",
        "                time.sleep(min(2 ** attempt, 30) * 0.01)",
        "                continue",
        "            self._cache[url] = result",
        "            return result",
        '        raise RuntimeError(f"giving up on {url}") from last_error',
        "",
        "    def _fetch(self, url: str) -> Any:",
        '        return {"url": url, "fetched_at": time.time()}',
    ]


def chunk_flask(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    noun = pick(rng, NOUNS)
    fn = names.fresh(lambda: f"{pick(rng, ['get', 'list', 'create', 'delete'])}_{noun}")
    route = f"/{noun}s/<{noun}_id>" if fn.startswith(("get", "delete")) else f"/{noun}s"
    method = {"get": "GET", "list": "GET", "create": "POST", "delete": "DELETE"}[fn.split("_")[0]]
    lines = []
    if not ctx.get("flask_app"):
        ctx["flask_app"] = True
        lines += ["app = Flask(__name__)", "", ""]
    args = f"{noun}_id: str" if "<" in route else ""
    lines += [
        f'@app.route("{route}", methods=["{method}"])',
        f"def {fn}({args}):",
        f'    """HTTP handler: {method} {route}."""',
        "    payload = request.get_json(silent=True) or {}",
        '    if payload.get("dry_run"):',
        '        return jsonify({"ok": True, "dry_run": True})',
        f'    logger.info("{fn} called with %d keys", len(payload))',
        f'    return jsonify({{"ok": True, "kind": "{noun}"}}), 200',
    ]
    return lines


def chunk_pytest(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    noun = pick(rng, NOUNS)
    fixture = names.fresh(lambda: f"{pick(rng, ADJECTIVES)}_{noun}")
    test = names.fresh(lambda: f"test_{pick(rng, VERBS)}_{noun}")
    n = rng.randint(2, 9)
    return [
        "@pytest.fixture",
        f"def {fixture}(tmp_path):",
        f'    """A directory with {n} small {noun} files."""',
        f"    for i in range({n}):",
        f'        (tmp_path / f"{noun}-{{i}}.json").write_text(json.dumps({{"i": i}}))',
        "    return tmp_path",
        "",
        "",
        f"def {test}({fixture}):",
        f'    files = sorted({fixture}.glob("*.json"))',
        f"    assert len(files) == {n}",
        "    for path in files:",
        '        assert json.loads(path.read_text())["i"] >= 0',
    ]


def chunk_generator(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = names.func()
    size = rng.choice([8, 16, 32, 64, 128])
    return [
        f"def {fn}(rows: Iterable[Any], size: int = {size}) -> Iterator[list[Any]]:",
        '    """Yield `rows` in batches of `size` (the last batch may be shorter)."""',
        "    batch: list[Any] = []",
        "    for row in rows:",
        "        batch.append(row)",
        "        if len(batch) == size:",
        "            yield batch",
        "            batch = []",
        "    if batch:",
        "        yield batch",
    ]


def chunk_aggregate(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = names.func()
    noun = pick(rng, NOUNS)
    return [
        f"def {fn}(events: list[dict]) -> dict[str, float]:",
        f'    """Average `value` per `{noun}` kind, ignoring malformed events."""',
        "    totals: dict[str, float] = defaultdict(float)",
        "    counts: Counter = Counter()",
        "    for event in events:",
        "        try:",
        f'            kind = event["{noun}"]',
        '            value = float(event["value"])',
        "        except (KeyError, TypeError, ValueError):",
        "            continue",
        "        if math.isnan(value):",
        "            continue",
        "        totals[kind] += value",
        "        counts[kind] += 1",
        "    return {kind: totals[kind] / counts[kind] for kind in totals if counts[kind]}",
    ]


def chunk_async(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = names.func()
    conc = rng.randint(2, 16)
    return [
        f"async def {fn}(urls: list[str], concurrency: int = {conc}) -> list[str]:",
        '    """Fetch urls with bounded concurrency; results keep input order."""',
        "    semaphore = asyncio.Semaphore(concurrency)",
        "",
        "    async def one(url: str) -> str:",
        "        async with semaphore:",
        "            await asyncio.sleep(0)",
        "            return url.upper()",
        "",
        "    return await asyncio.gather(*(one(u) for u in urls))",
    ]


def chunk_comment(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    noun, verb = pick(rng, NOUNS), pick(rng, VERBS)
    return [
        "# " + "-" * 96,
        f"# {verb.capitalize()} {noun} data. The helpers below are deliberately small; keep I/O at the edges",
        f"# so the {pick(rng, ADJECTIVES)} path stays testable without a network.",
        "# " + "-" * 96,
    ]


def chunk_paths(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = names.func()
    ext = pick(rng, ["json", "csv", "txt", "parquet"])
    return [
        f"def {fn}(root: Path) -> dict[str, int]:",
        f'    """Size in bytes of every .{ext} file below `root`, keyed by relative path."""',
        "    sizes = {}",
        f'    for path in sorted(root.rglob("*.{ext}")):',
        "        if path.name.startswith(\".\"):",
        "            continue  # hidden files are never ours",
        "        sizes[str(path.relative_to(root))] = path.stat().st_size",
        "    return sizes",
    ]


FILLERS = [
    chunk_dataclass, chunk_function_loop, chunk_class, chunk_generator, chunk_aggregate,
    chunk_async, chunk_comment, chunk_paths, chunk_function_loop, chunk_class,
]


# ---------------------------------------------------------------------------------------------------
# Declarations


class Sdk:
    """How this file spells the SDK names, after its import style."""

    STYLES = ["plain", "module_alias", "name_alias", "module"]

    def __init__(self, style: str):
        self.style = style
        if style == "plain":
            self.import_line = (
                "from mvm import workload, entrypoint, service, NetworkPolicy, SecretRef, Volume"
            )
            self.n = {k: k for k in ("workload", "entrypoint", "service", "NetworkPolicy",
                                      "SecretRef", "Volume")}
        elif style == "module_alias":
            self.import_line = "import mvm as m"
            self.n = {k: f"m.{k}" for k in ("workload", "entrypoint", "service", "NetworkPolicy",
                                             "SecretRef", "Volume")}
        elif style == "module":
            self.import_line = "import mvm"
            self.n = {k: f"mvm.{k}" for k in ("workload", "entrypoint", "service", "NetworkPolicy",
                                               "SecretRef", "Volume")}
        else:
            self.import_line = (
                "from mvm import workload as wl, entrypoint as ep, service as svc, "
                "NetworkPolicy as Net, SecretRef as Secret, Volume as Vol"
            )
            self.n = {"workload": "wl", "entrypoint": "ep", "service": "svc",
                      "NetworkPolicy": "Net", "SecretRef": "Secret", "Volume": "Vol"}

    def __getattr__(self, key: str) -> str:
        try:
            return self.__dict__["n"][key]
        except KeyError:
            raise AttributeError(key) from None


def q(s: str) -> str:
    return json.dumps(s)


class DeclWriter:
    """Writes the declarations of one file; collects the module constants they use."""

    def __init__(self, rng: random.Random, sdk: Sdk, file_index: int, names: Names):
        self.rng = rng
        self.sdk = sdk
        self.file_index = file_index
        self.names = names
        self.constants: list[str] = []  # module-level lines, emitted near the top of the file
        self.ids: list[str] = []

    def const(self, base: str, value_src: str, annotated: str = "") -> str:
        name = self.names.fresh(lambda: base if base not in self.names.used else
                                f"{base}_{self.rng.randint(2, 99)}")
        ann = f": {annotated}" if annotated else ""
        self.constants.append(f"{name}{ann} = {value_src}")
        return name

    def image(self) -> str:
        rng = self.rng
        kind = rng.choices(["template", "nix", "oci", "const"], weights=[4, 3, 3, 2])[0]
        if kind == "template":
            return q("template:" + pick(rng, TEMPLATES))
        if kind == "nix":
            return q("nix:" + pick(rng, NIX_REFS))
        if kind == "oci":
            repo = pick(rng, OCI_REPOS)
            if rng.random() < 0.6:
                digest = "".join(pick(rng, "0123456789abcdef") for _ in range(64))
                return q(f"oci:{repo}@sha256:{digest}")
            return q(f"oci:{repo}:{pick(rng, OCI_TAGS)}")
        # A constant built by string concatenation, folded at compile time.
        prefix = self.const("IMAGE_PREFIX", q("template:"))
        return self.const("IMAGE", f"{prefix} + {q(pick(rng, TEMPLATES))}")

    def network(self, indent: str) -> tuple[str | None, list[str]]:
        """A NetworkPolicy chain (source) and the hosts a secret may name under it."""
        rng = self.rng
        if rng.random() < 0.2:
            return None, []
        https = rng.sample(API_HOSTS, rng.randint(1, 3))
        secret_hosts = list(https)
        steps = []
        if rng.random() < 0.3:
            host_const = self.const("API_HOST", q(https[0]))
            steps.append(f".allow_https({host_const})")
            rest = https[1:]
        else:
            rest = https
        if rest:
            if rng.random() < 0.5:
                steps.append(".allow_https(" + ", ".join(q(h) for h in rest) + ")")
            else:
                steps += [f".allow_https({q(h)})" for h in rest]
        if rng.random() < 0.4:
            suffix = pick(rng, TLDS)
            steps.append(f".allow_https({q('*.' + suffix)})")
            secret_hosts.append(f"{pick(rng, NOUNS)}.{suffix}")
        if rng.random() < 0.3:
            steps.append(f".allow_http({q('mirror.' + pick(rng, TLDS))})")
        if rng.random() < 0.6:
            steps.append(".allow_dns()")
        head = f"{self.sdk.NetworkPolicy}.deny_by_default()"
        if len(steps) <= 2 and rng.random() < 0.5:
            return head + "".join(steps), secret_hosts
        return head + "".join(f"\n{indent}{s}" for s in steps), secret_hosts

    def workload_kwargs(self, wid_src: str) -> list[str]:
        rng = self.rng
        sdk = self.sdk
        ind = "    "
        out = [f"{ind}{wid_src},", f"{ind}image={self.image()},"]
        if rng.random() < 0.8:
            cpu = rng.choice([1, 2, 4, 8])
            out.append(f"{ind}cpu={self.const('CPU', str(cpu), 'int') if rng.random() < 0.3 else cpu},")
        if rng.random() < 0.85:
            r = rng.random()
            if r < 0.3:
                base = self.const("BASE_MB", str(rng.choice([128, 256, 512])))
                mem = self.const("MEMORY_MB", f"{base} * {rng.choice([2, 4, 8])}")
            elif r < 0.45:
                mem = self.const("MEMORY_MB", str(rng.choice([1024, 2048, 4096])), "int")
            else:
                mem = str(rng.choice([256, 512, 1024, 2048, 4096, 8192]))
            out.append(f"{ind}memory_mb={mem},")
        if rng.random() < 0.3:
            out.append(f"{ind}disk_mb={rng.choice([1024, 4096, 8192, 16384])},")
        if rng.random() < 0.7:
            t = rng.choice([30, 60, 120, 300, 900, 3600])
            if rng.random() < 0.2:
                minutes = self.const("TIMEOUT_MINUTES", str(max(1, t // 60)))
                out.append(f"{ind}timeout_seconds={minutes} * 60,")
            else:
                out.append(f"{ind}timeout_seconds={t},")
        net, hosts = self.network(ind)
        if net is not None:
            out.append(f"{ind}network={net},")
        if hosts and rng.random() < 0.75:
            k = rng.randint(1, min(3, len(hosts)))
            chosen = rng.sample(hosts, k)
            entries = []
            for j, host in enumerate(chosen):
                env = f"{pick(rng, NOUNS).upper()}_{['API_KEY', 'TOKEN', 'SECRET'][j % 3]}"
                secret_name = f"{host.split('.')[-2]}-{pick(rng, ['key', 'token', 'cred'])}-{j}"
                entries.append(f"{q(env)}: {sdk.SecretRef}({q(secret_name)}, hosts=[{q(host)}])")
            self.secret_envs = {e.split(":")[0].strip('"') for e in entries}
            if len(entries) == 1:
                out.append(f"{ind}secrets={{{entries[0]}}},")
            else:
                out.append(f"{ind}secrets={{")
                out += [f"{ind}    {e}," for e in entries]
                out.append(f"{ind}}},")
        else:
            self.secret_envs = set()
        if rng.random() < 0.5:
            vols = []
            if rng.random() < 0.7:
                mode = rng.choice(["ro", "rw", None])
                m = f", mode={q(mode)}" if mode else ""
                vols.append(f"{sdk.Volume}.local({q('./' + pick(rng, NOUNS) + 's')}, "
                            f"{q('/data')}{m})")
            if rng.random() < 0.7 or not vols:
                size = rng.choice([16, 64, 128, 256, 1024])
                vols.append(f"{sdk.Volume}.memory({q('/scratch')}, size_mb={size})")
            out.append(f"{ind}volumes=[{', '.join(vols)}],")
        if rng.random() < 0.6:
            env = {"LOG_LEVEL": pick(rng, ["debug", "info", "warning"])}
            if rng.random() < 0.5:
                env["WORKERS"] = str(rng.randint(1, 8))
            if rng.random() < 0.3:
                env["REGION"] = pick(rng, ["eu-west-1", "us-east-1", "ap-south-1"])
            env = {k: v for k, v in env.items() if k not in self.secret_envs}
            out.append(f"{ind}env={{" + ", ".join(f"{q(k)}: {q(v)}" for k, v in env.items()) + "},")
        ports = []
        if rng.random() < 0.4:
            ports = sorted(rng.sample([8000, 8080, 8443, 9000, 9090, 5000], rng.randint(1, 2)))
            out.append(f"{ind}ports={ports},")
        self.ports = ports
        if rng.random() < 0.25:
            out.append(f"{ind}isolation=\"microvm\",")
        if rng.random() < 0.6:
            labels = {"team": pick(rng, TEAMS)}
            if rng.random() < 0.5:
                labels["tier"] = pick(rng, ["batch", "interactive", "critical"])
            out.append(f"{ind}labels={{" + ", ".join(f"{q(k)}: {q(v)}" for k, v in labels.items())
                       + "},")
        return out

    def new_id(self, k: int) -> str:
        wid = f"{pick(self.rng, NOUNS)}-{pick(self.rng, VERBS)}-{self.file_index:06d}-{k}"
        self.ids.append(wid)
        return wid

    def id_src(self, wid: str) -> str:
        r = self.rng.random()
        if r < 0.15:
            return self.const("WORKLOAD_ID", q(wid))
        if r < 0.25:
            return f"id={q(wid)}"
        return q(wid)

    def class_form(self, names: Names, k: int) -> list[str]:
        rng = self.rng
        sdk = self.sdk
        wid = self.new_id(k)
        lines = [f"@{sdk.workload}("] + self.workload_kwargs(self.id_src(wid)) + [")"]
        cls = names.cls("Workload")
        lines += [f"class {cls}:", f'    """Sandboxed job `{wid}`."""', ""]
        members = []
        script = f"/app/{pick(rng, VERBS)}_{pick(rng, NOUNS)}.py"
        members.append([
            f"    @{sdk.entrypoint}(command=[\"python\", {q(script)}])",
            "    def main(self):",
            f'        """Runs {script} in the guest."""',
            "        ...",
        ])
        if rng.random() < 0.6:
            t = rng.choice([5, 10, 30, 60])
            members.append([
                f"    @{sdk.entrypoint}(\"warmup\", command=[\"python\", \"/app/warm.py\"], "
                f"timeout_seconds={t})",
                "    def warmup(self): ...",
            ])
        if rng.random() < 0.3:
            members.append([
                f"    @{sdk.entrypoint}(name=\"migrate\", command=[\"python\", \"-m\", \"app.migrate\"])",
                "    def run_migrations(self):",
                "        # Applied once per deploy; idempotent.",
                "        ...",
            ])
        if rng.random() < 0.5:
            port = self.ports[0] if self.ports else rng.choice([8000, 8080, 9000])
            members.append([
                f"    @{sdk.service}(\"api\", command=[\"python\", \"-m\", \"http.server\", "
                f"{q(str(port))}], port={port})",
                "    def api(self): ...",
            ])
        if rng.random() < 0.4:
            members.append([
                "    def helper(self, value: int) -> int:",
                "        # An ordinary method: not a declaration, ignored by mvm.",
                "        return value * 2",
            ])
        for j, m in enumerate(members):
            if j:
                lines.append("")
            lines += m
        return lines

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
            head = [f"@{sdk.workload}("] + self.workload_kwargs(self.id_src(wid)) + [")"]
        return head + body


# ---------------------------------------------------------------------------------------------------
# Files


def generate_file(seed: int, index: int, target_lines: int) -> tuple[str, list[str]]:
    """Source text of file `index` and the workload ids it declares."""
    rng = random.Random(f"mvm-bench:{seed}:{index}")
    names = Names(rng)
    for reserved in ("app", "logger", "main", "mvm", "m", "request", "jsonify", "Flask", "pytest"):
        names.used.add(reserved)
    sdk = Sdk(pick(rng, Sdk.STYLES))
    decls = DeclWriter(rng, sdk, index, names)

    n_decls = rng.choices([1, 2, 3], weights=[5, 3, 2])[0]
    decl_chunks = []
    for k in range(n_decls):
        if rng.random() < 0.65:
            decl_chunks.append(decls.class_form(names, k))
        else:
            decl_chunks.append(decls.function_form(names, k))

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
    imports.append(sdk.import_line)
    imports += ["", "logger = logging.getLogger(__name__)"]

    # Filler: enough chunks to reach the target size once declarations are counted.
    decl_lines = sum(len(c) + 2 for c in decl_chunks)
    budget = target_lines - len(header) - len(imports) - decl_lines - len(decls.constants) - 12
    fillers = []
    special = chunk_flask if web else chunk_pytest
    fillers.append(special(rng, names, ctx))
    budget -= len(fillers[-1]) + 2
    while budget > 10:  # stop early rather than overshoot: chunks are ~15 lines
        chunk = (special if rng.random() < 0.15 else pick(rng, FILLERS))(rng, names, ctx)
        fillers.append(chunk)
        budget -= len(chunk) + 2
    # Flask's `app` must exist before the first route: keep the chunk that defines it first.
    body_chunks = list(fillers)
    for c in decl_chunks:
        body_chunks.insert(rng.randint(1, len(body_chunks)), c)

    lines = header + imports
    if decls.constants:
        lines += ["", "# Sandbox settings (module constants are read statically by mvmctl)."]
        lines += decls.constants
    for c in body_chunks:
        lines += ["", ""] + c
    lines += [
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
    return "\n".join(lines) + "\n", decls.ids


def file_name(index: int) -> str:
    # Two levels so directory walking is exercised too; 100 files per directory.
    return os.path.join(f"pkg{index // 100:04d}", f"mod_{index:06d}.py")


def write_corpus(out_dir: Path, files: int, lines: int, seed: int) -> dict:
    """Writes the corpus and a manifest; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    total_lines = 0
    total_bytes = 0
    ids: list[str] = []
    for i in range(files):
        text, file_ids = generate_file(seed, i, lines)
        path = out_dir / file_name(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        total_lines += text.count("\n")
        total_bytes += len(data)
        ids += file_ids
    if len(set(ids)) != len(ids):
        raise SystemExit("internal error: duplicate workload ids generated")
    manifest = {"files": files, "lines_per_file": lines, "seed": seed, "total_lines": total_lines,
                "total_bytes": total_bytes, "workloads": len(ids)}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def verify(out_dir: Path, files: int, lines: int, seed: int, mvmctl: str, sample: int) -> int:
    """Runs `mvmctl check` on a sample of the corpus (zero diagnostics expected), then
    `mvmctl compile --dump ir` on the same sample to confirm every declaration was read."""
    rng = random.Random(f"verify:{seed}")
    indices = sorted(rng.sample(range(files), min(sample, files)))
    paths = [str(out_dir / file_name(i)) for i in indices]
    expected: list[str] = []
    for i in indices:
        expected += generate_file(seed, i, lines)[1]
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
    print(f"verify: {len(paths)} files, {len(expected)} workloads, 0 diagnostics", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="directory to write into (created if missing)")
    parser.add_argument("--files", "-n", type=int, default=100, help="number of files (default 100)")
    parser.add_argument("--lines", type=int, default=200, help="approximate lines per file (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--verify", action="store_true",
                        help="run mvmctl on a sample and fail unless it reports zero diagnostics "
                             "and reads every declaration")
    parser.add_argument("--verify-sample", type=int, default=500,
                        help="files checked by --verify (default 500; all when fewer)")
    parser.add_argument("--mvmctl", default="build/bin/mvmctl", help="mvmctl binary for --verify")
    args = parser.parse_args(argv)
    if args.files < 1 or args.lines < 40:
        parser.error("--files must be >= 1 and --lines >= 40")
    manifest = write_corpus(args.out_dir, args.files, args.lines, args.seed)
    print(json.dumps(manifest))
    if args.verify:
        return verify(args.out_dir, args.files, args.lines, args.seed, args.mvmctl,
                      args.verify_sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
