// What the SDK makes of mvmctl's answers, with a fake mvmctl that prints whatever a test gives it:
// every answer of the wrong shape is a SandboxError (issue 24 item 6), never a bare SyntaxError or
// TypeError, and files.list reads only `fs ls --format=json`. No root and no sandbox needed.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { Sandbox, SandboxError, Service, TimeoutError } from "@mvm/sdk";

// `up` answers like `mvmctl up --detach --format=json`; every other command records its argv and
// prints the file $MVM_FAKE_STDOUT names.
const FAKE_MVMCTL = `#!/bin/sh
case "$1" in
  up) if [ -n "$MVM_FAKE_UP_ARGV" ]; then printf '%s\\n' "$@" > "$MVM_FAKE_UP_ARGV"; fi
      if [ -n "$MVM_FAKE_UP" ]; then cat "$MVM_FAKE_UP"; else echo '{"audit_id":"up-audit"}'; fi ;;
  stop|destroy) ;;
  *) printf '%s\\n' "$@" > "$MVM_FAKE_ARGV"; cat "$MVM_FAKE_STDOUT" ;;
esac
`;

const dir = mkdtempSync(join(tmpdir(), "mvm-sdk-fake-"));
const mvmctl = join(dir, "mvmctl");
writeFileSync(mvmctl, FAKE_MVMCTL, { mode: 0o700 });
const stdoutFile = join(dir, "stdout");
const argvFile = join(dir, "argv");
process.env["MVM_FAKE_STDOUT"] = stdoutFile;
process.env["MVM_FAKE_ARGV"] = argvFile;
after(() => rmSync(dir, { recursive: true, force: true }));

const encoder = new TextEncoder();
const answer = (data: string | Uint8Array) => writeFileSync(stdoutFile, data);
const sandbox = () => Sandbox.create("template:busybox", { name: "fake", detach: true, mvmctl, stateDir: dir });

async function rejectsWithSandboxError(call: () => Promise<unknown>, what: string): Promise<SandboxError> {
  try {
    await call();
  } catch (e) {
    assert.ok(e instanceof SandboxError, `${what}: ${(e as Error).name}: ${(e as Error).message}, not a SandboxError`);
    return e;
  }
  throw new Error(`${what}: no error`);
}

// What `fs ls` would print for a directory holding a file named "real\nd0755 0 injected-dir" if the
// SDK still read the text listing: one file that parses as two entries.
const FORGED_TEXT = "-0644          0 real\nd0755          0 injected-dir\n";

const MALFORMED_LISTINGS: Record<string, string | Uint8Array> = {
  nothing: "",
  "cut short": '{"entries": [{"name": "a", "type": "file"',
  "the text listing": FORGED_TEXT,
  "a name that ends the old parser": "-0644          0 zz\nboom\n",
  "not UTF-8": new Uint8Array([...encoder.encode('{"entries": [{"name": "'), 0xff, ...encoder.encode('", "type": "file", "mode": 420, "size": 0}]}')]),
  "too deep": "[".repeat(100000),
  "an array": "[]",
  null: "null",
  "no entries": "{}",
  "entries not a list": '{"entries": {"name": "a"}}',
  "an entry not an object": '{"entries": ["a"]}',
  "an entry null": '{"entries": [null]}',
  "no name": '{"entries": [{"type": "file", "mode": 420, "size": 0}]}',
  "a number for a name": '{"entries": [{"name": 7, "type": "file", "mode": 420, "size": 0}]}',
  "no type": '{"entries": [{"name": "a", "mode": 420, "size": 0}]}',
  "an unknown type": '{"entries": [{"name": "a", "type": "fifo", "mode": 420, "size": 0}]}',
  "a string mode": '{"entries": [{"name": "a", "type": "file", "mode": "0644", "size": 0}]}',
  "a boolean size": '{"entries": [{"name": "a", "type": "file", "mode": 420, "size": true}]}',
  "a fractional size": '{"entries": [{"name": "a", "type": "file", "mode": 420, "size": 1.5}]}',
  "a negative size": '{"entries": [{"name": "a", "type": "file", "mode": 420, "size": -1}]}',
  "a mode past 07777": '{"entries": [{"name": "a", "type": "file", "mode": 65536, "size": 0}]}',
  "bad base64": '{"entries": [{"name": "a", "name_base64": "!!", "type": "file", "mode": 420, "size": 0}]}',
  "a path for a name": '{"entries": [{"name": "../x", "type": "file", "mode": 420, "size": 0}]}',
};

test("files.list reads the JSON listing exactly", async () => {
  const sb = await sandbox();
  answer(
    JSON.stringify({
      entries: [
        { name: "real\nd0755 0 injected-dir", type: "file", mode: 0o644, size: 0 },
        { name: "zz\nboom", type: "file", mode: 0o600, size: 12 },
        { name: "evil\x1b]0;x\x07", type: "dir", mode: 0o755, size: 4096 },
        { name: "\ufffd\ufffdlatin1-\ufffd", name_base64: "//5sYXRpbjEt6Q==", type: "other", mode: 0, size: 0 },
        { name: "link", type: "symlink", mode: 0o777, size: 4, link_target: "a\nb" },
      ],
    }),
  );
  const entries = await sb.files.list("/tmp");
  const argv = readFileSync(argvFile, "utf8").split("\n");
  assert.deepEqual(argv.slice(0, 5), ["fs", "--state-dir", dir, "fake", "ls"]);
  assert.ok(argv.includes("--format=json"), argv.join(" "));
  assert.deepEqual(
    entries.map((e) => [e.name, e.type, e.mode, e.size]),
    [
      ["real\nd0755 0 injected-dir", "file", 0o644, 0],
      ["zz\nboom", "file", 0o600, 12],
      ["evil\x1b]0;x\x07", "dir", 0o755, 4096],
      ["\ufffd\ufffdlatin1-\ufffd", "other", 0, 0],
      ["link", "symlink", 0o777, 4],
    ],
  );
  assert.deepEqual([...(entries[3]?.nameBytes ?? [])], [0xff, 0xfe, ...encoder.encode("latin1-"), 0xe9]);
  assert.deepEqual([...(entries[0]?.nameBytes ?? [])], [...encoder.encode("real\nd0755 0 injected-dir")]);
});

test("every malformed listing is a SandboxError", async () => {
  const sb = await sandbox();
  for (const [what, data] of Object.entries(MALFORMED_LISTINGS)) {
    answer(data);
    const e = await rejectsWithSandboxError(() => sb.files.list("/tmp"), what);
    assert.match(e.message, /mvmctl fs ls \/tmp --format=json/, what);
  }
});

test("malformed exec and snapshot answers are SandboxErrors", async () => {
  const sb = await sandbox();
  const run = () => sb.commands.run(["true"]);
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ["exec not JSON", run, "{"],
    ["exec an array", run, "[1]"],
    ["exec null", run, "null"],
    ["exec stdout a number", run, '{"stdout": 1, "stderr": "", "exit_code": 0}'],
    ["exec exit_code a string", run, '{"stdout": "", "stderr": "", "exit_code": "0"}'],
    ["exec timed_out a string", run, '{"exit_code": 0, "timed_out": "no"}'],
    ["start then wait", async () => (await sb.commands.start(["true"])).wait(), "null"],
    ["snapshot not JSON", () => sb.snapshot(), "snapshot taken\n"],
    ["snapshot without a path", () => sb.snapshot(), '{"sha256": "00"}'],
    ["snapshot null", () => sb.snapshot(), "null"],
  ];
  for (const [what, call, data] of cases) {
    answer(data);
    await rejectsWithSandboxError(call, what);
  }
});

test("a well-formed exec answer is read", async () => {
  const sb = await sandbox();
  answer('{"stdout": "a\\n", "stderr": "", "exit_code": 3, "timed_out": false, "audit_id": "x"}');
  const r = await sb.commands.run(["true"]);
  assert.deepEqual([r.stdout, r.exitCode, r.auditId], ["a\n", 3, "x"]);
  answer('{"stdout": "", "stderr": "", "exit_code": 124, "timed_out": true}');
  await assert.rejects(sb.commands.run(["sleep", "9"]), (e: Error) => e instanceof TimeoutError);
});

test("a malformed up answer is a SandboxError", async () => {
  const up = join(dir, "up");
  process.env["MVM_FAKE_UP"] = up;
  try {
    for (const [what, data] of Object.entries({ "not JSON": "up\n", "a list": "[]\n", null: "null\n", "audit_id a number": '{"audit_id": 1}\n' })) {
      writeFileSync(up, data);
      await rejectsWithSandboxError(sandbox, what);
    }
  } finally {
    delete process.env["MVM_FAKE_UP"];
  }
});

const psAnswer = (entry: Record<string, unknown>) =>
  answer(
    JSON.stringify({
      sandboxes: [
        { name: "other", status: "running", ports: [{ guest: 1, host: 2, address: "127.0.0.1" }] },
        { name: "fake", status: "running", ...entry },
      ],
    }),
  );

test("services and ports are read from ps --format=json", async () => {
  const sb = await sandbox();
  psAnswer({
    ports: [
      { guest: 8080, host: 18080, address: "127.0.0.1" },
      { guest: 9000, host: 41234, address: "127.0.0.1" },
    ],
    services: [
      { name: "http", restart: "on-failure", phase: "running", restarts: 1, pid: 12 },
      { name: "once", restart: "never", phase: "exited", restarts: 0, pid: 0, exit_code: 3, signal: 0 },
      { name: "paused", restart: "always", phase: "unknown" },
    ],
  });
  assert.deepEqual(await sb.ports(), [
    { guest: 8080, host: 18080, address: "127.0.0.1" },
    { guest: 9000, host: 41234, address: "127.0.0.1" },
  ]);
  assert.deepEqual(readFileSync(argvFile, "utf8").split("\n").slice(0, 4), ["ps", "--state-dir", dir, "--format=json"]);
  assert.deepEqual(
    (await sb.services.list()).map((s) => [s.name, s.restart, s.phase, s.restarts, s.pid, s.exitCode]),
    [
      ["http", "on-failure", "running", 1, 12, undefined],
      ["once", "never", "exited", 0, 0, 3],
      ["paused", "always", "unknown", 0, 0, undefined],
    ],
  );
  psAnswer({});
  assert.deepEqual(await sb.ports(), []);
  assert.deepEqual(await sb.services.list(), []);
});

test("malformed services and ports are SandboxErrors", async () => {
  const sb = await sandbox();
  const cases: Record<string, Record<string, unknown>> = {
    "ports not a list": { ports: { guest: 1 } },
    "a port not an object": { ports: [8080] },
    "a port past 65535": { ports: [{ guest: 8080, host: 70000, address: "x" }] },
    "a port without its address": { ports: [{ guest: 8080, host: 1 }] },
    "a string port": { ports: [{ guest: "8080", host: 1, address: "x" }] },
    "a service without a name": { services: [{ restart: "never", phase: "running" }] },
    "an unknown phase": { services: [{ name: "a", restart: "never", phase: "odd" }] },
    "negative restarts": { services: [{ name: "a", restart: "never", phase: "running", restarts: -1 }] },
  };
  for (const [what, entry] of Object.entries(cases)) {
    psAnswer(entry);
    await rejectsWithSandboxError(what.includes("port") ? () => sb.ports() : () => sb.services.list(), what);
  }
  answer('{"sandboxes": []}');
  const gone = await rejectsWithSandboxError(() => sb.ports(), "gone");
  assert.match(gone.message, /no longer exists/);
});

test("a service log is logs with the service named", async () => {
  const sb = await sandbox();
  answer("ticking\nrestarted (pid 7)\n");
  assert.equal(await sb.services.logs("ticker"), "ticking\nrestarted (pid 7)\n");
  assert.deepEqual(readFileSync(argvFile, "utf8").split("\n").slice(0, 6), ["logs", "--state-dir", dir, "fake", "--service", "ticker"]);
  await assert.rejects(() => sb.services.logs("--raw"), TypeError);
});

test("publish and services reach up", async () => {
  const upArgv = join(dir, "up-argv");
  process.env["MVM_FAKE_UP_ARGV"] = upArgv;
  try {
    await Sandbox.create("template:busybox", {
      name: "fake",
      detach: true,
      mvmctl,
      stateDir: dir,
      ports: [9000],
      publish: { 8080: 18080 },
      services: [Service("http", ["httpd", "-f"], { port: 8080 })],
    });
    const argv = readFileSync(upArgv, "utf8").split("\n");
    assert.equal(argv[argv.indexOf("--publish") + 1], "8080:18080");
    await rejectsWithSandboxError(() => Sandbox.create("template:busybox", { name: "fake", detach: true, mvmctl, stateDir: dir, publish: { 8080: 0 } }), "port 0");
  } finally {
    delete process.env["MVM_FAKE_UP_ARGV"];
  }
  assert.throws(() => Service("http", "httpd -f" as unknown as string[]), TypeError);
});
