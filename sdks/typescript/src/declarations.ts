// The declaration language (docs/declarations.md): decorators and helpers that mvmctl reads
// statically. At runtime they are inert: the decorators attach a `__mvm__` record and leave the
// class or method as it was; the helpers are frozen plain values.

/** The property the decorators set, as in the Python SDK. */
export const METADATA_PROPERTY = "__mvm__";

/** What a decorator recorded: the kind, the id or name (undefined for a workload declared without
 * an id), and exactly the options that were given, so a default can be told from a declared value. */
export interface Declaration {
  readonly kind: "workload" | "entrypoint" | "service";
  readonly name: string | undefined;
  readonly options: Readonly<Record<string, unknown>>;
}

/** An egress policy: deny everything, then allow listed hosts. Immutable: each `allow*` returns a
 * new policy, so a shared base can be extended safely. */
export class NetworkPolicy {
  /** `[protocol, host]` pairs in declaration order; protocol is `https` or `http`. */
  readonly rules: ReadonlyArray<readonly ["https" | "http", string]>;
  /** Whether DNS through mvm's pinning resolver is allowed. */
  readonly dns: boolean;

  private constructor(rules: ReadonlyArray<readonly ["https" | "http", string]>, dns: boolean) {
    this.rules = Object.freeze(rules.slice());
    this.dns = dns;
    Object.freeze(this);
  }

  /** No egress at all: the start of every policy chain. */
  static denyByDefault(): NetworkPolicy {
    return new NetworkPolicy([], false);
  }

  /** Also allows HTTPS (checked by SNI) to each host, exact or `*.suffix`. */
  allowHttps(...hosts: string[]): NetworkPolicy {
    return new NetworkPolicy([...this.rules, ...hosts.map((h) => ["https", h] as const)], this.dns);
  }

  /** Also allows plain HTTP (checked by the Host header) to each host. */
  allowHttp(...hosts: string[]): NetworkPolicy {
    return new NetworkPolicy([...this.rules, ...hosts.map((h) => ["http", h] as const)], this.dns);
  }

  /** Also allows name resolution through mvm's pinning resolver. */
  allowDns(): NetworkPolicy {
    return new NetworkPolicy(this.rules, true);
  }
}

/** A reference to a secret by name and the hosts its value may be sent to. Holds no value. */
export interface SecretRef {
  readonly kind: "secret-ref";
  readonly name: string;
  readonly hosts: readonly string[];
}

/** `SecretRef("openai-api-key", { hosts: ["api.openai.com"] })` */
export function SecretRef(name: string, options: { hosts?: readonly string[] } = {}): SecretRef {
  return Object.freeze({ kind: "secret-ref" as const, name, hosts: Object.freeze([...(options.hosts ?? [])]) });
}

/** A service of a sandbox, for `Sandbox.create(image, { services: [...] })`: what `@service`
 * declares on a method, with the same options. Options not given stay undefined: the runtime
 * applies the defaults (`"on-failure"`, at most 10 restarts). */
export interface Service {
  readonly kind: "service";
  readonly name: string;
  readonly command: readonly string[];
  readonly port?: number;
  readonly restart?: "never" | "on-failure" | "always";
  readonly maxRestarts?: number;
}

/** `Service("api", ["httpd", "-f"], { port: 8080, restart: "always", maxRestarts: 3 })` */
export function Service(name: string, command: readonly string[], options: Omit<ServiceOptions, "command"> = {}): Service {
  if (typeof command === "string" || !Array.isArray(command)) {
    throw new TypeError('a Service command is an array, e.g. ["httpd", "-f"]; a string would need a shell to split it');
  }
  return Object.freeze({
    kind: "service" as const,
    name,
    command: Object.freeze([...command]),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.restart === undefined ? {} : { restart: options.restart }),
    ...(options.maxRestarts === undefined ? {} : { maxRestarts: options.maxRestarts }),
  });
}

/** A volume of the sandbox, made with `Volume.local`, `Volume.memory`, `Volume.encrypted` or
 * `Volume.object`. `mode` and `sizeMb` are undefined when not given: the plan applies the defaults
 * (`"ro"`, 64 MiB). */
export interface Volume {
  readonly kind: "local" | "memory" | "encrypted" | "object";
  readonly target: string;
  readonly source?: string;
  readonly mode?: "ro" | "rw";
  readonly sizeMb?: number;
  readonly endpoint?: string;
  readonly credentials?: SecretRef;
}

export const Volume = Object.freeze({
  /** A host directory (relative to the project) mounted at `target`. */
  local(source: string, target: string, options: { mode?: "ro" | "rw" } = {}): Volume {
    return Object.freeze({ kind: "local" as const, source, target, ...(options.mode === undefined ? {} : { mode: options.mode }) });
  },
  /** A tmpfs of `sizeMb` MiB (default 64) mounted at `target`. */
  memory(target: string, options: { sizeMb?: number } = {}): Volume {
    return Object.freeze({ kind: "memory" as const, target, ...(options.sizeMb === undefined ? {} : { sizeMb: options.sizeMb }) });
  },
  /** The encrypted store `name` (the same name is the same store in every run), of `sizeMb` MiB, at
   * `target`. Mounted by the container backend only: a microVM refuses a workload that declares
   * one (docs/volumes.md). */
  encrypted(name: string, target: string, options: { sizeMb: number }): Volume {
    return Object.freeze({ kind: "encrypted" as const, source: name, target, sizeMb: options.sizeMb });
  },
  /** The objects under `s3://BUCKET/PREFIX` of the S3 API at `endpoint`, signed with the access keys
   * of the secret `credentials` names (`ACCESS_KEY_ID:SECRET_ACCESS_KEY`), at `target`. API-only: no
   * sandbox mounts it, `mvmctl run` refuses a workload that declares one, and `mvmctl fs
   * s3://BUCKET/PREFIX` reaches its files (docs/volumes.md). */
  object(
    url: string,
    target: string,
    options: { endpoint: string; credentials: SecretRef; mode?: "ro" | "rw" },
  ): Volume {
    const credentials: unknown = options.credentials;
    if (typeof credentials !== "object" || credentials === null || (credentials as SecretRef).kind !== "secret-ref") {
      // Never echo it: a string here is most likely the key itself.
      throw new TypeError(
        `Volume.object credentials must be SecretRef(name) naming a secret of the host store, never the keys themselves (got a ${typeof credentials})`,
      );
    }
    return Object.freeze({
      kind: "object" as const,
      source: url,
      target,
      endpoint: options.endpoint,
      credentials: options.credentials,
      ...(options.mode === undefined ? {} : { mode: options.mode }),
    });
  },
});

/** A root filesystem mvm builds itself, made with `Image.debian`; given as `image` where a
 * reference string (`"template:python-3.11"`) would go. */
export interface Image {
  readonly kind: "debian";
  readonly suite: string;
  readonly packages: readonly string[];
}

export const Image = Object.freeze({
  /** Debian `suite` (minbase; default `bookworm`) plus the binary `packages` and their
   * dependencies, built with mmdebstrap and pinned by the resolved package set's digest
   * (docs/packages.md). */
  debian(options: { packages: readonly string[]; suite?: string }): Image {
    const packages: unknown = options.packages;
    if (!Array.isArray(packages)) {
      throw new TypeError(`Image.debian packages must be an array of package names, got ${typeof packages}`);
    }
    return Object.freeze({ kind: "debian" as const, suite: options.suite ?? "bookworm", packages: Object.freeze([...packages]) });
  },
});

/** The options of `@workload` and `Sandbox.create`, camelCase as in docs/declarations.md. */
export interface WorkloadOptions {
  cpu?: number;
  memoryMb?: number;
  diskMb?: number;
  timeoutSeconds?: number;
  network?: NetworkPolicy;
  secrets?: Readonly<Record<string, SecretRef>>;
  volumes?: readonly Volume[];
  env?: Readonly<Record<string, string>>;
  ports?: readonly number[];
  isolation?: "microvm" | "container";
  labels?: Readonly<Record<string, string>>;
  /** Project files shipped to /app: gitignore-syntax patterns, `!` excludes (docs/declarations.md). */
  files?: readonly string[];
}

export interface WorkloadDeclaration extends WorkloadOptions {
  image: string | Image;
}

export interface EntrypointOptions {
  command: readonly string[];
  timeoutSeconds?: number;
}

export interface ServiceOptions {
  command: readonly string[];
  /** The guest port it listens on; `mvmctl up` publishes it on the host's 127.0.0.1. */
  port?: number;
  /** When the agent starts it again after it ends (default `"on-failure"`). */
  restart?: "never" | "on-failure" | "always";
  /** Restarts at most (default 10), with a backoff doubling from 250 ms to 8 s. */
  maxRestarts?: number;
}

type AnyClass = abstract new (...args: never[]) => unknown;
// `any` parameters: ClassMethodDecoratorContext constrains methods with them, so nothing narrower fits.
type AnyMethod = (this: unknown, ...args: any) => unknown;

function mark(target: object, declaration: Declaration): void {
  Object.defineProperty(target, METADATA_PROPERTY, { value: Object.freeze(declaration), configurable: true });
}

function split(first: string | object, second: object | undefined, nameKey: string): { name: string | undefined; options: Record<string, unknown> } {
  if (typeof first === "string") {
    return { name: first, options: { ...(second ?? {}) } };
  }
  const { [nameKey]: name, ...options } = first as Record<string, unknown>;
  if (name !== undefined && typeof name !== "string") {
    throw new TypeError(`${nameKey} must be a string, got ${typeof name}`);
  }
  return { name, options };
}

/** Declares a workload on a class whose methods carry `@entrypoint` / `@service`:
 * `@workload("agent-tool", { image: "template:python-3.11" })` or `@workload({ id: "agent-tool", image: … })`.
 * The class is left unchanged. */
export function workload(id: string, options: WorkloadDeclaration): <C extends AnyClass>(value: C, context: ClassDecoratorContext<C>) => void;
export function workload(options: WorkloadDeclaration & { id: string }): <C extends AnyClass>(value: C, context: ClassDecoratorContext<C>) => void;
export function workload(first: string | (WorkloadDeclaration & { id: string }), second?: WorkloadDeclaration) {
  const { name, options } = split(first, second, "id");
  return <C extends AnyClass>(value: C, _context: ClassDecoratorContext<C>): void => {
    mark(value, { kind: "workload", name, options });
  };
}

function member(kind: "entrypoint" | "service", first: string | object, second: object | undefined) {
  const { name, options } = split(first, second, "name");
  return <M extends AnyMethod>(value: M, context: ClassMethodDecoratorContext<unknown, M>): void => {
    // An entrypoint's or service's name defaults to the method's.
    mark(value, { kind, name: name ?? String(context.name), options });
  };
}

/** Declares a method as an entrypoint (a command run to completion):
 * `@entrypoint({ command: ["node", "/app/main.js"] })`, `@entrypoint("warmup", { command: […], timeoutSeconds: 5 })`. */
export function entrypoint(name: string, options: EntrypointOptions): <M extends AnyMethod>(value: M, context: ClassMethodDecoratorContext<unknown, M>) => void;
export function entrypoint(options: EntrypointOptions & { name?: string }): <M extends AnyMethod>(value: M, context: ClassMethodDecoratorContext<unknown, M>) => void;
export function entrypoint(first: string | (EntrypointOptions & { name?: string }), second?: EntrypointOptions) {
  return member("entrypoint", first, second);
}

/** Declares a method as a service (a long-running process, usually listening on `port`). */
export function service(name: string, options: ServiceOptions): <M extends AnyMethod>(value: M, context: ClassMethodDecoratorContext<unknown, M>) => void;
export function service(options: ServiceOptions & { name?: string }): <M extends AnyMethod>(value: M, context: ClassMethodDecoratorContext<unknown, M>) => void;
export function service(first: string | (ServiceOptions & { name?: string }), second?: ServiceOptions) {
  return member("service", first, second);
}

/** The declaration a decorator attached to `target`, if any. */
export function declarationOf(target: unknown): Declaration | undefined {
  if ((typeof target !== "object" && typeof target !== "function") || target === null) {
    return undefined;
  }
  return (target as Record<string, Declaration | undefined>)[METADATA_PROPERTY];
}
