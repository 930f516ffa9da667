"""Ordinary code ("filler") for both languages: every chunk returns a list of lines at module level.
The Python and TypeScript chunks are kept side by side so that each language's files read like the
other's: the same kinds of functions, classes and comments, in each language's idiom."""
from __future__ import annotations

import random
import re

from .common import ADJECTIVES, NOUNS, TLDS, VERBS, Names, camel, lower_camel, pick, q

# ---------------------------------------------------------------------------------------------------
# Python


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
# TypeScript


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
