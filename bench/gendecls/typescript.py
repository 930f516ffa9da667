"""The TypeScript half of the generator (--lang ts): its own filler and declaration spellings,
seeded independently of the Python half so that adding it changed no Python file. The declarations
cover the same options as the Python ones, spelled the TypeScript way: camelCase options,
`@workload("id", {...})` or `@workload({ id, ... })` on classes only (TypeScript has no function
form), `NetworkPolicy.denyByDefault().allowHttps(...)`, `SecretRef("n", { hosts: [...] })`,
`Volume.local("./d", "/d", { mode: "ro" })`, `import ... from "@mvm/sdk"`, `const X = 2` constants."""
from __future__ import annotations

import random

from .common import (NOUNS, OCI_REPOS, OCI_TAGS, TEMPLATES, VERBS, DeclWriterBase, Names, SdkNames,
                     assemble, body_chunks, declaration_chunks, join_members, pick, q)
from .fillers import TS_FILLERS, ts_chunk_angular, ts_chunk_express

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


TS_SDK_STYLES = {
    "plain": ("", ["import { workload, entrypoint, service, NetworkPolicy, SecretRef, Volume } "
                   "from \"@mvm/sdk\";"]),
    "namespace": ("mvm.", ["import * as mvm from \"@mvm/sdk\";"]),
    "namespace_short": ("m.", ["import * as m from \"@mvm/sdk\";"]),
    "name_alias": (None, [
        "import { workload as wl, entrypoint as ep, service as svc } from \"@mvm/sdk\";",
        "import { NetworkPolicy as Net, SecretRef as Secret, Volume as Vol } from \"@mvm/sdk\";",
    ]),
}


class TsDeclWriter(DeclWriterBase):
    OCI_REPOS = TS_OCI_REPOS
    OCI_TAGS = TS_OCI_TAGS
    INT_TYPE = "number"
    INDENT = "  "
    NEST = "  "
    NETWORK = {"deny": "denyByDefault", "https": "allowHttps", "http": "allowHttp", "dns": "allowDns"}
    KEY_SEPARATOR = ": "
    CAMEL_CASE = True
    OPTIONS_OBJECT = True
    BRACES = ("{ ", " }")
    QUOTED_KEYS = False
    SCRIPT = "/app/dist/${verb}-${noun}.js"
    SERVICE_PORTS = [3000, 8080, 9000]
    MEMBERS = {
        "main": ["  /** Runs ${path} in the guest. */",
                 '  @${entrypoint}({ command: ["node", ${script}] })', "  main(): void {}"],
        "warmup": [
            '  @${entrypoint}("warmup", { command: ["node", "/app/dist/warm.js"], '
            "timeoutSeconds: ${t} })",
            "  warmup(): void {}",
        ],
        "migrate": [
            '  @${entrypoint}({ name: "migrate", command: ["npx", "prisma", "migrate", "deploy"] })',
            "  async runMigrations(): Promise<void> {", "    // Applied once per deploy; idempotent.",
            "  }",
        ],
        "api": [
            '  @${service}("api", { command: ["node", "/app/dist/server.js", "--port", ${port_src}], '
            "port: ${port} })",
            "  api(): void {}",
        ],
        "helper": ["  helper(value: number): number {",
                   "    // An ordinary method: not a declaration, ignored by mvm.",
                   "    return value * 2;", "  }"],
    }
    LOG_LEVELS = ["debug", "info", "warn"]
    EXTRA_ENV = ("NODE_ENV", ["production", "staging"])
    PORTS = [3000, 8000, 8080, 8443, 9000, 9090]

    def __init__(self, rng: random.Random, sdk: SdkNames, file_index: int, names: Names, angular: bool):
        super().__init__(rng, sdk, file_index, names)
        self.angular = angular

    def const_line(self, name: str, annotation: str, value_src: str) -> str:
        export = "export " if self.rng.random() < 0.2 else ""
        return f"{export}const {name}{annotation} = {value_src};"

    def literal_const_src(self, src: str) -> str:
        return src + (" as const" if self.rng.random() < 0.5 else "")

    def labels_src(self, src: str) -> str:
        return self.const("LABELS", src + " as const") if self.rng.random() < 0.2 else src

    def secret_key(self, env: str) -> str:
        return q(env) if self.rng.random() < 0.3 else env

    def head(self, wid: str) -> list[str]:
        """The `@workload(...)` decorator: id positional, as a constant, or as the `id` option."""
        rng = self.rng
        r = rng.random()
        if r < 0.2:
            return [f"@{self.sdk.workload}({{"] + self.options([self.option("id", q(wid))]) + ["})"]
        wid_src = self.const("WORKLOAD_ID", q(wid)) if r < 0.35 else q(wid)
        if rng.random() < 0.3:
            return [f"@{self.sdk.workload}(", f"  {wid_src}, {{"] + self.options([]) + ["})"]
        return [f"@{self.sdk.workload}({wid_src}, {{"] + self.options([]) + ["})"]

    def class_head(self, names: Names) -> tuple[str, list[str]]:
        """The class line (with its export style) and any non-mvm decorator stacked above."""
        rng = self.rng
        cls = names.cls("Workload")
        extra = ["@Injectable()"] if self.angular and rng.random() < 0.3 else []
        export = rng.choices(["export ", ""], weights=[3, 1])[0]
        return f"{export}class {cls} {{", extra

    def class_form(self, names: Names, k: int) -> list[str]:
        """A full declaration: many options, several entrypoints/services, plain methods."""
        sdk = self.sdk
        wid = self.new_id(k)
        head = self.head(wid)
        class_line, extra = self.class_head(names)
        lines = extra + head + [class_line]
        return lines + self.class_members() + ["}"]

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
    sdk = SdkNames(TS_SDK_STYLES, pick(rng, list(TS_SDK_STYLES)))
    decls = TsDeclWriter(rng, sdk, index, names, angular=not web)

    decl_chunks = declaration_chunks(rng, names, decls, decls.compact_form)

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
    body = body_chunks(rng, names, ctx, budget, ts_chunk_express if web else ts_chunk_angular,
                       TS_FILLERS, decl_chunks, gap=1)
    text = assemble(header + imports, decls.constants,
                    "// Sandbox settings (module constants are read statically by mvmctl).", body,
                    1, footer)
    return text, decls.ids
