// The few Node.js APIs the SDK uses, declared here because the SDK has no dependencies (not even
// @types/node): only what is used, with the signatures Node 20 documents.

declare module "node:child_process" {
  import type { Readable, Writable } from "node:stream";
  export interface SpawnOptions {
    stdio?: Array<"pipe" | "ignore" | "inherit" | number>;
    env?: Record<string, string | undefined>;
    cwd?: string;
    detached?: boolean;
  }
  export interface ChildProcess {
    readonly pid?: number;
    readonly stdin: Writable | null;
    readonly stdout: Readable | null;
    readonly stderr: Readable | null;
    readonly exitCode: number | null;
    readonly signalCode: string | null;
    kill(signal?: string | number): boolean;
    on(event: "close", listener: (code: number | null, signal: string | null) => void): this;
    on(event: "exit", listener: (code: number | null, signal: string | null) => void): this;
    on(event: "error", listener: (err: Error) => void): this;
    once(event: "exit", listener: (code: number | null, signal: string | null) => void): this;
    unref(): void;
  }
  export function spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  export interface SpawnSyncResult {
    readonly status: number | null;
    readonly stdout: Uint8Array;
    readonly stderr: Uint8Array;
    readonly error?: Error;
  }
  export function spawnSync(
    command: string,
    args: readonly string[],
    options?: SpawnOptions & { input?: string | Uint8Array; timeout?: number },
  ): SpawnSyncResult;
}

declare module "node:stream" {
  export interface Readable {
    on(event: "data", listener: (chunk: Uint8Array) => void): this;
    on(event: "end", listener: () => void): this;
    on(event: "error", listener: (err: Error) => void): this;
    removeAllListeners(event?: string): this;
    destroy(): void;
    unref?(): void;
  }
  export interface Writable {
    on(event: "error", listener: (err: Error) => void): this;
    write(data: string | Uint8Array): boolean;
    end(data?: string | Uint8Array): void;
  }
}

declare module "node:fs" {
  export function writeFileSync(path: string, data: string | Uint8Array, options?: { mode?: number }): void;
  export function readFileSync(path: string): Uint8Array;
  export function readFileSync(path: string, encoding: "utf8"): string;
  export function mkdtempSync(prefix: string): string;
  export function rmSync(path: string, options?: { recursive?: boolean; force?: boolean }): void;
  export function renameSync(from: string, to: string): void;
  export function openSync(path: string, flags: string): number;
  export function closeSync(fd: number): void;
  export function readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  export function writeSync(fd: number, data: string, position: number): number;
  export function existsSync(path: string): boolean;
  export function readdirSync(path: string): string[];
  export function mkdirSync(path: string, options?: { recursive?: boolean }): void;
}

declare module "node:os" {
  export function tmpdir(): string;
}

declare module "node:path" {
  export function join(...parts: string[]): string;
  export function relative(from: string, to: string): string;
  export function isAbsolute(path: string): boolean;
  export function dirname(path: string): string;
  export function basename(path: string, suffix?: string): string;
  export function resolve(...parts: string[]): string;
  export const sep: string;
}

declare module "node:crypto" {
  export interface Hash {
    update(data: string | Uint8Array): Hash;
    digest(encoding: "hex"): string;
  }
  export function createHash(algorithm: "sha256"): Hash;
  export function randomBytes(size: number): Uint8Array & { toString(encoding: "hex"): string };
}

declare module "node:url" {
  export function fileURLToPath(url: string): string;
}

declare module "node:test" {
  type Fn = (t: { skip(message?: string): void }) => void | Promise<void>;
  export function test(name: string, fn: Fn): Promise<void>;
  export function test(name: string, options: { skip?: boolean | string; timeout?: number }, fn: Fn): Promise<void>;
  export function describe(name: string, fn: () => void): void;
  export function before(fn: () => void | Promise<void>): void;
  export function after(fn: () => void | Promise<void>): void;
}

declare module "node:assert/strict" {
  interface Assert {
    (value: unknown, message?: string): asserts value;
    ok(value: unknown, message?: string): asserts value;
    equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    match(value: string, pattern: RegExp, message?: string): void;
    doesNotMatch(value: string, pattern: RegExp, message?: string): void;
    throws(fn: () => unknown, expected?: RegExp | Function | object, message?: string): void;
    rejects(promise: Promise<unknown> | (() => Promise<unknown>), expected?: RegExp | Function | object, message?: string): Promise<void>;
  }
  const assert: Assert;
  export default assert;
}

interface ImportMeta {
  readonly url: string;
}

declare var process: {
  readonly env: Record<string, string | undefined>;
  readonly pid: number;
  readonly argv: string[];
  readonly execPath: string;
  exitCode: number | undefined;
  cwd(): string;
  kill(pid: number, signal?: string | number): boolean;
  on(event: "exit", listener: (code: number) => void): void;
  getuid?(): number;
  readonly stdout: { write(text: string): boolean; isTTY?: boolean };
};

declare var console: {
  log(...args: unknown[]): void;
  error(...args: unknown[]): void;
};

declare function setTimeout(fn: () => void, ms: number): { unref(): void };
declare function clearTimeout(handle: { unref(): void } | undefined): void;

declare class TextEncoder {
  encode(text: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: "utf-8", options?: { fatal?: boolean });
  decode(data: Uint8Array): string;
}

// V8's stack API (Node runs on V8): frames above `constructorOpt` are left out of `target.stack`.
interface ErrorConstructor {
  captureStackTrace(target: object, constructorOpt?: Function): void;
}
