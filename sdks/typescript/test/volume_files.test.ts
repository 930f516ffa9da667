// VolumeFiles against the built mvmctl (ctest sets MVM_MVMCTL): an object volume on s3rver (npm,
// scripts/bootstrap.sh) started on 127.0.0.1 here, and the API-only encrypted store.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { SandboxError, SecretRef, VolumeFiles } from "@mvm/sdk";

const mvmctl = process.env["MVM_MVMCTL"];
// The source tree: MVM_SDK_FIXTURES is <source>/tests/fixtures/sdk.
const source = process.env["MVM_SDK_FIXTURES"] ? join(process.env["MVM_SDK_FIXTURES"], "..", "..", "..") : join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "..");
const s3rverJs = join(source, "third_party/npm/s3rver/node_modules/s3rver/bin/s3rver.js");
const missing = !mvmctl ? "MVM_MVMCTL is not set (ctest sets it to the built mvmctl)" : !existsSync(s3rverJs) ? "s3rver is not installed; run scripts/bootstrap.sh" : false;
const ci = !["", "0", "false"].includes(process.env["CI"] ?? "");
if (missing && ci) {
  throw new Error(`a prerequisite is missing, and CI runs every test: ${missing}`);
}

let dir = "";
let state = "";
let endpoint = "";
let server: ReturnType<typeof spawn> | undefined;

before(async () => {
  if (missing) {
    return;
  }
  dir = mkdtempSync(join(tmpdir(), "mvm-sdk-volumes-"));
  state = join(dir, "state");
  mkdirSync(join(dir, "s3rver"));
  server = spawn(process.execPath, ["--openssl-legacy-provider", s3rverJs, "-d", join(dir, "s3rver"), "-a", "127.0.0.1", "-p", "0", "--silent", "--configure-bucket", "sdk-bucket"], { stdio: ["ignore", "pipe", "ignore"] });
  endpoint = await new Promise<string>((resolve, reject) => {
    let out = "";
    server?.stdout?.on("data", (chunk: Uint8Array) => {
      out += new TextDecoder().decode(chunk);
      const match = /listening on (\S+)/.exec(out);
      if (match && out.includes("\n")) {
        resolve(`http://${match[1]}`);
      }
    });
    server?.once("exit", () => reject(new Error(`s3rver exited: ${out}`)));
  });
  const set = spawnSync(mvmctl as string, ["secret", "set", "--state-dir", state, "sdk-keys"], { input: "S3RVER:S3RVER" });
  assert.equal(set.status, 0, set.stderr.toString());
});

after(() => {
  server?.kill("SIGKILL");
  server?.stdout?.destroy();
  if (dir) {
    rmSync(dir, { recursive: true, force: true });
  }
});

function volumes(): Record<string, VolumeFiles> {
  const options = { stateDir: state, mvmctl: mvmctl as string };
  return {
    object: VolumeFiles.object("s3://sdk-bucket/run-1", { endpoint, credentials: SecretRef("sdk-keys") }, options),
    encrypted: VolumeFiles.encrypted("sdk-notes", options),
  };
}

test("write, read, list, stat, rename and remove on an object volume and an encrypted store", { skip: missing }, async () => {
  for (const [kind, files] of Object.entries(volumes())) {
    const blob = new Uint8Array(1_300_000).map((_, i) => i % 251);
    await files.write("dir/blob.bin", blob);
    await files.write("dir/note.txt", "héllo");
    assert.deepEqual(await files.readBytes("dir/blob.bin"), blob, kind);
    assert.equal(await files.read("dir/note.txt"), "héllo", kind);
    assert.deepEqual(await files.list("/"), [{ name: "dir", type: "dir", size: 0 }], kind);
    const listed = (await files.list("dir")).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(listed, [
      { name: "blob.bin", type: "file", size: blob.length },
      { name: "note.txt", type: "file", size: 6 },
    ], kind);
    assert.deepEqual(await files.stat("dir/note.txt"), { name: "note.txt", type: "file", size: 6 }, kind);
    await files.rename("dir/note.txt", "dir/renamed.txt");
    assert.equal(await files.read("dir/renamed.txt"), "héllo", kind);
    await assert.rejects(files.stat("dir/note.txt"), SandboxError, kind);
    await assert.rejects(files.remove("dir"), /not empty/, kind);
    await files.remove("dir", { recursive: true });
    assert.deepEqual(await files.list(), [], kind);
    await assert.rejects(files.write("../escape", "x"), /\.\./, kind);
    await assert.rejects(async () => files.read("-r"), RangeError, kind);
  }
});

test("credentials must be a SecretRef, and an unknown secret is named", { skip: missing }, async () => {
  assert.throws(
    () => VolumeFiles.object("s3://sdk-bucket", { endpoint, credentials: "S3RVER:S3RVER" as unknown as SecretRef }),
    (e: Error) => e instanceof TypeError && !e.message.includes("S3RVER"),
  );
  const wrong = VolumeFiles.object("s3://sdk-bucket", { endpoint, credentials: SecretRef("no-such-secret") }, { stateDir: state, mvmctl: mvmctl as string });
  await assert.rejects(wrong.list(), /no-such-secret/);
});
