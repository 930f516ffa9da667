// `commands.run(argv, { tty: true })`: mvmctl exec -it on a pseudo-terminal. Node cannot open one
// itself (that needs a native module, and the SDK has no dependencies), so util-linux `script`
// opens it: `script -qefc CMD /dev/null` runs CMD on a new terminal, copies what it shows to its
// stdout and its stdin to the terminal, and exits with CMD's status.

import { spawn, type ChildProcess } from "node:child_process";

/** What a command run on a terminal showed, and how it ended (128+N for signal N). */
export interface TerminalRun {
  readonly status: number;
  readonly output: Uint8Array;
}

// Printed by the shell once the terminal is set up, and cut from the output: an OSC sequence,
// which terminals ignore, so nothing shows even if it leaked.
const READY = "\x1b]mvm-terminal-ready\x07";

/** `arg` quoted for sh. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Runs `argv` on a new terminal of `rows` x `cols`, raw as mvmctl -t leaves a terminal, types
 * `input` at it once the terminal is ready, and resolves with its status and everything the
 * terminal showed. Rejects with an Error naming `timeoutMs` when it runs longer (the command is
 * killed), or when `script` cannot be started. */
export function runOnTerminal(
  argv: readonly string[],
  rows: number,
  cols: number,
  input: Uint8Array | undefined,
  timeoutMs: number | undefined,
): Promise<TerminalRun> {
  // Raw first, as mvmctl makes it: input typed before mvmctl switched is then neither echoed twice
  // nor has its Enter turned into a newline on the way.
  const command = `stty raw -echo rows ${rows} cols ${cols} && printf '\\033]mvm-terminal-ready\\007' && exec ${argv.map(shellQuote).join(" ")}`;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn("script", ["-qefc", command, "/dev/null"], {
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, SHELL: "/bin/sh" },
      });
    } catch (e) {
      reject(e);
      return;
    }
    const chunks: Uint8Array[] = [];
    let seen: Uint8Array = new Uint8Array(0);
    let ready = false;
    child.stdout?.on("data", (chunk) => {
      if (ready) {
        chunks.push(chunk);
        return;
      }
      seen = concat([seen, chunk]);
      const text = latin1(seen);
      const at = text.indexOf(READY);
      if (at < 0) {
        return;
      }
      ready = true;
      chunks.push(seen.subarray(0, at), seen.subarray(at + READY.length));
      if (input !== undefined && input.length > 0) {
        child.stdin?.write(input);
      }
    });
    const err: Uint8Array[] = [];
    child.stderr?.on("data", (c) => err.push(c));
    child.stdin?.on("error", () => {}); // the command may end before reading; its status says why
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL"); // closing the terminal hangs up the command's session too
          }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(
        (e as { code?: string }).code === "ENOENT"
          ? new Error("a terminal needs util-linux `script` on PATH (Debian: apt-get install bsdutils)")
          : e,
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      child.stdin?.end();
      if (timedOut) {
        reject(new Error(`${JSON.stringify(argv)} on a terminal did not end within ${timeoutMs} ms and was killed`));
        return;
      }
      if (!ready) {
        const why = new TextDecoder().decode(concat([...err, seen])).trim();
        reject(new Error(`could not set up a terminal with util-linux \`script\`${why ? `: ${why}` : ""}`));
        return;
      }
      resolve({ status: code ?? 128 + signalNumber(signal), output: concat(chunks) });
    });
  });
}

function signalNumber(signal: string | null): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal ?? ""] ?? 0;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    s += String.fromCharCode(b);
  }
  return s;
}

/** The chunks one after another in one array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
