// `Sandbox`: the runtime surface of the SDK (docs/sdk.md), the same operations as the Python
// SDK, camelCase and async.
//
// Two modes, chosen by MVM_SDK_MODE when a sandbox is created:
// - `live` (the default) drives mvmctl: create runs `mvmctl up`, commands.run runs
//   `mvmctl exec --format=json`, files.* run `mvmctl fs` (files.list: `ls --format=json`),
//   services.list and ports read `mvmctl ps --format=json`, services.logs runs
//   `mvmctl logs --service`, and so on.
//   Only mvmctl's JSON is parsed, never its text for people, and an answer of the wrong shape is a
//   SandboxError (output.ts). A sandbox dies with the process that created it unless it was created
//   with `detach: true`.
// - `record` launches nothing: it records what the script does and, at exit or `stop()`, writes the
//   Workload IR the equivalent `@workload` declaration compiles to (to MVM_RECORD_OUT, or stdout).
//
// Secret values never pass through here: secrets are SecretRef names, file content goes to
// `mvmctl fs write` on stdin, never on a command line, and nothing is logged.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { canonicalJson, type Json } from "./canonical.js";
import type { Image, Service, WorkloadOptions } from "./declarations.js";
import { SandboxError, TimeoutError, VerificationError } from "./errors.js";
import * as ir from "./ir.js";
import * as output from "./output.js";
import { concat, runOnTerminal } from "./terminal.js";

/** The id a sandbox's workload gets when `workloadId` is not given. */
export const DEFAULT_WORKLOAD_ID = "sandbox";

/** The entrypoint a live sandbox's plan carries. `up` starts the sandbox idle and runs nothing from
 * the plan, but a plan needs an entrypoint (`no-entrypoint`); this one says what the sandbox does
 * between commands: wait, until its own timeout. */
export const LIVE_ENTRYPOINT = Object.freeze({ name: "sdk-session", command: Object.freeze(["sleep", "86400"]) });

/** How long `create` waits for `mvmctl up`: building the python-3.11 template the first time takes
 * about a minute. */
export const DEFAULT_CREATE_TIMEOUT_SECONDS = 600;

export interface SandboxOptions extends WorkloadOptions {
  workloadId?: string;
  /** The sandbox's services, what `@service` methods declare: `[Service("api", [...], { port })]`. */
  services?: readonly Service[];
  /** Live mode: host ports for guest ports (`up --publish GUEST:HOST`); the others get ephemeral
   * ones. */
  publish?: Readonly<Record<number, number>>;
  /** Live mode: the sandbox's name (default `<workload id>-<6 hex digits>`). */
  name?: string;
  /** Live mode: let the sandbox outlive this process (stop it with `mvmctl stop NAME`). */
  detach?: boolean;
  /** Live mode: mvmctl's state directory (default MVM_STATE_DIR, else mvmctl's own default). */
  stateDir?: string;
  /** Live mode: the mvmctl binary (default MVM_MVMCTL, else `mvmctl` on PATH). */
  mvmctl?: string;
  /** Live mode: mvmctl's `--backend`: "container" (the default) or "qemu-microvm". */
  backend?: string;
  createTimeoutSeconds?: number;
}

export interface SnapshotOptions {
  /** A qemu-microvm sandbox's whole memory and device state, not only its files. */
  full?: boolean;
  /** The snapshot's label (default: the UTC time). */
  label?: string;
}

export interface CommandOptions {
  timeoutSeconds?: number;
  cwd?: string;
  /** Run on a terminal (`mvmctl exec -it` on a pseudo-terminal util-linux `script` opens; `run`
   * only): for programs that behave differently on one. The result's `stdout` is then everything
   * the terminal showed (stderr, the terminal's echo and `\r\n` line ends included) and `stderr`
   * is empty; `exitCode` is mvmctl's (the command's own; 124 on timeout). */
  tty?: boolean;
  /** The terminal's size (default 24 x 80). */
  rows?: number;
  cols?: number;
  /** Typed at the terminal once it is ready (Enter is `"\r"`), which may be before the command
   * runs: a line waits for the command to read it, but a ^C typed then reaches no command; `tty`
   * only. */
  input?: string | Uint8Array;
}

/** What a command printed and how it ended. In record mode nothing runs: the result is empty with
 * exit code 0 and `recorded` set. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
  readonly auditId?: string;
  /** mvmctl's note when the status is not the command's own (a signal, the memory limit). */
  readonly message?: string;
  readonly recorded: boolean;
}

export interface FileEntry {
  /** The name; bytes that are not UTF-8 are shown as U+FFFD here (see `nameBytes`). */
  readonly name: string;
  /** The name's exact bytes. */
  readonly nameBytes: Uint8Array;
  readonly type: "file" | "dir" | "symlink" | "other";
  readonly mode: number;
  readonly size: number;
}

export interface Snapshot {
  /** The sandbox it was taken of. */
  readonly name: string;
  readonly path: string;
  readonly sha256: string;
  readonly auditId?: string;
  /** Its label within the sandbox: with `name`, what `Sandbox.restore` takes. */
  readonly label?: string;
  /** "files" (the writable file systems, as a tar) or "full" (a microVM's memory and devices;
   * `sha256` is then empty: each file has its own digest). */
  readonly kind: "files" | "full";
}

/** What `mvmctl ps` says of a sandbox now; "destroyed" when it has no record left, "recording" in
 * record mode. */
export type SandboxState = "running" | "paused" | "stopped" | "destroyed" | "recording";

export interface RestoreOptions {
  /** The new sandbox's name (default `<sandbox>-<6 hex digits>`). */
  name?: string;
  /** mvmctl's state directory (default MVM_STATE_DIR, else mvmctl's own default). */
  stateDir?: string;
  /** The mvmctl binary (default MVM_MVMCTL, else `mvmctl` on PATH). */
  mvmctl?: string;
  restoreTimeoutSeconds?: number;
}

/** A service of a running sandbox, as `mvmctl ps --format=json` reports it. `phase` and the numbers
 * are what the sandbox's agent says: shown, never trusted for anything else. */
export interface ServiceInfo {
  readonly name: string;
  /** "never", "on-failure" or "always" */
  readonly restart: string;
  /** "unknown" when the agent could not be asked (the sandbox is paused or stopped). */
  readonly phase: "running" | "backoff" | "exited" | "failed" | "unknown";
  /** How often the agent started it again. */
  readonly restarts: number;
  /** Its pid in the sandbox's pid namespace; 0 when it is not running. */
  readonly pid: number;
  /** The last exit, when it has exited. */
  readonly exitCode?: number;
  readonly signal?: number;
}

/** A guest port `up` published on the host: connect to `address`:`host`. */
export interface PublishedPort {
  readonly guest: number;
  readonly host: number;
  readonly address: string;
}

/** A command started with `commands.start`. */
export interface CommandHandle {
  wait(): Promise<CommandResult>;
}

interface Backend {
  readonly auditId: string | undefined;
  /** Record mode wants the caller's line for each command (`wantsSite`), as `site`. */
  readonly wantsSite: boolean;
  run(argv: string[], o: CommandOptions, site?: Obj): Promise<CommandResult>;
  start(argv: string[], o: CommandOptions, site?: Obj): Promise<CommandHandle>;
  write(path: string, data: Uint8Array): Promise<void>;
  read(path: string): Promise<Uint8Array>;
  list(path: string): Promise<FileEntry[]>;
  remove(path: string, recursive: boolean): Promise<void>;
  logs(): Promise<string>;
  services(): Promise<ServiceInfo[]>;
  serviceLogs(service: string): Promise<string>;
  ports(): Promise<PublishedPort[]>;
  snapshot(options: SnapshotOptions): Promise<Snapshot>;
  removeSnapshot(label: string): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  state(): Promise<SandboxState>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

type Obj = { [key: string]: Json };
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

function mode(): "live" | "record" {
  const m = process.env["MVM_SDK_MODE"] || "live";
  if (m !== "live" && m !== "record") {
    throw new SandboxError(`MVM_SDK_MODE=${JSON.stringify(m)} is not a mode; use \`live\` (the default) or \`record\``);
  }
  return m;
}

/** Where the user called `api` (an SDK entry point), from the stack: the IR's `source`/`loc`. The
 * frames of `api` and everything it called are left out by V8, so no SDK frame can be mistaken for
 * the user's (with --enable-source-maps the SDK's own frames name its .ts sources). */
function callSite(api: Function): Obj {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, api);
  for (const line of (holder.stack ?? "").split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?\s*$/.exec(line);
    if (m === null) {
      continue; // `at node:internal/...` and the like
    }
    let file = (m[1] as string).startsWith("file://") ? fileURLToPath(m[1] as string) : (m[1] as string);
    const rel = relative(process.cwd(), file);
    if (!rel.startsWith("..") && !isAbsolute(rel)) {
      file = rel;
    }
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return { file: "<unknown>", line: 1, column: 1 };
}

// ------------------------------------------------------------------------------------------------
// Record mode

/** Every sandbox a record-mode process created, written as one IR module at exit and after each
 * `stop()`. */
class Recorder {
  readonly workloads: Obj[] = [];
  private written: string | undefined;

  constructor() {
    process.on("exit", () => this.write(true));
  }

  add(w: Obj): void {
    if (this.workloads.some((x) => x["id"] === w["id"])) {
      throw new SandboxError(`workload id ${JSON.stringify(w["id"])} is already used by another sandbox of this script; give each one its own workloadId`);
    }
    this.workloads.push(w);
  }

  write(final: boolean): void {
    const text = canonicalJson(ir.module(this.workloads));
    const out = process.env["MVM_RECORD_OUT"];
    if (out) {
      if (text !== this.written) {
        const tmp = `${out}.${process.pid}.tmp`;
        writeFileSync(tmp, text);
        renameSync(tmp, out);
        this.written = text;
      }
    } else if (final && this.workloads.length > 0 && text !== this.written) {
      // stdout gets one module, at exit: a second copy would not be one JSON value.
      process.stdout.write(text + "\n");
      this.written = text;
    }
  }
}

let recorder: Recorder | undefined;

class RecordBackend implements Backend {
  readonly auditId = undefined;
  readonly wantsSite = true;
  private readonly files = new Map<string, Uint8Array>();

  constructor(private readonly w: Obj) {}

  private entrypoint(argv: string[], timeoutSeconds: number | undefined, site: Obj | undefined): void {
    const list = (this.w["entrypoints"] ??= []) as Obj[];
    const e = ir.entrypoint(`cmd-${list.length + 1}`, argv, timeoutSeconds);
    if (site !== undefined) {
      e["loc"] = site;
    }
    list.push(e);
  }

  async run(argv: string[], o: CommandOptions, site?: Obj): Promise<CommandResult> {
    this.entrypoint(argv, o.timeoutSeconds, site);
    return { stdout: "", stderr: "", exitCode: 0, recorded: true };
  }

  async start(argv: string[], o: CommandOptions, site?: Obj): Promise<CommandHandle> {
    this.entrypoint(argv, o.timeoutSeconds, site);
    return { wait: async () => ({ stdout: "", stderr: "", exitCode: 0, recorded: true }) };
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    ((this.w["files"] ??= []) as Obj[]).push(ir.fileEntry(path, data));
    this.files.set(path, data);
  }

  async read(path: string): Promise<Uint8Array> {
    const data = this.files.get(path);
    if (data === undefined) {
      throw new SandboxError(`record mode runs nothing, so it can only read back files the script wrote; ${path} was not written`);
    }
    return data;
  }

  async list(path: string): Promise<FileEntry[]> {
    const prefix = path.replace(/\/+$/, "") + "/";
    return [...this.files]
      .filter(([p]) => p.startsWith(prefix) && !p.slice(prefix.length).includes("/"))
      .map(([p, d]) => ({ name: p.slice(prefix.length), nameBytes: encoder.encode(p.slice(prefix.length)), type: "file" as const, mode: 0o644, size: d.length }));
  }

  async remove(path: string): Promise<void> {
    this.files.delete(path);
  }

  async logs(): Promise<string> {
    return "";
  }

  async snapshot(_options: SnapshotOptions): Promise<Snapshot> {
    throw new SandboxError("record mode launches nothing, so there is nothing to snapshot; run with MVM_SDK_MODE=live");
  }

  async services(): Promise<ServiceInfo[]> {
    throw new SandboxError("record mode launches nothing, so there are no services to list; run with MVM_SDK_MODE=live");
  }

  async serviceLogs(_service: string): Promise<string> {
    throw new SandboxError("record mode launches nothing, so there is no service log to read; run with MVM_SDK_MODE=live");
  }

  async ports(): Promise<PublishedPort[]> {
    throw new SandboxError("record mode launches nothing, so there are no published ports; run with MVM_SDK_MODE=live");
  }

  async removeSnapshot(_label: string): Promise<void> {
    throw new SandboxError("record mode launches nothing, so there is no snapshot to remove; run with MVM_SDK_MODE=live");
  }

  async pause(): Promise<void> {
    throw new SandboxError("record mode launches nothing, so there is nothing to pause; run with MVM_SDK_MODE=live");
  }

  async resume(): Promise<void> {
    throw new SandboxError("record mode launches nothing, so there is nothing to resume; run with MVM_SDK_MODE=live");
  }

  async state(): Promise<SandboxState> {
    return "recording";
  }

  async stop(): Promise<void> {
    recorder?.write(false);
  }

  async destroy(): Promise<void> {
    recorder?.write(false);
  }
}

// ------------------------------------------------------------------------------------------------
// Live mode

export function findMvmctl(explicit: string | undefined): string {
  const given = explicit || process.env["MVM_MVMCTL"];
  const candidates = given?.includes("/")
    ? [given]
    : (process.env["PATH"] ?? "").split(":").filter((d) => d !== "").map((d) => join(d, given || "mvmctl"));
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) {
    const where = given ? `${JSON.stringify(given)} does not exist` : "it is not on PATH";
    throw new SandboxError(`mvmctl was not found (${where}): put it on PATH or set MVM_MVMCTL to its path (it is build/bin/mvmctl after building mvm)`);
  }
  return found;
}

/** What mvmctl said went wrong: its error diagnostics (located in the SDK's temporary IR file, so
 * without their location), else its last line. */
function lastLine(text: string): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const errors = lines.filter((l) => l.includes("error:")).map((l) => l.slice(l.indexOf("error:")));
  if (errors.length > 0) {
    return errors.join("; ");
  }
  return lines.length > 0 ? (lines[lines.length - 1] as string).trim() : "";
}

export interface Ran {
  code: number | null;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs a command to completion; `input` goes to its stdin. `graceMs` guards against mvmctl
 * hanging (mvmctl enforces command timeouts itself). */
export function runProcess(argv: string[], input: Uint8Array | undefined, graceMs: number | undefined): Promise<Ran> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(argv[0] as string, argv.slice(1), { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    } catch (e) {
      reject(e);
      return;
    }
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    child.stdout?.on("data", (c) => out.push(c));
    child.stderr?.on("data", (c) => err.push(c));
    let timer: { unref(): void } | undefined;
    let timedOut = false;
    if (graceMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, graceMs);
    }
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(
        (e as { code?: string }).code === "ENOENT"
          ? new SandboxError(`mvmctl was not found at ${JSON.stringify(argv[0])}: put it on PATH or set MVM_MVMCTL to its path (it is build/bin/mvmctl after building mvm)`)
          : e,
      );
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new TimeoutError(`mvmctl ${argv[1]} did not return within ${graceMs} ms`));
        return;
      }
      resolve({ code, stdout: concat(out), stderr: decoder.decode(concat(err)) });
    });
    if (input !== undefined) {
      child.stdin?.on("error", () => {}); // mvmctl may exit before reading; its status says why
      child.stdin?.end(input);
    }
  });
}

/** Everything in the file `fd` (from its start), as text; closes it. */
function readAll(fd: number): string {
  const chunks: Uint8Array[] = [];
  for (let at = 0; ; ) {
    const chunk = new Uint8Array(65536);
    const n = readSync(fd, chunk, 0, chunk.length, at);
    if (n <= 0) {
      break;
    }
    chunks.push(chunk.subarray(0, n));
    at += n;
  }
  closeSync(fd);
  return decoder.decode(concat(chunks));
}

/** Attached sandboxes still up; at exit each gets what its parent's death would give it. */
const attached = new Set<LiveBackend>();
let exitHookInstalled = false;

class LiveBackend implements Backend {
  auditId: string | undefined;
  readonly wantsSite = false;
  private up: ChildProcess | undefined;
  private upExited: Promise<void> | undefined;
  private upStderr = -1;
  /** Where the sandbox was created, for messages. */
  source: Obj = {};
  private stopped = false;

  constructor(
    private readonly mvmctl: string,
    private readonly stateDir: string | undefined,
    readonly name: string,
    private readonly detach: boolean,
    private readonly backend?: string,
    publish?: Readonly<Record<number, number>>,
  ) {
    // Checked here, before launch makes any temporary file.
    for (const [guest, host] of Object.entries(publish ?? {})) {
      this.publishFlags.push("--publish", `${output.portNumber("publish", Number(guest))}:${output.portNumber("publish", host)}`);
    }
  }

  private readonly publishFlags: string[] = [];

  /** For copies of this sandbox (fork): the same mvmctl and state directory. */
  get where(): { mvmctl: string; stateDir: string | undefined } {
    return { mvmctl: this.mvmctl, stateDir: this.stateDir };
  }

  private argv(command: string, ...rest: string[]): string[] {
    return [this.mvmctl, command, ...(this.stateDir ? ["--state-dir", this.stateDir] : []), ...rest];
  }

  private fail(what: string, ran: Ran, auditId?: string): SandboxError {
    const reason = lastLine(ran.stderr) || `mvmctl exited with status ${ran.code}`;
    return new SandboxError(`${what} in sandbox ${JSON.stringify(this.name)} failed: ${reason}`, {
      auditId: auditId ?? this.auditId,
      exitCode: ran.code ?? undefined,
      stderr: ran.stderr,
    });
  }

  private async ok(what: string, argv: string[], input?: Uint8Array, graceMs: number | undefined = 120_000): Promise<Ran> {
    const ran = await runProcess(argv, input, graceMs);
    if (ran.code !== 0) {
      throw this.fail(what, ran);
    }
    return ran;
  }

  async launch(module: Obj, createTimeoutSeconds: number): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), "mvm-sdk-"));
    const irPath = join(dir, "sandbox.ir.json");
    writeFileSync(irPath, canonicalJson(module));
    // up's stderr: a file this process keeps open after unlinking it, read if `up` fails.
    const errFd = openSync(join(dir, "up.stderr"), "w+");
    let argv = this.argv("up", "--from-ir", irPath, "--name", this.name, "--format=json", ...(this.backend ? ["--backend", this.backend] : []), ...this.publishFlags);
    if (this.detach) {
      argv.push("--detach");
    } else {
      // Node cannot set PR_SET_PDEATHSIG on a child itself; setpriv (util-linux) does it and execs
      // mvmctl, so `up` gets SIGTERM, and tears its sandbox down, when this process dies.
      argv = ["setpriv", "--pdeathsig", "TERM", "--", ...argv];
    }
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", errFd] });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let line: string;
    try {
      line = await firstLine(child, createTimeoutSeconds * 1000);
    } catch (e) {
      child.kill("SIGTERM");
      await exited;
      closeSync(errFd);
      rmSync(dir, { recursive: true, force: true });
      if (e instanceof TimeoutError) {
        throw new TimeoutError(`sandbox ${JSON.stringify(this.name)} did not start within ${createTimeoutSeconds} s`);
      }
      throw e;
    }
    rmSync(dir, { recursive: true, force: true }); // mvmctl has read the IR
    if (line === "") {
      await exited;
      const stderr = readAll(errFd);
      let reason = lastLine(stderr) || `mvmctl up exited with status ${child.exitCode}`;
      if (child.exitCode === 1) {
        // The compiler refused the workload.
        reason += ` (the sandbox declared at ${String(this.source["file"])}:${String(this.source["line"])})`;
      }
      const E = reason.includes("refused:") ? VerificationError : SandboxError;
      // A refusal names its audit record: "... (audit id 12-0123456789ab)".
      const auditPattern = / ?\(audit id ([0-9]+-[0-9a-f]{12})\)/;
      const auditId = auditPattern.exec(reason)?.[1];
      reason = reason.replace(auditPattern, ""); // the error adds it back, once
      throw new E(`creating sandbox ${JSON.stringify(this.name)} failed: ${reason}`, { auditId, exitCode: child.exitCode ?? undefined, stderr });
    }
    try {
      this.auditId = output.optionalField("mvmctl up", output.parseObject("mvmctl up --format=json", line), "audit_id", "string");
    } catch (e) {
      child.kill("SIGTERM");
      await exited;
      closeSync(errFd);
      throw e;
    }
    if (this.detach) {
      await exited;
      closeSync(errFd);
      return;
    }
    this.up = child;
    this.upExited = exited;
    this.upStderr = errFd;
    // Neither the child nor its pipe keeps the event loop alive: a script that forgets stop() still
    // ends, and the exit hook then stops the sandbox.
    child.unref();
    child.stdout?.unref?.();
    attached.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on("exit", () => {
        for (const b of attached) {
          b.abandon();
        }
      });
    }
  }

  /** At exit (synchronous): end an attached sandbox the way its parent's death would. */
  abandon(): void {
    if (this.up?.pid !== undefined && this.up.exitCode === null) {
      this.up.kill("SIGTERM");
    }
  }

  /** Ends an attached sandbox through its `up`: SIGTERM, on which `up` destroys the sandbox and
   * exits. (`mvmctl stop` from here would race `up`'s own clean-up.) */
  private async endUp(what: string): Promise<void> {
    const up = this.up as ChildProcess;
    this.up = undefined;
    attached.delete(this);
    up.kill("SIGTERM");
    let timer: { unref(): void } | undefined;
    const gone = await Promise.race([
      this.upExited!.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), 60_000);
      }),
    ]);
    clearTimeout(timer);
    if (!gone) {
      up.kill("SIGKILL");
      await this.upExited;
    }
    up.stdout?.destroy();
    const stderr = readAll(this.upStderr);
    if (up.exitCode !== 0) {
      throw new SandboxError(`${what} sandbox ${JSON.stringify(this.name)}: mvmctl up exited with ${up.exitCode ?? up.signalCode}: ${lastLine(stderr)}`, {
        auditId: this.auditId,
        exitCode: up.exitCode ?? undefined,
        stderr,
      });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    if (this.up !== undefined) {
      await this.endUp("stopping");
    } else {
      await this.ok("stop", this.argv("stop", this.name));
    }
  }

  async destroy(): Promise<void> {
    this.stopped = true;
    if (this.up !== undefined) {
      await this.endUp("destroying"); // `up` leaves no trace of an attached sandbox
    } else {
      await this.ok("destroy", this.argv("destroy", this.name));
    }
  }

  private execArgv(argv: string[], o: CommandOptions): string[] {
    const command = ir.entrypoint("exec", argv, o.timeoutSeconds)["command"] as string[];
    // On a terminal mvmctl's output is the terminal's, not JSON: -t and --format=json exclude each other.
    const extra = o.tty ? ["-it"] : ["--format=json"];
    if (o.timeoutSeconds !== undefined) {
      extra.push("--timeout", String(o.timeoutSeconds));
    }
    if (o.cwd !== undefined) {
      extra.push("--cwd", o.cwd);
    }
    return this.argv("exec", this.name, ...extra, "--", ...command);
  }

  private result(argv: string[], ran: Ran): CommandResult {
    const what = "mvmctl exec --format=json";
    let j: output.JsonObject;
    try {
      j = output.parseObject(what, ran.stdout);
    } catch (e) {
      if (decoder.decode(ran.stdout).trim() === "") {
        // mvmctl failed before the command ran (it prints no JSON then): its stderr says why.
        throw this.fail(`running ${JSON.stringify(argv)}`, ran);
      }
      throw new SandboxError(`running ${JSON.stringify(argv)} in sandbox ${JSON.stringify(this.name)}: ${(e as Error).message}`, {
        auditId: this.auditId,
        exitCode: ran.code ?? undefined,
        stderr: ran.stderr,
      });
    }
    const auditId = output.optionalField(what, j, "audit_id", "string");
    const message = output.optionalField(what, j, "message", "string");
    const result: CommandResult = {
      stdout: output.optionalField(what, j, "stdout", "string") ?? "",
      stderr: output.optionalField(what, j, "stderr", "string") ?? "",
      exitCode: output.optionalField(what, j, "exit_code", "integer") ?? ran.code ?? -1,
      recorded: false,
      ...(auditId === undefined ? {} : { auditId }),
      ...(message === undefined ? {} : { message }),
    };
    if (output.optionalField(what, j, "timed_out", "boolean")) {
      throw new TimeoutError(`${JSON.stringify(argv)} in sandbox ${JSON.stringify(this.name)} timed out and was killed`, {
        auditId: result.auditId,
        exitCode: result.exitCode,
        stderr: result.stderr,
        result,
      });
    }
    return result;
  }

  private static grace(o: CommandOptions): number | undefined {
    return o.timeoutSeconds === undefined ? undefined : (o.timeoutSeconds + 60) * 1000;
  }

  async run(argv: string[], o: CommandOptions): Promise<CommandResult> {
    if (o.tty) {
      return this.runOnTerminal(argv, o);
    }
    const ran = await runProcess(this.execArgv(argv, o), undefined, LiveBackend.grace(o));
    return this.result(argv, ran);
  }

  private async runOnTerminal(argv: string[], o: CommandOptions): Promise<CommandResult> {
    const input = typeof o.input === "string" ? new TextEncoder().encode(o.input) : o.input;
    let ran;
    try {
      ran = await runOnTerminal(this.execArgv(argv, o), o.rows ?? 24, o.cols ?? 80, input, LiveBackend.grace(o));
    } catch (e) {
      throw new SandboxError(`running ${JSON.stringify(argv)} on a terminal in sandbox ${JSON.stringify(this.name)}: ${(e as Error).message}`, {
        auditId: this.auditId,
      });
    }
    return { stdout: decoder.decode(ran.output), stderr: "", exitCode: ran.status, recorded: false };
  }

  async start(argv: string[], o: CommandOptions): Promise<CommandHandle> {
    const running = runProcess(this.execArgv(argv, o), undefined, LiveBackend.grace(o));
    running.catch(() => {}); // reported by wait()
    return { wait: async () => this.result(argv, await running) };
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    await this.ok(`writing ${path}`, this.argv("fs", this.name, "write", path), data);
  }

  async read(path: string): Promise<Uint8Array> {
    return (await this.ok(`reading ${path}`, this.argv("fs", this.name, "read", path))).stdout;
  }

  async list(path: string): Promise<FileEntry[]> {
    const ran = await this.ok(`listing ${path}`, this.argv("fs", this.name, "ls", path, "--format=json"));
    return output.listing(`mvmctl fs ls ${path} --format=json`, ran.stdout);
  }

  async remove(path: string, recursive: boolean): Promise<void> {
    await this.ok(`removing ${path}`, this.argv("fs", ...(recursive ? ["-r"] : []), this.name, "rm", path));
  }

  async logs(): Promise<string> {
    return decoder.decode((await this.ok("reading logs", this.argv("logs", this.name))).stdout);
  }

  async snapshot(options: SnapshotOptions): Promise<Snapshot> {
    const flags = [...(options.full ? ["--full"] : []), ...(options.label ? ["--label", options.label] : [])];
    const ran = await this.ok("snapshot", this.argv("snapshot", this.name, ...flags, "--format=json"), undefined, 600_000);
    const what = "mvmctl snapshot --format=json";
    const j = output.parseObject(what, ran.stdout);
    const auditId = output.optionalField(what, j, "audit_id", "string");
    const label = output.optionalField(what, j, "label", "string");
    return {
      name: output.optionalField(what, j, "name", "string") ?? this.name,
      path: output.field(what, j, "snapshot", "string"),
      sha256: output.optionalField(what, j, "sha256", "string") ?? "",
      kind: output.optionalField(what, j, "kind", "string") === "full" ? "full" : "files",
      ...(auditId === undefined ? {} : { auditId }),
      ...(label === undefined ? {} : { label }),
    };
  }

  async removeSnapshot(label: string): Promise<void> {
    await this.ok("removing a snapshot", this.argv("snapshot", "rm", this.name, label));
  }

  async pause(): Promise<void> {
    await this.ok("pause", this.argv("pause", this.name));
  }

  async resume(): Promise<void> {
    await this.ok("resume", this.argv("resume", this.name));
  }

  /** This sandbox's entry of `mvmctl ps --format=json`; undefined when it has no record. */
  private async psEntry(whatFor: string): Promise<output.JsonObject | undefined> {
    const ran = await this.ok(whatFor, this.argv("ps", "--format=json"));
    const what = "mvmctl ps --format=json";
    const list = output.parseObject(what, ran.stdout)["sandboxes"];
    if (!Array.isArray(list)) {
      throw new SandboxError(`${what} printed an answer without \`sandboxes\``);
    }
    for (const entry of list) {
      if (entry !== null && typeof entry === "object" && !Array.isArray(entry) && entry["name"] === this.name) {
        return entry as output.JsonObject;
      }
    }
    return undefined;
  }

  async state(): Promise<SandboxState> {
    const entry = await this.psEntry("reading the state");
    if (entry === undefined) {
      return "destroyed";
    }
    const what = "mvmctl ps --format=json";
    const status = output.field(what, entry, "status", "string");
    if (status !== "running" && status !== "paused" && status !== "stopped") {
      throw new SandboxError(`${what} printed an unknown status ${JSON.stringify(status)}`);
    }
    return status;
  }

  private async servedEntry(whatFor: string): Promise<output.JsonObject> {
    const entry = await this.psEntry(whatFor);
    if (entry === undefined) {
      throw new SandboxError(`${whatFor} of sandbox ${JSON.stringify(this.name)}: it no longer exists`, { auditId: this.auditId });
    }
    return entry;
  }

  async services(): Promise<ServiceInfo[]> {
    return output.services("mvmctl ps --format=json", await this.servedEntry("listing services"));
  }

  async serviceLogs(service: string): Promise<string> {
    if (typeof service !== "string" || service === "" || service.startsWith("-")) {
      throw new TypeError(`${JSON.stringify(service)} is not a service name`);
    }
    return decoder.decode((await this.ok(`reading the log of service ${JSON.stringify(service)}`, this.argv("logs", this.name, "--service", service))).stdout);
  }

  async ports(): Promise<PublishedPort[]> {
    return output.ports("mvmctl ps --format=json", await this.servedEntry("listing published ports"));
  }

  /** `mvmctl restore SANDBOX LABEL --as <this name>`: the new sandbox is detached. Returns the
   * new sandbox's workload id. */
  async restore(sandbox: string, label: string, timeoutSeconds: number): Promise<string> {
    const ran = await runProcess(this.argv("restore", sandbox, label, "--as", this.name, "--format=json"), undefined, timeoutSeconds * 1000);
    if (ran.code !== 0) {
      let reason = lastLine(ran.stderr) || `mvmctl restore exited with status ${ran.code}`;
      // 4: the snapshot or its plan changed; 125 with "refused:": the plan was refused.
      const E = ran.code === 4 || reason.includes("refused:") ? VerificationError : SandboxError;
      const auditPattern = / ?\(audit id ([0-9]+-[0-9a-f]{12})\)/;
      const auditId = auditPattern.exec(reason)?.[1];
      reason = reason.replace(auditPattern, "");
      throw new E(`restoring snapshot ${JSON.stringify(label)} of ${JSON.stringify(sandbox)} as ${JSON.stringify(this.name)} failed: ${reason}`, {
        auditId,
        exitCode: ran.code ?? undefined,
        stderr: ran.stderr,
      });
    }
    const what = "mvmctl restore --format=json";
    const j = output.parseObject(what, ran.stdout);
    this.auditId = output.optionalField(what, j, "audit_id", "string");
    return output.field(what, j, "workload", "string");
  }
}

/** The first line `up` prints (its JSON), or "" when it exits without one. */
function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const timer = setTimeout(() => reject(new TimeoutError("mvmctl up did not answer")), timeoutMs);
    const done = (line: string) => {
      clearTimeout(timer);
      child.stdout?.removeAllListeners("data");
      child.stdout?.removeAllListeners("end");
      resolve(line);
    };
    child.stdout?.on("data", (c) => {
      data += decoder.decode(c);
      const nl = data.indexOf("\n");
      if (nl >= 0) {
        done(data.slice(0, nl).trim());
      }
    });
    child.stdout?.on("end", () => done(""));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(
        (e as { code?: string }).code === "ENOENT"
          ? new SandboxError("mvmctl (or setpriv, which ties a sandbox to this process) was not found: put mvmctl on PATH or set MVM_MVMCTL")
          : e,
      );
    });
  });
}

// ------------------------------------------------------------------------------------------------
// The public surface

function argvList(argv: readonly string[]): string[] {
  if (typeof argv === "string") {
    throw new TypeError('give the command as an array, e.g. ["node", "/app/main.js"]; a string would need a shell to split it');
  }
  return [...argv];
}

function checkPath(path: string): void {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`a sandbox path must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  if (path.startsWith("-")) {
    throw new RangeError(`sandbox path ${JSON.stringify(path)} starts with '-'; write it as ./${path} or give an absolute path`);
  }
}

/** `sandbox.files`: files inside the sandbox. */
export class Files {
  constructor(private readonly backend: Backend) {}

  /** Writes `content` (a string as UTF-8) to `path`; it travels on mvmctl's stdin, never its command line. */
  async write(path: string, content: string | Uint8Array): Promise<void> {
    checkPath(path);
    await this.backend.write(path, typeof content === "string" ? encoder.encode(content) : content);
  }

  async readBytes(path: string): Promise<Uint8Array> {
    checkPath(path);
    return this.backend.read(path);
  }

  /** The file's content as text (UTF-8; undecodable bytes replaced). */
  async read(path: string): Promise<string> {
    return decoder.decode(await this.readBytes(path));
  }

  async list(path: string): Promise<FileEntry[]> {
    checkPath(path);
    return this.backend.list(path);
  }

  async remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    checkPath(path);
    await this.backend.remove(path, options.recursive ?? false);
  }
}

function checkTerminalOptions(o: CommandOptions): void {
  if (!o.tty) {
    if (o.input !== undefined || o.rows !== undefined || o.cols !== undefined) {
      throw new TypeError("input, rows and cols are for a terminal; give tty: true with them");
    }
    return;
  }
  for (const [what, value] of [["rows", o.rows], ["cols", o.cols]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 65535)) {
      throw new RangeError(`${what}: ${value} is not a terminal size (1 to 65535)`);
    }
  }
}

/** `sandbox.commands`: run programs (argv arrays; no shell unless you run one). */
export class Commands {
  constructor(private readonly backend: Backend) {}

  /** Runs `argv` to completion. A non-zero exit is a result, not an error; running out of
   * `timeoutSeconds` throws `TimeoutError`. */
  run(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    checkTerminalOptions(options);
    return this.backend.run(argvList(argv), options, this.backend.wantsSite ? callSite(Commands.prototype.run) : undefined);
  }

  /** Starts `argv` without waiting; `handle.wait()` gives its result. */
  start(argv: readonly string[], options: CommandOptions = {}): Promise<CommandHandle> {
    if (options.tty || options.input !== undefined) {
      throw new TypeError("commands.start runs without a terminal; use commands.run(argv, { tty: true })");
    }
    return this.backend.start(argvList(argv), options, this.backend.wantsSite ? callSite(Commands.prototype.start) : undefined);
  }
}

/** `sandbox.services`: the services `Sandbox.create(image, { services })` declared, which the
 * sandbox's agent runs and restarts by their policy (live mode). */
export class Services {
  constructor(private readonly backend: Backend) {}

  /** Each service with its phase, restarts and pid as the agent reports them now
   * (`mvmctl ps --format=json`). */
  list(): Promise<ServiceInfo[]> {
    return this.backend.services();
  }

  /** What service `name` printed, and its restarts, as the agent keeps them (a bounded ring;
   * `mvmctl logs NAME --service S`). An unknown service is a SandboxError naming the ones there are. */
  logs(name: string): Promise<string> {
    return this.backend.serviceLogs(name);
  }
}

export class Sandbox implements AsyncDisposable {
  readonly files: Files;
  readonly commands: Commands;
  readonly services: Services;

  private constructor(
    private readonly backend: Backend,
    readonly workloadId: string,
    readonly name: string | undefined,
  ) {
    this.files = new Files(backend);
    this.commands = new Commands(backend);
    this.services = new Services(backend);
  }

  /** The audit id of the sandbox's admission (live mode). */
  get auditId(): string | undefined {
    return this.backend.auditId;
  }

  /** Creates a sandbox from `image` with the options of `@workload` (same names and meaning). */
  static async create(image: string | Image, options: SandboxOptions = {}): Promise<Sandbox> {
    const { workloadId = DEFAULT_WORKLOAD_ID, name, detach = false, stateDir, mvmctl, backend: sandboxBackend, createTimeoutSeconds = DEFAULT_CREATE_TIMEOUT_SECONDS, services, publish, ...workloadOptions } = options;
    const w = ir.workload(image, workloadId, workloadOptions);
    const source = callSite(Sandbox.create);
    if (services !== undefined && services.length > 0) {
      w["services"] = ir.services(services);
    }
    if (mode() === "record") {
      for (const svc of (w["services"] ?? []) as Obj[]) {
        svc["loc"] = source; // one call declares them all
      }
      const { id, ...rest } = w;
      const recorded: Obj = { id: id as string, source, ...rest };
      recorder ??= new Recorder();
      recorder.add(recorded);
      return new Sandbox(new RecordBackend(recorded), workloadId, undefined);
    }
    const sandboxName = name ?? `${workloadId}-${randomBytes(3).toString("hex")}`;
    const backend = new LiveBackend(findMvmctl(mvmctl), stateDir ?? process.env["MVM_STATE_DIR"], sandboxName, detach, sandboxBackend, publish);
    const live: Obj = { ...w, source, entrypoints: [{ name: LIVE_ENTRYPOINT.name, command: [...LIVE_ENTRYPOINT.command] }] };
    backend.source = source;
    await backend.launch(ir.module([live]), createTimeoutSeconds);
    return new Sandbox(backend, workloadId, sandboxName);
  }

  /** What the sandbox's commands printed, as its agent keeps it (a bounded ring). */
  logs(): Promise<string> {
    return this.backend.logs();
  }

  /** The guest ports published on the host (`ports` and each service's `port`), as
   * `mvmctl ps --format=json` lists them; empty once the sandbox stopped. Live mode only. */
  ports(): Promise<PublishedPort[]> {
    return this.backend.ports();
  }

  /** Snapshots the sandbox (`mvmctl snapshot`): its writable files, or with `full` (a
   * qemu-microvm sandbox) its whole memory and device state, which `restore` and `fork` start
   * copies of. */
  snapshot(options: SnapshotOptions = {}): Promise<Snapshot> {
    return this.backend.snapshot(options);
  }

  /** `n` copies of this running microVM as it is now, each with its own identity (name and
   * hostname, kernel entropy, clock): a full snapshot, `n` restores of it, and the snapshot removed
   * again (the copies do not need it). The copies are detached; `destroy()` ends each. */
  async fork(n: number, options: { names?: string[]; restoreTimeoutSeconds?: number } = {}): Promise<Sandbox[]> {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`fork(${n}): the number of copies must be a whole number of at least 1`);
    }
    if (options.names !== undefined && options.names.length !== n) {
      throw new RangeError(`fork(${n}) was given ${options.names.length} names`);
    }
    if (!(this.backend instanceof LiveBackend)) {
      throw new SandboxError("record mode launches nothing, so there is nothing to fork; run with MVM_SDK_MODE=live");
    }
    const where = this.backend.where;
    const snap = await this.snapshot({ full: true, label: `fork-${randomBytes(4).toString("hex")}` });
    try {
      const copies: Sandbox[] = [];
      for (let i = 0; i < n; i++) {
        const name = options.names?.[i] ?? `${(this.name ?? "sandbox").slice(0, 50)}-fork-${randomBytes(3).toString("hex")}`;
        copies.push(
          await Sandbox.restore(snap, undefined, {
            name,
            mvmctl: where.mvmctl,
            ...(where.stateDir === undefined ? {} : { stateDir: where.stateDir }),
            ...(options.restoreTimeoutSeconds === undefined ? {} : { restoreTimeoutSeconds: options.restoreTimeoutSeconds }),
          }),
        );
      }
      return copies;
    } finally {
      await this.backend.removeSnapshot(snap.label ?? "");
    }
  }

  /** Stops every process of the sandbox where it is (`mvmctl pause`) until `resume()`; meanwhile
   * commands and file operations fail at once with a SandboxError. Pausing a paused sandbox is
   * fine. */
  pause(): Promise<void> {
    return this.backend.pause();
  }

  /** Lets a paused sandbox's processes run on from where they stopped (`mvmctl resume`). */
  resume(): Promise<void> {
    return this.backend.resume();
  }

  /** "running", "paused", "stopped" or "destroyed" (no record left), as `mvmctl ps` says now;
   * "recording" in record mode. */
  state(): Promise<SandboxState> {
    return this.backend.state();
  }

  /** Starts a new sandbox from a snapshot (`mvmctl restore`): `snapshot` is a Snapshot, or the name
   * of the sandbox it was taken of with `label`. The snapshot and its plan are checked first (a
   * changed one throws VerificationError); the new sandbox is detached (it outlives this process;
   * `destroy()` ends it). Live mode only. */
  static async restore(snapshot: Snapshot | string, label?: string, options: RestoreOptions = {}): Promise<Sandbox> {
    if (mode() === "record") {
      throw new SandboxError("record mode launches nothing, so there is nothing to restore; run with MVM_SDK_MODE=live");
    }
    const sandbox = typeof snapshot === "string" ? snapshot : snapshot.name;
    const snapshotLabel = label ?? (typeof snapshot === "string" ? undefined : snapshot.label);
    if (snapshotLabel === undefined || snapshotLabel === "") {
      throw new TypeError("give the snapshot's label (a Snapshot from snapshot() carries it)");
    }
    const name = options.name ?? `${sandbox.slice(0, 55)}-${randomBytes(3).toString("hex")}`;
    const backend = new LiveBackend(findMvmctl(options.mvmctl), options.stateDir ?? process.env["MVM_STATE_DIR"], name, true);
    const workloadId = await backend.restore(sandbox, snapshotLabel, options.restoreTimeoutSeconds ?? DEFAULT_CREATE_TIMEOUT_SECONDS);
    return new Sandbox(backend, workloadId, name);
  }

  /** Stops the sandbox (record mode: writes the IR recorded so far). Idempotent. */
  stop(): Promise<void> {
    return this.backend.stop();
  }

  /** Stops the sandbox and removes every trace of it. */
  destroy(): Promise<void> {
    return this.backend.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
