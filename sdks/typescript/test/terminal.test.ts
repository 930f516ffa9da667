// commands.run(argv, { tty: true }) with a fake mvmctl that runs the command on this host: the
// terminal the SDK opens through util-linux `script`, its size, typed input, merged output and the
// exit status, and the argv mvmctl gets (`exec -it`, never --format=json). No root and no sandbox
// needed; live.test.ts runs it against a real sandbox.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { Sandbox, SandboxError } from "@mvm/sdk";

// `up` answers as `mvmctl up --detach --format=json`; `exec` records its argv and runs what follows
// `--` here, on whatever terminal it was given.
const FAKE_MVMCTL = `#!/bin/sh
case "$1" in
  up) echo '{"audit_id":"up-audit"}' ;;
  stop|destroy) ;;
  exec) printf '%s\\n' "$@" > "$MVM_FAKE_ARGV"
        while [ "$1" != "--" ]; do shift; done; shift; exec "$@" ;;
esac
`;

const dir = mkdtempSync(join(tmpdir(), "mvm-sdk-terminal-"));
const mvmctl = join(dir, "mvmctl");
writeFileSync(mvmctl, FAKE_MVMCTL, { mode: 0o700 });
const argvFile = join(dir, "argv");
process.env["MVM_FAKE_ARGV"] = argvFile;
after(() => rmSync(dir, { recursive: true, force: true }));

const sandbox = () => Sandbox.create("template:busybox", { name: "fake", detach: true, mvmctl, stateDir: dir });

test("a command on a terminal gets its size and typed input, and shows both streams", async () => {
  const sb = await sandbox();
  // The fake runs the command on the SDK's raw terminal itself (no echo, no Enter turned into a
  // newline, as a sandbox's terminal would do), so it types a newline; `stty sane -echo` for \r\n without a racing echo.
  const r = await sb.commands.run(
    ["sh", "-c", "stty sane -echo; stty size; test -t 0 && test -t 1 && test -t 2 && echo ttys; read l; echo got=$l; echo err >&2; exit 4"],
    { tty: true, rows: 33, cols: 101, input: "it's typed\n", timeoutSeconds: 30 },
  );
  assert.equal(r.exitCode, 4);
  assert.equal(r.stdout, "33 101\r\nttys\r\ngot=it's typed\r\nerr\r\n");
  assert.equal(r.stderr, "");
  const argv = readFileSync(argvFile, "utf8").split("\n");
  assert.deepEqual(argv.slice(argv.indexOf("fake"), argv.indexOf("--")), ["fake", "-it", "--timeout", "30"]);
});

test("the terminal starts raw, and a signal death is 128 plus the signal", async () => {
  const sb = await sandbox();
  const raw = await sb.commands.run(["stty", "-a"], { tty: true });
  assert.match(raw.stdout, /-icanon/);
  assert.match(raw.stdout, /rows 24; columns 80/);
  const killed = await sb.commands.run(["sh", "-c", "kill -INT $$"], { tty: true });
  assert.equal(killed.exitCode, 130);
});

test("terminal options are checked", async () => {
  const sb = await sandbox();
  assert.throws(() => sb.commands.run(["true"], { tty: true, rows: 0 }), /rows: 0 is not a terminal size/);
  assert.throws(() => sb.commands.run(["true"], { tty: true, cols: 1.5 }), /cols: 1.5 is not a terminal size/);
  assert.throws(() => sb.commands.run(["cat"], { input: "x" }), /give tty: true with them/);
  assert.throws(() => sb.commands.start(["cat"], { tty: true }), /use commands.run/);
});
