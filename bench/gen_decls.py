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

Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
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
# TypeScript (--lang ts). Its own filler and declaration writer, seeded independently of the Python
# path so that adding it changed no Python file. The declarations cover the same spread of options
# as the Python ones, spelled the TypeScript way: camelCase options, `@workload("id", {...})` or
# `@workload({ id, ... })` on classes only (TypeScript has no function form), `NetworkPolicy
# .denyByDefault().allowHttps(...)`, `SecretRef("n", { hosts: [...] })`,
# `Volume.local("./d", "/d", { mode: "ro" })`, `import ... from "@mvm/sdk"`, `const X = 2` constants.

TS_OCI_REPOS = OCI_REPOS + ["docker.io/library/node", "ghcr.io/acme/web"]
TS_OCI_TAGS = OCI_TAGS + ["20-slim", "22-alpine"]
TS_EXTRA_IMPORTS = [
    'import { createHash, randomUUID } from "node:crypto";',
    'import { EventEmitter as NodeEmitter } from "node:events";',
    'import { setTimeout as delay } from "node:timers/promises";',
    'import { z } from "zod";',
    'import type { Readable } from "node:stream";',
    'import type { Logger } from "pino";',
    'import * as os from "node:os";',
    'import { URL, URLSearchParams } from "node:url";',
]


def lower_camel(*words: str) -> str:
    return words[0] + "".join(w.capitalize() for w in words[1:])


def ts_func_name(names: Names) -> str:
    return names.fresh(lambda: lower_camel(pick(names.rng, VERBS), pick(names.rng, NOUNS)))


def ts_chunk_interface(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    name = names.cls("Record")
    noun = pick(rng, NOUNS)
    fields = [
        "id: string;", "createdAt: Date;", f"{noun}Count: number;", "tags: string[];",
        "score?: number;", "owner: string | null;",
    ]
    n = rng.randint(3, len(fields))
    to_json = names.fresh(lambda: lower_camel(name[0].lower() + name[1:], "to", "json"))
    age = names.fresh(lambda: lower_camel("age", "of", name))
    lines = [f"/** A {pick(rng, ADJECTIVES)} {noun} record. */", f"export interface {name} {{"]
    lines += [f"  {f}" for f in fields[:n]]
    lines += [
        "}",
        "",
        f"export function {to_json}(record: {name}): Record<string, unknown> {{",
        "  const out: Record<string, unknown> = {",
        "    id: record.id,",
        "    createdAt: record.createdAt.toISOString(),",
        "  };",
        f"  if (record.{noun}Count > 0) {{" if n > 2 else "  if (record.id) {",
        f"    out.count = record.{noun}Count;" if n > 2 else "    out.hasId = true;",
        "  }",
        "  return out;",
        "}",
        "",
        f"export function {age}(record: {name}, now: Date = new Date()): number {{",
        "  // Timestamps are UTC; Date arithmetic is in milliseconds.",
        "  return now.getTime() - record.createdAt.getTime();",
        "}",
    ]
    ctx["record"] = name
    return lines


def ts_chunk_types(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    base = names.cls()
    states = rng.sample(ADJECTIVES, 3)
    guard = names.fresh(lambda: f"is{base}Status")
    parse = names.fresh(lambda: f"parse{base}")
    union = " | ".join(q(s) for s in states)
    return [
        f"export type {base}Status = {union};",
        f"export type {base}Result<T> = {{ ok: true; value: T }} | {{ ok: false; error: string }};",
        "",
        f"function {guard}(value: unknown): value is {base}Status {{",
        f"  return typeof value === \"string\" && [{', '.join(q(s) for s in states)}].includes(value);",
        "}",
        "",
        f"export function {parse}(raw: string): {base}Result<{base}Status> {{",
        "  try {",
        "    const parsed: unknown = JSON.parse(raw);",
        f"    if ({guard}(parsed)) {{",
        "      return { ok: true, value: parsed };",
        "    }",
        "    return { ok: false, error: `unexpected status ${String(parsed)}` };",
        "  } catch (error) {",
        "    return { ok: false, error: error instanceof Error ? error.message : String(error) };",
        "  }",
        "}",
    ]


def ts_chunk_function_loop(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = ts_func_name(names)
    noun = pick(rng, NOUNS)
    limit = rng.choice([10, 50, 100, 500, 1000])
    return [
        "/**",
        f" * Merges up to `limit` items by id. Items without a `{noun}` key are skipped; later",
        " * duplicates win field by field.",
        " */",
        f"export function {fn}(",
        "  items: Iterable<Record<string, unknown>>,",
        f"  limit = {limit},",
        "): Array<Record<string, unknown>> {",
        "  const seen = new Map<string, Record<string, unknown>>();",
        "  let index = 0;",
        "  for (const item of items) {",
        "    if (index >= limit) {",
        "      break;",
        "    }",
        "    index += 1;",
        f"    if (!(\"{noun}\" in item)) {{",
        "      continue;",
        "    }",
        "    const key = String(item.id ?? index);",
        "    const previous = seen.get(key);",
        "    seen.set(key, previous ? { ...previous, ...item } : { ...item });",
        "  }",
        f"  logger.debug(`{fn}: ${{seen.size}} unique of ${{limit}}`);",
        "  return [...seen.values()].sort((a, b) => String(a.id).localeCompare(String(b.id)));",
        "}",
    ]


def ts_chunk_class(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    name = names.cls("Client")
    host = f"{pick(rng, NOUNS)}.{pick(rng, TLDS)}"
    retries = rng.randint(2, 6)
    return [
        f"/** Talks to https://{host}; retries transient failures. */",
        f"export class {name} {{",
        "  private readonly cache = new Map<string, unknown>();",
        "",
        "  constructor(",
        f"    private readonly baseUrl: string = \"https://{host}\",",
        f"    private readonly retries: number = {retries},",
        "  ) {}",
        "",
        "  private url(path: string): string {",
        r"    return `${this.baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;",
        "  }",
        "",
        "  async get<T>(path: string): Promise<T> {",
        "    const url = this.url(path);",
        "    if (this.cache.has(url)) {",
        "      return this.cache.get(url) as T;",
        "    }",
        "    let lastError: unknown;",
        "    for (let attempt = 0; attempt < this.retries; attempt++) {",
        "      try {",
        "        const response = await fetch(url, { headers: { accept: \"application/json\" } });",
        "        if (!response.ok) {",
        "          throw new Error(`HTTP ${response.status} from ${url}`);",
        "        }",
        "        const body = (await response.json()) as T;",
        "        this.cache.set(url, body);",
        "        return body;",
        "      } catch (error) {",
        "        lastError = error; // network hiccup: back off and retry",
        "        await sleep(Math.min(2 ** attempt, 30) * 10);",
        "      }",
        "    }",
        "    throw new Error(`giving up on ${url}: ${String(lastError)}`);",
        "  }",
        "}",
    ]


def ts_chunk_generator(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = ts_func_name(names)
    size = rng.choice([8, 16, 32, 64, 128])
    return [
        "/** Yields `rows` in batches of `size` (the last batch may be shorter). */",
        f"export function* {fn}<T>(rows: Iterable<T>, size = {size}): "
        "Generator<T[], void, undefined> {",
        "  let batch: T[] = [];",
        "  for (const row of rows) {",
        "    batch.push(row);",
        "    if (batch.length === size) {",
        "      yield batch;",
        "      batch = [];",
        "    }",
        "  }",
        "  if (batch.length > 0) {",
        "    yield batch;",
        "  }",
        "}",
    ]


def ts_chunk_aggregate(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = ts_func_name(names)
    noun = pick(rng, NOUNS)
    return [
        f"/** Average `value` per `{noun}` kind, ignoring malformed events. */",
        f"export function {fn}(",
        "  events: ReadonlyArray<{ kind?: string; value?: unknown }>,",
        "): Record<string, number> {",
        "  const totals = new Map<string, { sum: number; count: number }>();",
        "  for (const event of events) {",
        "    const value = Number(event.value);",
        "    if (!event.kind || Number.isNaN(value)) {",
        "      continue;",
        "    }",
        "    const entry = totals.get(event.kind) ?? { sum: 0, count: 0 };",
        "    entry.sum += value;",
        "    entry.count += 1;",
        "    totals.set(event.kind, entry);",
        "  }",
        "  return Object.fromEntries("
        "[...totals].map(([kind, { sum, count }]) => [kind, sum / count]));",
        "}",
    ]


def ts_chunk_async(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = ts_func_name(names)
    conc = rng.randint(2, 16)
    return [
        "/** Fetches urls with bounded concurrency; results keep input order. */",
        f"export async function {fn}(urls: readonly string[], concurrency = {conc}): "
        "Promise<string[]> {",
        "  const results: string[] = new Array<string>(urls.length);",
        "  let next = 0;",
        "  const worker = async (): Promise<void> => {",
        "    while (next < urls.length) {",
        "      const i = next++;",
        "      await sleep(0);",
        "      results[i] = urls[i].toUpperCase();",
        "    }",
        "  };",
        "  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));",
        "  return results;",
        "}",
    ]


def ts_chunk_comment(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    noun, verb = pick(rng, NOUNS), pick(rng, VERBS)
    return [
        "// " + "-" * 96,
        f"// {verb.capitalize()} {noun} data. The helpers below are deliberately small; "
        "keep I/O at the edges",
        f"// so the {pick(rng, ADJECTIVES)} path stays testable without a network.",
        "// " + "-" * 96,
    ]


def ts_chunk_enum(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    name = names.cls("Priority")
    fn = names.fresh(lambda: lower_camel("priority", "of", name))
    low, mid, high = sorted(rng.sample(range(1, 20), 3))
    cut = rng.choice([0.5, 0.7, 0.8, 0.9])
    return [
        f"export enum {name} {{",
        f"  Low = {low},",
        f"  Normal = {mid},",
        f"  High = {high},",
        "}",
        "",
        f"export function {fn}(score: number): {name} {{",
        f"  if (score > {cut}) return {name}.High;",
        f"  return score > 0.3 ? {name}.Normal : {name}.Low;",
        "}",
    ]


def ts_chunk_paths(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    fn = ts_func_name(names)
    ext = pick(rng, ["json", "csv", "txt", "parquet"])
    return [
        f"/** Size in bytes of every .{ext} file below `root`, keyed by relative path. */",
        f"export async function {fn}(root: string): Promise<Record<string, number>> {{",
        "  const sizes: Record<string, number> = {};",
        "  const entries = await fs.readdir(root, { withFileTypes: true, recursive: true });",
        "  for (const entry of entries) {",
        "    if (!entry.isFile() || entry.name.startsWith(\".\") || "
        f"!entry.name.endsWith(\".{ext}\")) {{",
        "      continue; // hidden files are never ours",
        "    }",
        "    const full = path.join(entry.parentPath ?? root, entry.name);",
        "    sizes[path.relative(root, full)] = (await fs.stat(full)).size;",
        "  }",
        "  return sizes;",
        "}",
    ]


def ts_chunk_express(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    noun = pick(rng, NOUNS)
    verb = pick(rng, ["get", "list", "create", "delete"])
    fn = names.fresh(lambda: lower_camel(verb, noun))
    route = f"/{noun}s/:{noun}Id" if verb in ("get", "delete") else f"/{noun}s"
    method = {"get": "get", "list": "get", "create": "post", "delete": "delete"}[verb]
    lines = []
    if not ctx.get("express_app"):
        ctx["express_app"] = True
        lines += ["export const app = express();", "app.use(express.json());", "", ""]
    ident = f", id: req.params.{noun}Id" if ":" in route else ""
    lines += [
        f"// HTTP handler: {method.upper()} {route}.",
        f"app.{method}(\"{route}\", async (req: Request, res: Response, next: NextFunction) => {{",
        "  try {",
        "    const payload = (req.body ?? {}) as Record<string, unknown>;",
        "    if (payload.dryRun) {",
        "      res.json({ ok: true, dryRun: true });",
        "      return;",
        "    }",
        f"    logger.info(`{fn} called with ${{Object.keys(payload).length}} keys`);",
        f"    res.status(200).json({{ ok: true, kind: \"{noun}\"{ident} }});",
        "  } catch (error) {",
        "    next(error);",
        "  }",
        "});",
    ]
    return lines


def ts_chunk_angular(rng: random.Random, names: Names, ctx: dict) -> list[str]:
    noun = pick(rng, NOUNS)
    store = names.fresh(lambda: camel(pick(rng, ADJECTIVES), noun) + "Store")
    comp = names.fresh(lambda: camel(noun, pick(rng, ["list", "table", "panel", "card"])) + "Component")
    selector = "app-" + re.sub(r"(?<!^)(?=[A-Z])", "-", comp[: -len("Component")]).lower()
    component = [
        "@Component({",
        f"  selector: \"{selector}\",",
        "  template: `<ul><li *ngFor=\"let item of items$ | async\">{{ item.id }}</li></ul>`,",
        "})",
        f"export class {comp} implements OnInit {{",
        f"  @Input() title = \"{noun.capitalize()}s\";",
        "  @Output() selected = new EventEmitter<string>();",
        "",
        f"  constructor(private readonly store: {ctx.get('angular_store', store)}) {{}}",
        "",
        "  ngOnInit(): void {",
        "    this.store.load().subscribe();",
        "  }",
        "}",
    ]
    if ctx.get("angular_store"):
        return component  # later components share the first store
    ctx["angular_store"] = store
    return [
        "@Injectable({ providedIn: \"root\" })",
        f"export class {store} {{",
        "  private readonly items = new BehaviorSubject<Array<Record<string, unknown>>>([]);",
        "  readonly items$ = this.items.asObservable();",
        "",
        "  constructor(private readonly http: HttpClient) {}",
        "",
        "  load(): Observable<Array<Record<string, unknown>>> {",
        f"    return this.http.get<Array<Record<string, unknown>>>(\"/api/{noun}s\").pipe(",
        "      tap((items) => this.items.next(items)),",
        "    );",
        "  }",
        "}",
        "",
    ] + component


TS_FILLERS = [
    ts_chunk_interface, ts_chunk_function_loop, ts_chunk_class, ts_chunk_generator,
    ts_chunk_aggregate, ts_chunk_async, ts_chunk_comment, ts_chunk_paths, ts_chunk_types,
    ts_chunk_enum, ts_chunk_function_loop, ts_chunk_class,
]


class TsSdk:
    """How a TypeScript file spells the SDK names, after its import style."""

    STYLES = ["plain", "namespace", "namespace_short", "name_alias"]
    KEYS = ("workload", "entrypoint", "service", "NetworkPolicy", "SecretRef", "Volume")

    def __init__(self, style: str):
        if style == "plain":
            self.import_lines = [
                "import { workload, entrypoint, service, NetworkPolicy, SecretRef, Volume } "
                "from \"@mvm/sdk\";"]
            self.n = {k: k for k in self.KEYS}
        elif style in ("namespace", "namespace_short"):
            ns = "mvm" if style == "namespace" else "m"
            self.import_lines = [f"import * as {ns} from \"@mvm/sdk\";"]
            self.n = {k: f"{ns}.{k}" for k in self.KEYS}
        else:
            self.import_lines = [
                "import { workload as wl, entrypoint as ep, service as svc } from \"@mvm/sdk\";",
                "import { NetworkPolicy as Net, SecretRef as Secret, Volume as Vol } "
                "from \"@mvm/sdk\";",
            ]
            self.n = {"workload": "wl", "entrypoint": "ep", "service": "svc",
                      "NetworkPolicy": "Net", "SecretRef": "Secret", "Volume": "Vol"}

    def __getattr__(self, key: str) -> str:
        try:
            return self.__dict__["n"][key]
        except KeyError:
            raise AttributeError(key) from None


class TsDeclWriter:
    """Writes the TypeScript declarations of one file; collects the module constants they use."""

    def __init__(self, rng: random.Random, sdk: TsSdk, file_index: int, names: Names, angular: bool):
        self.rng = rng
        self.sdk = sdk
        self.file_index = file_index
        self.names = names
        self.angular = angular
        self.constants: list[str] = []
        self.ids: list[str] = []
        self.ports: list[int] = []

    def const(self, base: str, value_src: str, annotated: str = "") -> str:
        name = self.names.fresh(lambda: base if base not in self.names.used else
                                f"{base}_{self.rng.randint(2, 99)}")
        ann = f": {annotated}" if annotated else ""
        export = "export " if self.rng.random() < 0.2 else ""
        self.constants.append(f"{export}const {name}{ann} = {value_src};")
        return name

    def image(self) -> str:
        rng = self.rng
        kind = rng.choices(["template", "nix", "oci", "const"], weights=[4, 3, 3, 2])[0]
        if kind == "template":
            return q("template:" + pick(rng, TEMPLATES))
        if kind == "nix":
            return q("nix:" + pick(rng, NIX_REFS))
        if kind == "oci":
            repo = pick(rng, TS_OCI_REPOS)
            if rng.random() < 0.6:
                digest = "".join(pick(rng, "0123456789abcdef") for _ in range(64))
                return q(f"oci:{repo}@sha256:{digest}")
            return q(f"oci:{repo}:{pick(rng, TS_OCI_TAGS)}")
        prefix = self.const("IMAGE_PREFIX", q("template:"))
        return self.const("IMAGE", f"{prefix} + {q(pick(rng, TEMPLATES))}")

    def network(self, indent: str) -> tuple[str | None, list[str]]:
        rng = self.rng
        if rng.random() < 0.2:
            return None, []
        https = rng.sample(API_HOSTS, rng.randint(1, 3))
        secret_hosts = list(https)
        steps = []
        if rng.random() < 0.3:
            as_const = " as const" if rng.random() < 0.5 else ""
            host_const = self.const("API_HOST", q(https[0]) + as_const)
            steps.append(f".allowHttps({host_const})")
            rest = https[1:]
        else:
            rest = https
        if rest:
            if rng.random() < 0.5:
                steps.append(".allowHttps(" + ", ".join(q(h) for h in rest) + ")")
            else:
                steps += [f".allowHttps({q(h)})" for h in rest]
        if rng.random() < 0.4:
            suffix = pick(rng, TLDS)
            steps.append(f".allowHttps({q('*.' + suffix)})")
            secret_hosts.append(f"{pick(rng, NOUNS)}.{suffix}")
        if rng.random() < 0.3:
            steps.append(f".allowHttp({q('mirror.' + pick(rng, TLDS))})")
        if rng.random() < 0.6:
            steps.append(".allowDns()")
        head = f"{self.sdk.NetworkPolicy}.denyByDefault()"
        if len(steps) <= 2 and rng.random() < 0.5:
            return head + "".join(steps), secret_hosts
        return head + "".join(f"\n{indent}{s}" for s in steps), secret_hosts

    def options(self, id_key: str | None) -> list[str]:
        """The lines of the options object (without braces), each ending with a comma."""
        rng = self.rng
        sdk = self.sdk
        ind = "  "
        out = [f"{ind}id: {id_key},"] if id_key else []
        out.append(f"{ind}image: {self.image()},")
        if rng.random() < 0.8:
            cpu = rng.choice([1, 2, 4, 8])
            src = self.const("CPU", str(cpu), "number") if rng.random() < 0.3 else cpu
            out.append(f"{ind}cpu: {src},")
        if rng.random() < 0.85:
            r = rng.random()
            if r < 0.3:
                base = self.const("BASE_MB", str(rng.choice([128, 256, 512])))
                mem = self.const("MEMORY_MB", f"{base} * {rng.choice([2, 4, 8])}")
            elif r < 0.45:
                mem = self.const("MEMORY_MB", str(rng.choice([1024, 2048, 4096])), "number")
            else:
                mem = str(rng.choice([256, 512, 1024, 2048, 4096, 8192]))
            out.append(f"{ind}memoryMb: {mem},")
        if rng.random() < 0.3:
            out.append(f"{ind}diskMb: {rng.choice([1024, 4096, 8192, 16384])},")
        if rng.random() < 0.7:
            t = rng.choice([30, 60, 120, 300, 900, 3600])
            if rng.random() < 0.2:
                minutes = self.const("TIMEOUT_MINUTES", str(max(1, t // 60)))
                out.append(f"{ind}timeoutSeconds: {minutes} * 60,")
            else:
                out.append(f"{ind}timeoutSeconds: {t},")
        net, hosts = self.network(ind + "  ")
        if net is not None:
            out.append(f"{ind}network: {net},")
        secret_envs: set[str] = set()
        if hosts and rng.random() < 0.75:
            k = rng.randint(1, min(3, len(hosts)))
            entries = []
            for j, host in enumerate(rng.sample(hosts, k)):
                env = f"{pick(rng, NOUNS).upper()}_{['API_KEY', 'TOKEN', 'SECRET'][j % 3]}"
                secret_envs.add(env)
                secret_name = f"{host.split('.')[-2]}-{pick(rng, ['key', 'token', 'cred'])}-{j}"
                key = q(env) if rng.random() < 0.3 else env
                entries.append(f"{key}: {sdk.SecretRef}({q(secret_name)}, {{ hosts: [{q(host)}] }})")
            if len(entries) == 1:
                out.append(f"{ind}secrets: {{ {entries[0]} }},")
            else:
                out.append(f"{ind}secrets: {{")
                out += [f"{ind}  {e}," for e in entries]
                out.append(f"{ind}}},")
        if rng.random() < 0.5:
            vols = []
            if rng.random() < 0.7:
                mode = rng.choice(["ro", "rw", None])
                m = f", {{ mode: {q(mode)} }}" if mode else ""
                vols.append(f"{sdk.Volume}.local({q('./' + pick(rng, NOUNS) + 's')}, {q('/data')}{m})")
            if rng.random() < 0.7 or not vols:
                size = rng.choice([16, 64, 128, 256, 1024])
                vols.append(f"{sdk.Volume}.memory({q('/scratch')}, {{ sizeMb: {size} }})")
            out.append(f"{ind}volumes: [{', '.join(vols)}],")
        if rng.random() < 0.6:
            env = {"LOG_LEVEL": pick(rng, ["debug", "info", "warn"])}
            if rng.random() < 0.5:
                env["WORKERS"] = str(rng.randint(1, 8))
            if rng.random() < 0.3:
                env["NODE_ENV"] = pick(rng, ["production", "staging"])
            env = {k: v for k, v in env.items() if k not in secret_envs}
            out.append(f"{ind}env: {{ " + ", ".join(f"{k}: {q(v)}" for k, v in env.items()) + " },")
        self.ports = []
        if rng.random() < 0.4:
            self.ports = sorted(rng.sample([3000, 8000, 8080, 8443, 9000, 9090], rng.randint(1, 2)))
            out.append(f"{ind}ports: [{', '.join(map(str, self.ports))}],")
        if rng.random() < 0.25:
            out.append(f"{ind}isolation: \"microvm\",")
        if rng.random() < 0.6:
            labels = {"team": pick(rng, TEAMS)}
            if rng.random() < 0.5:
                labels["tier"] = pick(rng, ["batch", "interactive", "critical"])
            src = "{ " + ", ".join(f"{k}: {q(v)}" for k, v in labels.items()) + " }"
            if rng.random() < 0.2:
                src = self.const("LABELS", src + " as const")
            out.append(f"{ind}labels: {src},")
        return out

    def new_id(self, k: int) -> str:
        wid = f"{pick(self.rng, NOUNS)}-{pick(self.rng, VERBS)}-{self.file_index:06d}-{k}"
        self.ids.append(wid)
        return wid

    def head(self, wid: str) -> list[str]:
        """The `@workload(...)` decorator: id positional, as a constant, or as the `id` option."""
        rng = self.rng
        r = rng.random()
        if r < 0.2:
            return [f"@{self.sdk.workload}({{"] + self.options(q(wid)) + ["})"]
        wid_src = self.const("WORKLOAD_ID", q(wid)) if r < 0.35 else q(wid)
        if rng.random() < 0.3:
            return [f"@{self.sdk.workload}(", f"  {wid_src}, {{"] + self.options(None) + ["})"]
        return [f"@{self.sdk.workload}({wid_src}, {{"] + self.options(None) + ["})"]

    def class_head(self, names: Names) -> tuple[str, list[str]]:
        """The class line (with its export style) and any non-mvm decorator stacked above."""
        rng = self.rng
        cls = names.cls("Workload")
        extra = ["@Injectable()"] if self.angular and rng.random() < 0.3 else []
        export = rng.choices(["export ", ""], weights=[3, 1])[0]
        return f"{export}class {cls} {{", extra

    def class_form(self, names: Names, k: int) -> list[str]:
        """A full declaration: many options, several entrypoints/services, plain methods."""
        rng = self.rng
        sdk = self.sdk
        wid = self.new_id(k)
        head = self.head(wid)
        class_line, extra = self.class_head(names)
        lines = extra + head + [class_line]
        members = []
        script = f"/app/dist/{pick(rng, VERBS)}-{pick(rng, NOUNS)}.js"
        members.append([
            f"  /** Runs {script} in the guest. */",
            f"  @{sdk.entrypoint}({{ command: [\"node\", {q(script)}] }})",
            "  main(): void {}",
        ])
        if rng.random() < 0.6:
            t = rng.choice([5, 10, 30, 60])
            members.append([
                f"  @{sdk.entrypoint}(\"warmup\", {{ command: [\"node\", \"/app/dist/warm.js\"], "
                f"timeoutSeconds: {t} }})",
                "  warmup(): void {}",
            ])
        if rng.random() < 0.3:
            members.append([
                f"  @{sdk.entrypoint}({{ name: \"migrate\", command: [\"npx\", \"prisma\", \"migrate\", "
                "\"deploy\"] })",
                "  async runMigrations(): Promise<void> {",
                "    // Applied once per deploy; idempotent.",
                "  }",
            ])
        if rng.random() < 0.5:
            port = self.ports[0] if self.ports else rng.choice([3000, 8080, 9000])
            members.append([
                f"  @{sdk.service}(\"api\", {{ command: [\"node\", \"/app/dist/server.js\", \"--port\", "
                f"{q(str(port))}], port: {port} }})",
                "  api(): void {}",
            ])
        if rng.random() < 0.4:
            members.append([
                "  helper(value: number): number {",
                "    // An ordinary method: not a declaration, ignored by mvm.",
                "    return value * 2;",
                "  }",
            ])
        for j, m in enumerate(members):
            if j:
                lines.append("")
            lines += m
        return lines + ["}"]

    def compact_form(self, names: Names, k: int) -> list[str]:
        """The counterpart of Python's function form: a small workload class whose one entrypoint
        method has a real body; half the time a one-line decorator, else the full options."""
        rng = self.rng
        sdk = self.sdk
        wid = self.new_id(k)
        if rng.random() < 0.5:
            head = [f"@{sdk.workload}({q(wid)}, {{ image: {q('template:' + pick(rng, TEMPLATES))}, "
                    f"cpu: 1, memoryMb: {rng.choice([128, 256, 512])} }})"]
        else:
            head = self.head(wid)
        class_line, extra = self.class_head(names)
        return extra + head + [
            class_line,
            f"  @{sdk.entrypoint}({{ command: [\"node\", \"/app/dist/{pick(rng, VERBS)}.js\"] }})",
            "  async run(): Promise<void> {",
            f"    // Entry point of `{wid}`: runs inside the sandbox.",
            "    const started = Date.now();",
            "    let total = 0;",
            f"    for (let i = 0; i < {rng.randint(3, 100)}; i++) {{",
            "      total += i * i;",
            "    }",
            "    logger.info(`done: ${total} in ${Date.now() - started} ms`);",
            "  }",
            "}",
        ]


def generate_ts_file(seed: int, index: int, target_lines: int) -> tuple[str, list[str]]:
    """TypeScript source text of file `index` and the workload ids it declares."""
    rng = random.Random(f"mvm-bench-ts:{seed}:{index}")
    names = Names(rng)
    for reserved in ("app", "logger", "main", "sleep", "fs", "path", "os", "express", "pino", "mvm",
                     "m", "z", "delay", "Request", "Response", "NextFunction", "Injectable",
                     "Component", "Input", "Output", "EventEmitter", "OnInit", "HttpClient",
                     "BehaviorSubject", "Observable", "tap", "URL", "URLSearchParams", "NodeEmitter",
                     "Readable", "Logger", "createHash", "randomUUID"):
        names.used.add(reserved)
    web = rng.random() < 0.5  # an Express-style module, else an Angular-style one
    sdk = TsSdk(pick(rng, TsSdk.STYLES))
    decls = TsDeclWriter(rng, sdk, index, names, angular=not web)

    n_decls = rng.choices([1, 2, 3], weights=[5, 3, 2])[0]
    decl_chunks = []
    for k in range(n_decls):
        if rng.random() < 0.65:
            decl_chunks.append(decls.class_form(names, k))
        else:
            decl_chunks.append(decls.compact_form(names, k))

    ctx: dict = {}
    topic = pick(rng, NOUNS)
    header = [
        "/**",
        f" * {topic.capitalize()} {pick(rng, VERBS)} service.",
        " *",
        f" * Ordinary application code for {topic}s, plus the mvm declarations that run parts of it",
        " * in a sandbox. Generated for benchmarking mvmctl; not meant to be imported.",
        " */",
    ]
    imports = [
        "import { promises as fs } from \"node:fs\";",
        "import * as path from \"node:path\";",
    ]
    imports += sorted(rng.sample(TS_EXTRA_IMPORTS, rng.randint(1, 3)))
    imports.append("")
    if web:
        imports.append("import express, { type NextFunction, type Request, type Response } "
                       "from \"express\";")
    else:
        imports += [
            "import { Component, EventEmitter, Injectable, Input, OnInit, Output } "
            "from \"@angular/core\";",
            "import { HttpClient } from \"@angular/common/http\";",
            "import { BehaviorSubject, Observable, tap } from \"rxjs\";",
        ]
    imports.append("import pino from \"pino\";")
    imports += sdk.import_lines
    imports += [
        "",
        f"const logger = pino({{ name: {q(topic)} }});",
        "const sleep = (ms: number): Promise<void> => "
        "new Promise((resolve) => setTimeout(resolve, ms));",
    ]

    footer = [
        "",
        "export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {",
        f"  logger.info({{ argv, topic: {q(topic)} }}, \"ready\");",
        "  return 0;",
        "}",
        "",
        "if (require.main === module) {",
        "  main().then(",
        "    (code) => process.exit(code),",
        "    (error: unknown) => {",
        "      logger.error(error);",
        "      process.exit(1);",
        "    },",
        "  );",
        "}",
    ]
    decl_lines = sum(len(c) + 1 for c in decl_chunks)
    budget = (target_lines - len(header) - len(imports) - decl_lines - len(decls.constants)
              - len(footer) - 6)
    special = ts_chunk_express if web else ts_chunk_angular
    fillers = [special(rng, names, ctx)]
    budget -= len(fillers[-1]) + 1
    while budget > 10:  # stop early rather than overshoot: chunks are ~15 lines
        chunk = (special if rng.random() < 0.15 else pick(rng, TS_FILLERS))(rng, names, ctx)
        fillers.append(chunk)
        budget -= len(chunk) + 1
    # Express's `app` must exist before the first route: keep the chunk that defines it first.
    body_chunks = list(fillers)
    for c in decl_chunks:
        body_chunks.insert(rng.randint(1, len(body_chunks)), c)

    lines = header + imports
    if decls.constants:
        lines += ["", "// Sandbox settings (module constants are read statically by mvmctl)."]
        lines += decls.constants
    for c in body_chunks:
        lines += [""] + c
    lines += footer
    return "\n".join(lines) + "\n", decls.ids


# ---------------------------------------------------------------------------------------------------
# Files


LANGS = ("py", "ts")


def generate_file(seed: int, index: int, target_lines: int, lang: str = "py") -> tuple[str, list[str]]:
    """Source text of file `index` and the workload ids it declares."""
    if lang == "ts":
        return generate_ts_file(seed, index, target_lines)
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
