// VolumeFiles: the files of an API-only volume, reached without a sandbox (docs/volumes.md): an
// object volume (`s3://BUCKET/PREFIX` at an S3 endpoint, its keys the host secret a SecretRef names)
// or the API-only encrypted store NAME (files sealed one by one under the state dir, its key the
// host secret `volume-NAME`). Every call runs `mvmctl fs` on the volume, which audits it. Content
// travels on mvmctl's stdin and stdout, never its command line, and no secret value passes through
// here: only the secret's name.

import type { SecretRef } from "./declarations.js";
import { SandboxError } from "./errors.js";
import * as output from "./output.js";
import { findMvmctl, runProcess } from "./sandbox.js";

/** One entry of a volume: volumes keep no modes. */
export interface VolumeEntry {
  name: string;
  type: "file" | "dir" | "other";
  size: number;
}

export interface VolumeFilesOptions {
  /** mvmctl's state directory (default MVM_STATE_DIR or mvmctl's own) */
  stateDir?: string;
  /** mvmctl (default MVM_MVMCTL or PATH) */
  mvmctl?: string;
  /** How long one call may take (default 600 s). */
  timeoutSeconds?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

function volumeEntry(what: string, entry: unknown, root = false): VolumeEntry {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw new SandboxError(`${what} printed an entry that is not an object`);
  }
  const e = entry as output.JsonObject;
  const name = output.field(what, e, "name", "string");
  if (!(root && name === "") && (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0"))) {
    throw new SandboxError(`${what} printed ${JSON.stringify(name)}, which is not a file name`);
  }
  const type = output.field(what, e, "type", "string");
  if (type !== "file" && type !== "dir" && type !== "other") {
    throw new SandboxError(`${what} printed an entry of type ${JSON.stringify(type)}; expected file, dir or other`);
  }
  const size = output.field(what, e, "size", "integer");
  if (!Number.isInteger(size) || size < 0) {
    throw new SandboxError(`${what} printed an entry of size ${size}, which no file has`);
  }
  return { name, type, size };
}

function volumePath(path: string): string {
  if (typeof path !== "string") {
    throw new TypeError(`a volume path must be a string, got ${JSON.stringify(path)}`);
  }
  if (path.startsWith("-")) {
    throw new RangeError(`volume path ${JSON.stringify(path)} starts with '-'; write it as ./${path}`);
  }
  return path === "" ? "/" : path;
}

/** Files of one API-only volume. Paths are relative to the volume's root ("" or "/" is the root);
 * the volume refuses `..`, absolute paths and symlinks. */
export class VolumeFiles {
  private readonly mvmctl: string;

  private constructor(
    private readonly address: string,
    private readonly extra: string[],
    private readonly options: VolumeFilesOptions,
  ) {
    this.mvmctl = findMvmctl(options.mvmctl);
  }

  /** The objects under `url` (`s3://BUCKET/PREFIX`) at `endpoint`, signed with the keys of the
   * host secret `credentials` names (`ACCESS_KEY_ID:SECRET_ACCESS_KEY`). */
  static object(url: string, settings: { endpoint: string; credentials: SecretRef; region?: string }, options: VolumeFilesOptions = {}): VolumeFiles {
    if (typeof url !== "string" || !url.startsWith("s3://")) {
      throw new RangeError(`an object volume's URL is s3://BUCKET/PREFIX, got ${JSON.stringify(url)}`);
    }
    const credentials = settings.credentials as unknown;
    if (typeof credentials !== "object" || credentials === null || (credentials as { kind?: unknown }).kind !== "secret-ref") {
      // Never echo it: a string here is most likely the keys themselves.
      throw new TypeError("VolumeFiles.object credentials must be SecretRef(name) naming a secret of the host store, never the keys themselves");
    }
    const extra = ["--endpoint", settings.endpoint, "--credentials", settings.credentials.name];
    if (settings.region) {
      extra.push("--region", settings.region);
    }
    return new VolumeFiles(url, extra, options);
  }

  /** The API-only encrypted store `name` (made on first write). It is not the store a
   * `Volume.encrypted` declaration mounts: each format refuses a name the other holds. */
  static encrypted(name: string, options: VolumeFilesOptions = {}): VolumeFiles {
    if (typeof name !== "string" || name === "" || name.startsWith("-")) {
      throw new RangeError(`an encrypted store's name is letters, digits, '.', '_' and '-', got ${JSON.stringify(name)}`);
    }
    return new VolumeFiles(`encrypted:${name}`, [], options);
  }

  /** Replaces `path` with `content` (a string as UTF-8), whole or not at all. */
  async write(path: string, content: string | Uint8Array): Promise<void> {
    const data = typeof content === "string" ? encoder.encode(content) : content;
    await this.run(`writing ${path}`, ["write", volumePath(path)], data);
  }

  async readBytes(path: string): Promise<Uint8Array> {
    return this.run(`reading ${path}`, ["read", volumePath(path)]);
  }

  /** The file's content as text (UTF-8; undecodable bytes replaced). */
  async read(path: string): Promise<string> {
    return decoder.decode(await this.readBytes(path));
  }

  async list(path = "/"): Promise<VolumeEntry[]> {
    const what = "mvmctl fs ls --format=json";
    const doc = output.parseObject(what, await this.run(`listing ${path}`, ["ls", volumePath(path), "--format=json"]));
    const entries = doc["entries"];
    if (!Array.isArray(entries)) {
      throw new SandboxError(`${what} printed JSON without an \`entries\` list`);
    }
    return entries.map((e) => volumeEntry(what, e));
  }

  async stat(path: string): Promise<VolumeEntry> {
    const what = "mvmctl fs stat --format=json";
    const at = volumePath(path);
    return volumeEntry(what, output.parseObject(what, await this.run(`looking up ${path}`, ["stat", at, "--format=json"])), at === "/" || at === ".");
  }

  async remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.run(`removing ${path}`, ["rm", volumePath(path), ...(options.recursive ? ["-r"] : [])]);
  }

  /** Renames `source` to `destination`, replacing it. Not atomic on every backend (docs/volumes.md):
   * an object volume copies, then deletes. */
  async rename(source: string, destination: string): Promise<void> {
    await this.run(`renaming ${source}`, ["mv", volumePath(source), volumePath(destination)]);
  }

  private async run(what: string, rest: string[], input?: Uint8Array): Promise<Uint8Array> {
    const argv = [this.mvmctl, "fs", ...(this.options.stateDir ? ["--state-dir", this.options.stateDir] : []), this.address, ...rest, ...this.extra];
    const ran = await runProcess(argv, input, (this.options.timeoutSeconds ?? 600) * 1000);
    if (ran.code !== 0) {
      const lines = ran.stderr.split("\n").filter((l) => l.trim() !== "");
      const reason = lines.length > 0 ? (lines[lines.length - 1] as string).trim() : `mvmctl exited with status ${ran.code}`;
      throw new SandboxError(`${what} in volume ${this.address} failed: ${reason}`, { exitCode: ran.code ?? undefined, stderr: ran.stderr });
    }
    return ran.stdout;
  }
}
