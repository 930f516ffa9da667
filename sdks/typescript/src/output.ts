// Reading what `mvmctl ... --format=json` prints. Its answers carry bytes from inside the sandbox (file
// names, command output) and come from a process the SDK did not write, so nothing here trusts their
// shape: every way one can be wrong (not JSON, not UTF-8, a missing field, a field of the wrong type)
// is a SandboxError that says what was wrong, never a bare SyntaxError or TypeError. The text forms
// mvmctl prints for people are never parsed.

import { SandboxError } from "./errors.js";

/** The `type` values of a listing entry. */
export const FILE_TYPES = ["file", "dir", "symlink", "other"] as const;
export type FileType = (typeof FILE_TYPES)[number];

export type JsonObject = { [key: string]: unknown };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function excerpt(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length <= 200 ? text : `${text.slice(0, 200)}…`;
}

/** `data` (bytes or text) as one JSON object, or a SandboxError naming `what` printed it. */
export function parseObject(what: string, data: Uint8Array | string): JsonObject {
  let value: unknown;
  let text = "";
  try {
    text = typeof data === "string" ? data : strictUtf8.decode(data);
    value = JSON.parse(text);
  } catch (e) {
    const shown = text !== "" ? text : new TextDecoder("utf-8").decode(data as Uint8Array);
    throw new SandboxError(`${what} printed ${excerpt(shown)}, which is not the JSON it promises (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SandboxError(`${what} printed JSON that is not an object: ${excerpt(text)}`);
  }
  return value as JsonObject;
}

type Kind = "string" | "integer" | "boolean";
type KindType<K extends Kind> = K extends "string" ? string : K extends "integer" ? number : boolean;

// An "integer" above 2^53 (a sparse file's size can be) is kept, as the nearest double.
function isKind(value: unknown, kind: Kind): boolean {
  return kind === "integer" ? Number.isInteger(value) : typeof value === kind;
}

/** `obj[key]`, which must be of `kind`; a SandboxError when it is absent (or null) or not. */
export function field<K extends Kind>(what: string, obj: JsonObject, key: string, kind: K): KindType<K> {
  const value = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
  if (value === undefined || value === null) {
    throw new SandboxError(`${what} printed an answer without \`${key}\`: ${excerpt(obj)}`);
  }
  if (!isKind(value, kind)) {
    throw new SandboxError(`${what} printed an answer whose \`${key}\` is ${excerpt(value)}, not ${kind === "integer" ? "an integer" : `a ${kind}`}`);
  }
  return value as KindType<K>;
}

/** `obj[key]` as `field` reads it, or undefined when it is absent (or null). */
export function optionalField<K extends Kind>(what: string, obj: JsonObject, key: string, kind: K): KindType<K> | undefined {
  const value = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
  return value === undefined || value === null ? undefined : field(what, obj, key, kind);
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard padded base64 (RFC 4648 §4), strictly; undefined for anything else. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    return undefined;
  }
  const body = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let count = 0;
  let at = 0;
  for (const c of body) {
    bits = (bits << 6) | BASE64.indexOf(c);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out[at++] = (bits >> count) & 0xff;
    }
  }
  return out;
}

export interface ListedEntry {
  name: string;
  nameBytes: Uint8Array;
  type: FileType;
  mode: number;
  size: number;
}

const encoder = new TextEncoder();
const lenientUtf8 = new TextDecoder("utf-8");

/** The entries of `mvmctl fs NAME ls PATH --format=json`. A name that is not UTF-8 comes with its
 * bytes in `name_base64`: `nameBytes` holds them, `name` them decoded with U+FFFD for the rest. */
export function listing(what: string, data: Uint8Array | string): ListedEntry[] {
  const doc = parseObject(what, data);
  const entries = doc["entries"];
  if (!Array.isArray(entries)) {
    throw new SandboxError(`${what} printed JSON without an \`entries\` list: ${excerpt(doc)}`);
  }
  return entries.map((entry: unknown): ListedEntry => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new SandboxError(`${what} printed an entry that is not an object: ${excerpt(entry)}`);
    }
    const e = entry as JsonObject;
    let name = field(what, e, "name", "string");
    let nameBytes = encoder.encode(name);
    const encoded = optionalField(what, e, "name_base64", "string");
    if (encoded !== undefined) {
      const bytes = decodeBase64(encoded);
      if (bytes === undefined) {
        throw new SandboxError(`${what} printed an entry whose \`name_base64\` is not base64: ${excerpt(encoded)}`);
      }
      nameBytes = bytes;
      name = lenientUtf8.decode(bytes);
    }
    if (nameBytes.length === 0 || nameBytes.includes(0x2f) || nameBytes.includes(0) || name === "." || name === "..") {
      throw new SandboxError(`${what} printed ${excerpt(name)}, which is not a file name`);
    }
    const type = field(what, e, "type", "string");
    if (!(FILE_TYPES as readonly string[]).includes(type)) {
      throw new SandboxError(`${what} printed an entry of type ${excerpt(type)}; expected one of ${FILE_TYPES.join(", ")}`);
    }
    const mode = field(what, e, "mode", "integer");
    const size = field(what, e, "size", "integer");
    if (mode < 0 || mode > 0o7777 || size < 0) {
      throw new SandboxError(`${what} printed an entry with mode ${mode} and size ${size}, which no file has`);
    }
    return { name, nameBytes, type: type as FileType, mode, size };
  });
}

export interface ListedPort {
  guest: number;
  host: number;
  address: string;
}

function objects(what: string, entry: JsonObject, key: string, noun: string): JsonObject[] {
  const value = Object.prototype.hasOwnProperty.call(entry, key) ? entry[key] : undefined;
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw new SandboxError(`${what} printed \`${key}\` that is not a list: ${excerpt(value)}`);
  }
  return value.map((item: unknown) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new SandboxError(`${what} printed a ${noun} that is not an object: ${excerpt(item)}`);
    }
    return item as JsonObject;
  });
}

/** A TCP port, 1-65535, or a SandboxError naming `what`. */
export function portNumber(what: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) {
    throw new SandboxError(`${what}: ${excerpt(value)} is not a TCP port (1-65535)`);
  }
  return value as number;
}

/** A `ps` entry's `ports`. */
export function ports(what: string, entry: JsonObject): ListedPort[] {
  return objects(what, entry, "ports", "port").map((p) => ({
    guest: portNumber(what, field(what, p, "guest", "integer")),
    host: portNumber(what, field(what, p, "host", "integer")),
    address: field(what, p, "address", "string"),
  }));
}

/** The `phase` values of a service (`unknown`: its agent could not be asked). */
export const SERVICE_PHASES = ["running", "backoff", "exited", "failed", "unknown"] as const;
export type ServicePhase = (typeof SERVICE_PHASES)[number];

export interface ListedService {
  name: string;
  restart: string;
  phase: ServicePhase;
  restarts: number;
  pid: number;
  exitCode?: number;
  signal?: number;
}

/** A `ps` entry's `services`. */
export function services(what: string, entry: JsonObject): ListedService[] {
  return objects(what, entry, "services", "service").map((s) => {
    const phase = optionalField(what, s, "phase", "string") ?? "unknown";
    if (!(SERVICE_PHASES as readonly string[]).includes(phase)) {
      throw new SandboxError(`${what} printed a service in phase ${excerpt(phase)}; expected one of ${SERVICE_PHASES.join(", ")}`);
    }
    const restarts = optionalField(what, s, "restarts", "integer") ?? 0;
    const pid = optionalField(what, s, "pid", "integer") ?? 0;
    if (restarts < 0 || pid < 0) {
      throw new SandboxError(`${what} printed a service with ${restarts} restarts and pid ${pid}`);
    }
    const exitCode = optionalField(what, s, "exit_code", "integer");
    const signal = optionalField(what, s, "signal", "integer");
    return {
      name: field(what, s, "name", "string"),
      restart: field(what, s, "restart", "string"),
      phase: phase as ServicePhase,
      restarts,
      pid,
      ...(exitCode === undefined ? {} : { exitCode }),
      ...(signal === undefined ? {} : { signal }),
    };
  });
}
