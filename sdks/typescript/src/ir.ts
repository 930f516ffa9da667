// Workload IR (docs/architecture/ir.md) from `Sandbox.create` options, the way the compiler lowers the
// equivalent `@workload` declaration, so record mode and a static compile agree byte for byte once
// `source` is set aside. Values are checked for type only; ranges, ids and image references are
// the compiler's to check, with its diagnostics, when the IR is compiled.

import { createHash } from "node:crypto";

import type { Json } from "./canonical.js";
import { type Image, NetworkPolicy, type SecretRef, type Service, type Volume, type WorkloadOptions } from "./declarations.js";

export const SCHEMA_VERSION = "mvm.ir/v1";

type Obj = { [key: string]: Json };

function int(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${what} must be an integer, got ${typeof value} ${String(value)}`);
  }
  if (value < -(2 ** 31) || value > 2 ** 31 - 1) {
    throw new RangeError(`${what} = ${value} does not fit a 32-bit IR integer`);
  }
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`${what} must be a string, got ${typeof value}`);
  }
  return value;
}

function strList(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`${what} must be an array of strings, got ${typeof value}`);
  }
  return value.map((v: unknown, i: number) => str(v, `${what}[${i}]`));
}

function strMap(value: unknown, what: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object of strings, got ${typeof value}`);
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = str(v, `${what}[${JSON.stringify(k)}]`);
  }
  return out;
}

const encoder = new TextEncoder();

/** Byte-wise UTF-8 order, as the compiler's normalize pass sorts. */
function byUtf8(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); ++i) {
    if (x[i] !== y[i]) {
      return (x[i] as number) - (y[i] as number);
    }
  }
  return x.length - y.length;
}

/** ASCII only, like the compiler's normalize pass: hosts are ASCII (IDNA) names. */
function lowerHost(host: string): string {
  return host.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Proto3 leaves a plain (non-optional) field out of JSON when it holds its default, so "" and 0
 * are absent, exactly as the compiler writes them. */
function set(out: Obj, key: string, value: string | number): void {
  if (value !== "" && value !== 0) {
    out[key] = value;
  }
}

export function image(value: string | Image): Obj {
  if (typeof value === "object" && value !== null && value.kind === "debian") {
    const built: Obj = {};
    set(built, "kind", "debian");
    set(built, "ref", str(value.suite, "Image.debian suite"));
    const packages = value.packages.map((p, i) => str(p, `Image.debian packages[${i}]`));
    if (packages.length > 0) {
      built["packages"] = packages;
    }
    return built;
  }
  const text = str(value, "image");
  const out: Obj = {};
  const colon = text.indexOf(":");
  if (colon < 0) {
    set(out, "ref", text); // the compiler reports the missing kind
    return out;
  }
  const kind = text.slice(0, colon);
  const ref = text.slice(colon + 1);
  set(out, "kind", kind);
  set(out, "ref", ref);
  const at = ref.indexOf("@");
  if (kind === "oci" && at >= 0) {
    set(out, "digest", ref.slice(at + 1));
  }
  return out;
}

function network(policy: unknown): Obj {
  if (!(policy instanceof NetworkPolicy)) {
    throw new TypeError('network must be a NetworkPolicy chain such as NetworkPolicy.denyByDefault().allowHttps("api.example.com")');
  }
  const rules = new Map<string, { host: string; protocol: string }>();
  for (const [protocol, h] of policy.rules) {
    const host = lowerHost(str(h, `the host of an allow rule`));
    const key = JSON.stringify([host, protocol]);
    if (!rules.has(key)) {
      rules.set(key, { host, protocol });
    }
  }
  const sorted = [...rules.values()].sort((a, b) => byUtf8(a.host, b.host) || byUtf8(a.protocol, b.protocol));
  const out: Obj = { default: "deny" };
  if (policy.dns) {
    out["dns"] = true;
  }
  if (sorted.length > 0) {
    out["rules"] = sorted.map((r) => ({ protocol: r.protocol, host: r.host }));
  }
  return out;
}

function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "secret-ref";
}

function secrets(value: unknown): Json[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("secrets must be an object of environment names to SecretRef(...)");
  }
  const out: Obj[] = [];
  for (const [env, ref] of Object.entries(value)) {
    if (!isSecretRef(ref)) {
      // Never echo the value: it may be the secret itself.
      throw new TypeError(
        `secrets[${JSON.stringify(env)}] must be SecretRef(name, { hosts: [...] }), not a ${typeof ref} (the value is not shown); ` +
          "secret values stay in the secret store and never enter a plan",
      );
    }
    const secret: Obj = {};
    set(secret, "env", env);
    set(secret, "name", str(ref.name, `secrets[${JSON.stringify(env)}].name`));
    const hosts = [...new Set(strList([...ref.hosts], `secrets[${JSON.stringify(env)}].hosts`).map(lowerHost))].sort(byUtf8);
    if (hosts.length > 0) {
      secret["hosts"] = hosts;
    }
    out.push(secret);
  }
  return out.sort((a, b) => byUtf8((a["env"] ?? "") as string, (b["env"] ?? "") as string));
}

function volumes(value: unknown): Json[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      "volumes must be an array of Volume.local(...), Volume.memory(...), Volume.encrypted(...) or Volume.object(...)",
    );
  }
  return value.map((v: Volume, i: number) => {
    if (typeof v !== "object" || v === null || !["local", "memory", "encrypted", "object"].includes(v.kind)) {
      throw new TypeError(
        `volumes[${i}] must be Volume.local(...), Volume.memory(...), Volume.encrypted(...) or Volume.object(...)`,
      );
    }
    const out: Obj = {};
    set(out, "kind", v.kind);
    if (v.source !== undefined) {
      set(out, "source", str(v.source, `volumes[${i}].source`));
    }
    set(out, "target", str(v.target, `volumes[${i}].target`));
    if (v.mode !== undefined) {
      set(out, "mode", str(v.mode, `volumes[${i}].mode`));
    }
    if (v.sizeMb !== undefined) {
      out["size_mb"] = int(v.sizeMb, `volumes[${i}].sizeMb`);
    }
    if (v.endpoint !== undefined) {
      set(out, "endpoint", str(v.endpoint, `volumes[${i}].endpoint`));
    }
    if (v.credentials !== undefined) {
      const ref: unknown = v.credentials;
      if (!isSecretRef(ref)) {
        throw new TypeError(`volumes[${i}].credentials must be SecretRef(name), never the keys`);
      }
      if (ref.hosts.length > 0) {
        throw new TypeError(
          `volumes[${i}].credentials names hosts; an object volume's credentials only sign requests to its endpoint, so leave out hosts`,
        );
      }
      set(out, "credentials", str(ref.name, `volumes[${i}].credentials.name`));
    }
    return out;
  });
}

/** The workload of `Sandbox.create(imageRef, { workloadId, ...options })`, without entrypoints,
 * files or source (the recorder adds those as they happen). */
export function workload(imageRef: string | Image, workloadId: string, o: WorkloadOptions): Obj {
  const w: Obj = { id: str(workloadId, "workloadId") };
  const img = image(imageRef);
  if (Object.keys(img).length > 0) {
    w["image"] = img;
  }
  const resources: Obj = {};
  for (const [key, ir] of [
    ["cpu", "cpu"],
    ["memoryMb", "memory_mb"],
    ["diskMb", "disk_mb"],
  ] as const) {
    if (o[key] !== undefined) {
      resources[ir] = int(o[key], key);
    }
  }
  if (Object.keys(resources).length > 0) {
    w["resources"] = resources;
  }
  if (o.timeoutSeconds !== undefined) {
    w["timeout_seconds"] = int(o.timeoutSeconds, "timeoutSeconds");
  }
  if (o.isolation !== undefined) {
    set(w, "isolation", str(o.isolation, "isolation"));
  }
  if (o.network !== undefined) {
    w["network"] = network(o.network);
  }
  if (o.secrets !== undefined && Object.keys(o.secrets).length > 0) {
    w["secrets"] = secrets(o.secrets);
  }
  if (o.volumes !== undefined && o.volumes.length > 0) {
    w["volumes"] = volumes(o.volumes);
  }
  for (const key of ["env", "labels"] as const) {
    const map = o[key];
    if (map !== undefined && Object.keys(map).length > 0) {
      w[key] = strMap(map, key);
    }
  }
  if (o.ports !== undefined && o.ports.length > 0) {
    if (!Array.isArray(o.ports)) {
      throw new TypeError("ports must be an array of integers");
    }
    w["ports"] = o.ports.map((p: unknown, i: number) => int(p, `ports[${i}]`));
  }
  if (o.files !== undefined) {
    // The patterns only: the compiler resolves them against the project when it makes the plan.
    w["file_set"] = { patterns: strList(o.files, "files") };
  }
  return w;
}

/** `services: [Service(...)]` as the frontend lowers `@service` methods, in the given order. */
export function services(value: unknown): Obj[] {
  if (!Array.isArray(value)) {
    throw new TypeError("services must be an array of Service(name, command, ...)");
  }
  return value.map((svc: unknown, i: number): Obj => {
    if (typeof svc !== "object" || svc === null || (svc as Service).kind !== "service") {
      throw new TypeError(`services[${i}] must be Service(name, command, ...), got ${typeof svc}`);
    }
    const s = svc as Service;
    const out: Obj = {};
    set(out, "name", str(s.name, `services[${i}].name`));
    const command = strList(s.command, `services[${i}].command`);
    if (command.length === 0) {
      throw new RangeError(`services[${i}] (${JSON.stringify(s.name)}) has an empty command: give the program and its arguments as an array`);
    }
    out["command"] = command;
    // `port` and `max_restarts` are proto3 optional: a declared 0 is written, as the frontend writes it.
    if (s.port !== undefined) {
      out["port"] = int(s.port, `services[${i}].port`);
    }
    if (s.restart !== undefined) {
      set(out, "restart", str(s.restart, `services[${i}].restart`));
    }
    if (s.maxRestarts !== undefined) {
      out["max_restarts"] = int(s.maxRestarts, `services[${i}].maxRestarts`);
    }
    return out;
  });
}

export function entrypoint(name: string, argv: unknown, timeoutSeconds: number | undefined): Obj {
  const command = strList(argv, "the command");
  if (command.length === 0) {
    throw new RangeError('the command is empty: give the program and its arguments as an array, e.g. ["node", "/app/main.js"]');
  }
  const e: Obj = { name, command };
  if (timeoutSeconds !== undefined) {
    e["timeout_seconds"] = int(timeoutSeconds, "timeoutSeconds");
  }
  return e;
}

export function fileEntry(path: string, content: Uint8Array): Obj {
  const out: Obj = {};
  set(out, "path", path);
  out["sha256"] = createHash("sha256").update(content).digest("hex");
  set(out, "size", int(content.length, `the size of ${path}`));
  return out;
}

export function module(workloads: readonly Json[]): Obj {
  const out: Obj = { schema_version: SCHEMA_VERSION };
  if (workloads.length > 0) {
    out["workloads"] = [...workloads];
  }
  return out;
}

function noLoc(part: Json): Json {
  if (typeof part !== "object" || part === null || Array.isArray(part)) {
    return part;
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(part)) {
    if (k !== "loc") {
      out[k] = v;
    }
  }
  return out;
}

/** A copy of an IR module without its source locations (each workload's `source` and the `loc` of
 * its parts): what the IR digest covers. Goes by position, not by name: a volume's `source` is a
 * host path, and `env` may well hold a variable called `loc`. */
export function withoutLocations(value: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    if (k !== "workloads") {
      out[k] = v;
    }
  }
  const workloads = ((value["workloads"] ?? []) as Obj[]).map((w0) => {
    const w: Obj = {};
    for (const [k, v] of Object.entries(w0)) {
      if (k !== "source") {
        w[k] = v;
      }
    }
    const net = w["network"];
    if (typeof net === "object" && net !== null && !Array.isArray(net)) {
      const n = noLoc(net) as Obj;
      if (Array.isArray(n["rules"])) {
        n["rules"] = (n["rules"] as Json[]).map(noLoc);
      }
      w["network"] = n;
    }
    for (const key of ["secrets", "volumes", "entrypoints", "services"]) {
      const list = w[key];
      if (Array.isArray(list)) {
        w[key] = list.map(noLoc);
      }
    }
    return w;
  });
  if (workloads.length > 0) {
    out["workloads"] = workloads;
  }
  return out;
}
