// Record mode against the shared fixture suite (tests/fixtures/sdk): each compiled record.ts must
// write canonical IR that means the same as the fixture's expected.ir.json (written by hand from the
// IR spec; compared as parsed JSON) once source locations are set aside; the C++ suite
// (sdk_fixture_parity) checks the same files against the compiler itself.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { NetworkPolicy, Sandbox, SandboxError, SecretRef, Volume, canonicalJson, withoutLocations } from "@mvm/sdk";

// ctest sets both: the fixtures' sources, and where tsc put the compiled record scripts.
function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run this suite through ctest (typescript_sdk_test), which sets it`);
  }
  return value;
}
const fixtures = required("MVM_SDK_FIXTURES");
const compiled = required("MVM_SDK_TS_FIXTURES");
const scratch = mkdtempSync(join(tmpdir(), "mvm-ts-record-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const decoder = new TextDecoder();

function record(script: string, cwd: string, out: string | undefined, env: Record<string, string> = {}) {
  const full: Record<string, string | undefined> = { ...process.env, MVM_SDK_MODE: "record", ...env };
  delete full["MVM_RECORD_OUT"];
  if (out !== undefined) {
    full["MVM_RECORD_OUT"] = out;
  }
  const ran = spawnSync(process.execPath, ["--enable-source-maps", script], { cwd, env: full });
  return { status: ran.status, stdout: decoder.decode(ran.stdout), stderr: decoder.decode(ran.stderr) };
}

test("record scripts write the expected IR", () => {
  const names = readdirSync(fixtures).filter((n) => existsSync(join(fixtures, n, "expected.ir.json")));
  assert.ok(names.length >= 4, `the fixture suite went missing from ${fixtures}`);
  for (const name of names) {
    const out = join(scratch, `${name}.ir.json`);
    const ran = record(join(compiled, name, "record.js"), join(fixtures, name), out);
    assert.equal(ran.status, 0, `${name}: ${ran.stderr}`);
    const text = readFileSync(out, "utf8");
    const module = JSON.parse(text);
    assert.equal(text, canonicalJson(module), `${name}: not written canonically`);
    const expected: unknown = JSON.parse(readFileSync(join(fixtures, name, "expected.ir.json"), "utf8"));
    assert.deepEqual(withoutLocations(module), expected, name);
    // With source maps, locations point at the TypeScript the user wrote.
    const workload = module.workloads[0];
    assert.match(workload.source.file, /record\.ts$/, name);
    const lines = readFileSync(join(fixtures, name, "record.ts"), "utf8").split("\n");
    assert.match(lines[workload.source.line - 1] ?? "", /Sandbox\.create\(/, name);
    for (const e of workload.entrypoints) {
      assert.match(lines[e.loc.line - 1] ?? "", /commands\.(run|start)\(/, name);
    }
  }
});

test("the declarations run as ordinary code", async () => {
  for (const name of readdirSync(compiled)) {
    const decl = join(compiled, name, "decl.js");
    if (!existsSync(decl)) {
      continue;
    }
    const module = (await import(decl)) as Record<string, unknown>;
    const classes = Object.values(module).filter((v) => typeof v === "function");
    assert.equal(classes.length, 1, name);
    assert.equal((classes[0] as { __mvm__?: { name?: string } }).__mvm__?.name, name);
  }
});

test("without MVM_RECORD_OUT the module goes to stdout once", () => {
  // The script imports @mvm/sdk by name, so it must live where node_modules/@mvm/sdk is found.
  const placed = join(compiled, "..", "..", "..", `stdout-test-${process.pid}.mjs`);
  writeFileSync(
    placed,
    `import { Sandbox } from "@mvm/sdk";
const a = await Sandbox.create("template:busybox", { workloadId: "a" });
await a.commands.run(["true"]);
await a.stop();
const b = await Sandbox.create("template:busybox", { workloadId: "b" });
await b.commands.start(["sleep", "1"], { timeoutSeconds: 3 });
`,
  );
  try {
    const ran = record(placed, scratch, undefined);
    assert.equal(ran.status, 0, ran.stderr);
    const module = JSON.parse(ran.stdout); // one JSON value: stop() did not print a copy
    assert.deepEqual(
      module.workloads.map((w: { id: string }) => w.id),
      ["a", "b"],
    );
    const e = module.workloads[1].entrypoints[0];
    assert.deepEqual([e.name, e.command, e.timeout_seconds], ["cmd-1", ["sleep", "1"], 3]);
  } finally {
    rmSync(placed, { force: true });
  }
});

test("record mode results say so, and files read back", async () => {
  const saved = process.env["MVM_SDK_MODE"];
  const savedOut = process.env["MVM_RECORD_OUT"];
  process.env["MVM_SDK_MODE"] = "record";
  process.env["MVM_RECORD_OUT"] = join(scratch, "inproc.ir.json");
  try {
    const sb = await Sandbox.create("template:busybox", { workloadId: "in-process" });
    const r = await sb.commands.run(["echo", "x"]);
    assert.deepEqual([r.stdout, r.exitCode, r.recorded], ["", 0, true]);
    await sb.files.write("/app/x", "data");
    assert.equal(await sb.files.read("/app/x"), "data");
    assert.deepEqual(
      (await sb.files.list("/app")).map((e) => e.name),
      ["x"],
    );
    await sb.stop();
    const written = JSON.parse(readFileSync(join(scratch, "inproc.ir.json"), "utf8"));
    assert.equal(written.workloads[0].files[0].size, 4);
    await assert.rejects(Sandbox.create("template:busybox", { workloadId: "in-process" }), /already used/);
  } finally {
    process.env["MVM_SDK_MODE"] = saved;
    process.env["MVM_RECORD_OUT"] = savedOut;
    if (saved === undefined) delete process.env["MVM_SDK_MODE"];
    if (savedOut === undefined) delete process.env["MVM_RECORD_OUT"];
  }
});

test("a plaintext secret is refused without showing it", async () => {
  process.env["MVM_SDK_MODE"] = "record";
  try {
    await assert.rejects(
      Sandbox.create("template:busybox", {
        workloadId: "leaky",
        secrets: { API_KEY: "sk-live-abcdef123456" as unknown as SecretRef },
      }),
      (e: Error) => e instanceof TypeError && e.message.includes("API_KEY") && !e.message.includes("sk-live"),
    );
  } finally {
    delete process.env["MVM_SDK_MODE"];
  }
});

test("an unknown mode is an error", async () => {
  process.env["MVM_SDK_MODE"] = "replay";
  try {
    await assert.rejects(Sandbox.create("template:busybox"), /MVM_SDK_MODE="replay" is not a mode/);
  } finally {
    delete process.env["MVM_SDK_MODE"];
  }
});

test("normalisation matches the compiler", async () => {
  process.env["MVM_SDK_MODE"] = "record";
  process.env["MVM_RECORD_OUT"] = join(scratch, "norm.ir.json");
  try {
    const sb = await Sandbox.create("oci:r.example/x@sha256:" + "ab".repeat(32), {
      workloadId: "norm",
      network: NetworkPolicy.denyByDefault().allowHttp("B.example").allowHttps("b.example", "A.example", "b.example"),
      secrets: { Z: SecretRef("z", { hosts: ["B.example", "b.example"] }), A: SecretRef("a") },
    });
    await sb.commands.run(["true"]);
    await sb.stop();
    const w = JSON.parse(readFileSync(join(scratch, "norm.ir.json"), "utf8")).workloads.find((x: { id: string }) => x.id === "norm");
    assert.deepEqual(w.image, { kind: "oci", ref: "r.example/x@sha256:" + "ab".repeat(32), digest: "sha256:" + "ab".repeat(32) });
    assert.deepEqual(w.network.rules, [
      { protocol: "https", host: "a.example" },
      { protocol: "http", host: "b.example" },
      { protocol: "https", host: "b.example" },
    ]);
    assert.deepEqual(w.secrets, [
      { env: "A", name: "a" },
      { env: "Z", name: "z", hosts: ["b.example"] },
    ]);
  } finally {
    delete process.env["MVM_SDK_MODE"];
    delete process.env["MVM_RECORD_OUT"];
  }
});

test("object volume credentials with hosts are refused in record mode", async () => {
  process.env["MVM_SDK_MODE"] = "record";
  process.env["MVM_RECORD_OUT"] = join(scratch, "hosts.ir.json");
  try {
    await assert.rejects(
      Sandbox.create("template:busybox", {
        workloadId: "hosts",
        volumes: [
          Volume.object("s3://bucket", "/o", {
            endpoint: "https://s3.example.com",
            credentials: SecretRef("keys", { hosts: ["s3.example.com"] }),
          }),
        ],
      }),
      (e: Error) => e instanceof TypeError && e.message.includes("leave out hosts"),
    );
  } finally {
    delete process.env["MVM_SDK_MODE"];
    delete process.env["MVM_RECORD_OUT"];
  }
});

test("canonical JSON orders members by UTF-16 code units and escapes like JSON.stringify", () => {
  assert.equal(canonicalJson({ "\ufb01": 1, "\u{1d11e}": 2, b: 3, a: 4, "": 5 }), '{"":5,"a":4,"b":3,"\u{1d11e}":2,"\ufb01":1}');
  assert.equal(canonicalJson('"\\\b\f\n\r\t\u0000\u001f\u007f é'), '"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\u007f é"');
  assert.throws(() => canonicalJson(1.5), TypeError);
});

test("a missing mvmctl is a SandboxError that says how to fix it", async () => {
  await assert.rejects(
    Sandbox.create("template:busybox", { mvmctl: "/nonexistent/mvmctl" }),
    (e: Error) => e instanceof SandboxError && e.message.includes("MVM_MVMCTL"),
  );
});
