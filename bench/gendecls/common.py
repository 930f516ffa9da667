"""What the Python and TypeScript generators share: vocabulary, names, the declaration options and
their random draws (each language only spells them), and the layout of a file."""
from __future__ import annotations

import json
import random
from string import Template

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



def lower_camel(*words: str) -> str:
    return words[0] + "".join(w.capitalize() for w in words[1:])


def q(s: str) -> str:
    return json.dumps(s)


class SdkNames:
    """How a file spells the SDK names, after its import style. `styles` maps each style to the
    prefix of every name ("" for plain imports, "m." for a module alias, None for the aliased names
    of ALIASES) and the import lines that bind them."""

    KEYS = ("workload", "entrypoint", "service", "NetworkPolicy", "SecretRef", "Volume")
    ALIASES = {"workload": "wl", "entrypoint": "ep", "service": "svc",
               "NetworkPolicy": "Net", "SecretRef": "Secret", "Volume": "Vol"}

    def __init__(self, styles: dict[str, tuple[str | None, list[str]]], style: str):
        prefix, self.import_lines = styles[style]
        self.n = dict(self.ALIASES) if prefix is None else {k: prefix + k for k in self.KEYS}

    def __getattr__(self, key: str) -> str:
        try:
            return self.__dict__["n"][key]
        except KeyError:
            raise AttributeError(key) from None


# ---------------------------------------------------------------------------------------------------
# Declarations


class DeclWriterBase:
    """Writes the declarations of one file; collects the module constants they use. Both languages
    draw the same options in the same order from `rng`. The spelling here is Python's; the
    TypeScript writer changes the class attributes and draws more where its language has more ways
    to write a value (`export`, `as const`, quoted keys)."""

    OCI_REPOS = OCI_REPOS
    OCI_TAGS = OCI_TAGS
    INT_TYPE = "int"  # annotation of an integer constant
    INDENT = "    "  # of an option line
    NEST = "    "  # of an entry inside a multi-line option value, beyond INDENT
    NETWORK = {"deny": "deny_by_default", "https": "allow_https", "http": "allow_http",
               "dns": "allow_dns"}
    LOG_LEVELS = ["debug", "info", "warning"]
    EXTRA_ENV = ("REGION", ["eu-west-1", "us-east-1", "ap-south-1"])
    PORTS = [8000, 8080, 8443, 9000, 9090, 5000]

    def __init__(self, rng: random.Random, sdk: SdkNames, file_index: int, names: Names):
        self.rng = rng
        self.sdk = sdk
        self.file_index = file_index
        self.names = names
        self.constants: list[str] = []  # module-level lines, emitted near the top of the file
        self.ids: list[str] = []
        self.ports: list[int] = []

    KEY_SEPARATOR = "="  # between an option's or argument's name and its value
    CAMEL_CASE = False  # option and argument names in camelCase
    OPTIONS_OBJECT = False  # optional arguments passed as an object (`{ mode: "ro" }`)
    BRACES = ("{", "}")  # around an inline mapping
    QUOTED_KEYS = True  # mapping keys are string literals
    # Each language's class-form members (string.Template lines), the path `main` runs, and the
    # ports an `api` service picks from when the workload declares none.
    MEMBERS: dict[str, list[str]]
    SCRIPT: str
    SERVICE_PORTS: list[int]

    def const_line(self, name: str, annotation: str, value_src: str) -> str:
        return f"{name}{annotation} = {value_src}"

    def literal_const_src(self, src: str) -> str:
        """The source of a constant holding the literal `src`."""
        return src

    def labels_src(self, src: str) -> str:
        return src

    def secret_key(self, env: str) -> str:
        return self.key(env)

    def spell(self, key: str) -> str:
        """An option or argument name, given in snake_case."""
        return lower_camel(*key.split("_")) if self.CAMEL_CASE else key

    def option_head(self, key: str) -> str:
        """An option line up to its value."""
        return f"{self.INDENT}{self.spell(key)}{self.KEY_SEPARATOR}"

    def option(self, key: str, value_src) -> str:
        return f"{self.option_head(key)}{value_src},"

    def named_arg(self, key: str, value_src) -> str:
        """An optional argument of an SDK call (`mode`, `size_mb`, `hosts`)."""
        arg = f"{self.spell(key)}{self.KEY_SEPARATOR}{value_src}"
        return self.mapping([arg]) if self.OPTIONS_OBJECT else arg

    def mapping(self, entries: list[str]) -> str:
        """An inline mapping of `key: value` entries."""
        return self.BRACES[0] + ", ".join(entries) + self.BRACES[1]

    def key(self, name: str) -> str:
        return q(name) if self.QUOTED_KEYS else name

    def secret_entry(self, env: str, secret_name: str, host: str) -> str:
        hosts = self.named_arg("hosts", f"[{q(host)}]")
        return f"{self.secret_key(env)}: {self.sdk.SecretRef}({q(secret_name)}, {hosts})"

    def const(self, base: str, value_src: str, annotated: str = "") -> str:
        name = self.names.fresh(lambda: base if base not in self.names.used else
                                f"{base}_{self.rng.randint(2, 99)}")
        ann = f": {annotated}" if annotated else ""
        self.constants.append(self.const_line(name, ann, value_src))
        return name

    def image(self) -> str:
        rng = self.rng
        kind = rng.choices(["template", "nix", "oci", "const"], weights=[4, 3, 3, 2])[0]
        if kind == "template":
            return q("template:" + pick(rng, TEMPLATES))
        if kind == "nix":
            return q("nix:" + pick(rng, NIX_REFS))
        if kind == "oci":
            repo = pick(rng, self.OCI_REPOS)
            if rng.random() < 0.6:
                digest = "".join(pick(rng, "0123456789abcdef") for _ in range(64))
                return q(f"oci:{repo}@sha256:{digest}")
            return q(f"oci:{repo}:{pick(rng, self.OCI_TAGS)}")
        # A constant built by string concatenation, folded at compile time.
        prefix = self.const("IMAGE_PREFIX", q("template:"))
        return self.const("IMAGE", f"{prefix} + {q(pick(rng, TEMPLATES))}")

    def network(self, indent: str) -> tuple[str | None, list[str]]:
        """A NetworkPolicy chain (source) and the hosts a secret may name under it."""
        rng = self.rng
        net = self.NETWORK
        if rng.random() < 0.2:
            return None, []
        https = rng.sample(API_HOSTS, rng.randint(1, 3))
        secret_hosts = list(https)
        steps = []
        if rng.random() < 0.3:
            host_const = self.const("API_HOST", self.literal_const_src(q(https[0])))
            steps.append(f".{net['https']}({host_const})")
            rest = https[1:]
        else:
            rest = https
        if rest:
            if rng.random() < 0.5:
                steps.append(f".{net['https']}(" + ", ".join(q(h) for h in rest) + ")")
            else:
                steps += [f".{net['https']}({q(h)})" for h in rest]
        if rng.random() < 0.4:
            suffix = pick(rng, TLDS)
            steps.append(f".{net['https']}({q('*.' + suffix)})")
            secret_hosts.append(f"{pick(rng, NOUNS)}.{suffix}")
        if rng.random() < 0.3:
            steps.append(f".{net['http']}({q('mirror.' + pick(rng, TLDS))})")
        if rng.random() < 0.6:
            steps.append(f".{net['dns']}()")
        head = f"{self.sdk.NetworkPolicy}.{net['deny']}()"
        if len(steps) <= 2 and rng.random() < 0.5:
            return head + "".join(steps), secret_hosts
        return head + "".join(f"\n{indent}{s}" for s in steps), secret_hosts

    def options(self, first: list[str]) -> list[str]:
        """The option lines of a `@workload`, each ending with a comma, after `first`."""
        rng = self.rng
        sdk = self.sdk
        ind = self.INDENT
        out = first + [self.option("image", self.image())]
        if rng.random() < 0.8:
            cpu = rng.choice([1, 2, 4, 8])
            src = self.const("CPU", str(cpu), self.INT_TYPE) if rng.random() < 0.3 else cpu
            out.append(self.option("cpu", src))
        if rng.random() < 0.85:
            r = rng.random()
            if r < 0.3:
                base = self.const("BASE_MB", str(rng.choice([128, 256, 512])))
                mem = self.const("MEMORY_MB", f"{base} * {rng.choice([2, 4, 8])}")
            elif r < 0.45:
                mem = self.const("MEMORY_MB", str(rng.choice([1024, 2048, 4096])), self.INT_TYPE)
            else:
                mem = str(rng.choice([256, 512, 1024, 2048, 4096, 8192]))
            out.append(self.option("memory_mb", mem))
        if rng.random() < 0.3:
            out.append(self.option("disk_mb", rng.choice([1024, 4096, 8192, 16384])))
        if rng.random() < 0.7:
            t = rng.choice([30, 60, 120, 300, 900, 3600])
            if rng.random() < 0.2:
                minutes = self.const("TIMEOUT_MINUTES", str(max(1, t // 60)))
                out.append(self.option("timeout_seconds", f"{minutes} * 60"))
            else:
                out.append(self.option("timeout_seconds", t))
        net, hosts = self.network("    ")
        if net is not None:
            out.append(self.option("network", net))
        secret_envs: set[str] = set()
        if hosts and rng.random() < 0.75:
            k = rng.randint(1, min(3, len(hosts)))
            entries = []
            for j, host in enumerate(rng.sample(hosts, k)):
                env = f"{pick(rng, NOUNS).upper()}_{['API_KEY', 'TOKEN', 'SECRET'][j % 3]}"
                secret_envs.add(env)
                secret_name = f"{host.split('.')[-2]}-{pick(rng, ['key', 'token', 'cred'])}-{j}"
                entries.append(self.secret_entry(env, secret_name, host))
            if len(entries) == 1:
                out.append(self.option("secrets", self.mapping(entries)))
            else:
                out.append(self.option_head("secrets") + "{")
                out += [f"{ind}{self.NEST}{e}," for e in entries]
                out.append(f"{ind}}},")
        if rng.random() < 0.5:
            vols = []
            if rng.random() < 0.7:
                mode = rng.choice(["ro", "rw", None])
                m = ", " + self.named_arg("mode", q(mode)) if mode else ""
                vols.append(f"{sdk.Volume}.local({q('./' + pick(rng, NOUNS) + 's')}, {q('/data')}{m})")
            if rng.random() < 0.7 or not vols:
                size = rng.choice([16, 64, 128, 256, 1024])
                vols.append(f"{sdk.Volume}.memory({q('/scratch')}, {self.named_arg('size_mb', size)})")
            out.append(self.option("volumes", f"[{', '.join(vols)}]"))
        if rng.random() < 0.6:
            env = {"LOG_LEVEL": pick(rng, self.LOG_LEVELS)}
            if rng.random() < 0.5:
                env["WORKERS"] = str(rng.randint(1, 8))
            if rng.random() < 0.3:
                env[self.EXTRA_ENV[0]] = pick(rng, self.EXTRA_ENV[1])
            env = {k: v for k, v in env.items() if k not in secret_envs}
            out.append(self.option("env", self.mapping([f"{self.key(k)}: {q(v)}"
                                                        for k, v in env.items()])))
        self.ports = []
        if rng.random() < 0.4:
            self.ports = sorted(rng.sample(self.PORTS, rng.randint(1, 2)))
            out.append(self.option("ports", self.ports))
        if rng.random() < 0.25:
            out.append(self.option("isolation", q("microvm")))
        if rng.random() < 0.6:
            labels = {"team": pick(rng, TEAMS)}
            if rng.random() < 0.5:
                labels["tier"] = pick(rng, ["batch", "interactive", "critical"])
            src = self.mapping([f"{self.key(k)}: {q(v)}" for k, v in labels.items()])
            out.append(self.option("labels", self.labels_src(src)))
        return out

    def class_members(self) -> list[str]:
        """The body of a class-form workload: `main`, then sometimes a warmup entrypoint, a
        migration, an `api` service and an ordinary method, spelled by the language's MEMBERS (and
        SCRIPT, the path `main` runs)."""
        rng = self.rng
        sdk_names = {"entrypoint": self.sdk.entrypoint, "service": self.sdk.service}

        def member(kind: str, **values) -> list[str]:
            return [Template(line).substitute(sdk_names, **values) for line in self.MEMBERS[kind]]

        path = Template(self.SCRIPT).substitute(verb=pick(rng, VERBS), noun=pick(rng, NOUNS))
        members = [member("main", path=path, script=q(path))]
        if rng.random() < 0.6:
            members.append(member("warmup", t=rng.choice([5, 10, 30, 60])))
        if rng.random() < 0.3:
            members.append(member("migrate"))
        if rng.random() < 0.5:
            port = self.ports[0] if self.ports else rng.choice(self.SERVICE_PORTS)
            members.append(member("api", port=port, port_src=q(str(port))))
        if rng.random() < 0.4:
            members.append(member("helper"))
        return join_members(members)

    def new_id(self, k: int) -> str:
        wid = f"{pick(self.rng, NOUNS)}-{pick(self.rng, VERBS)}-{self.file_index:06d}-{k}"
        self.ids.append(wid)
        return wid


def join_members(members: list[list[str]]) -> list[str]:
    """The members of a class body, a blank line between each two."""
    lines: list[str] = []
    for j, m in enumerate(members):
        if j:
            lines.append("")
        lines += m
    return lines


# ---------------------------------------------------------------------------------------------------
# Files


def declaration_chunks(rng: random.Random, names: Names, decls: DeclWriterBase,
                       other_form) -> list[list[str]]:
    """1-3 declarations: mostly the class form, else `other_form`."""
    n_decls = rng.choices([1, 2, 3], weights=[5, 3, 2])[0]
    return [decls.class_form(names, k) if rng.random() < 0.65 else other_form(names, k)
            for k in range(n_decls)]


def body_chunks(rng: random.Random, names: Names, ctx: dict, budget: int, special, fillers: list,
                decl_chunks: list[list[str]], gap: int) -> list[list[str]]:
    """Filler until `budget` lines are used (each chunk followed by `gap` blank lines), starting
    with `special` and sometimes repeating it, with `decl_chunks` inserted at random."""
    chunks = [special(rng, names, ctx)]
    budget -= len(chunks[-1]) + gap
    while budget > 10:  # stop early rather than overshoot: chunks are ~15 lines
        chunk = (special if rng.random() < 0.15 else pick(rng, fillers))(rng, names, ctx)
        chunks.append(chunk)
        budget -= len(chunk) + gap
    # The first special chunk defines what later ones use (Flask's or Express's `app`): keep it first.
    for c in decl_chunks:
        chunks.insert(rng.randint(1, len(chunks)), c)
    return chunks


def assemble(top: list[str], constants: list[str], constants_comment: str,
             body: list[list[str]], gap: int, footer: list[str]) -> str:
    lines = list(top)
    if constants:
        lines += ["", constants_comment]
        lines += constants
    for c in body:
        lines += [""] * gap + c
    lines += footer
    return "\n".join(lines) + "\n"
