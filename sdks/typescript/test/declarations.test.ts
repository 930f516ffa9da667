// The decorators and helpers are inert: metadata in, the same class or method out, values frozen.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Image, NetworkPolicy, SecretRef, Volume, declarationOf, entrypoint, service, workload } from "@mvm/sdk";

test("decorated classes and methods are unchanged and still run", () => {
  @workload({
    id: "agent-tool",
    image: "nix:./flake#agent-runtime",
    network: NetworkPolicy.denyByDefault().allowHttps("api.openai.com").allowDns(),
    secrets: { OPENAI_API_KEY: SecretRef("openai-api-key", { hosts: ["api.openai.com"] }) },
    volumes: [Volume.local("./data", "/data", { mode: "ro" }), Volume.memory("/scratch", { sizeMb: 256 })],
  })
  class AgentTool {
    constructor(readonly greeting = "hi") {}

    @entrypoint({ command: ["node", "/app/main.js"] })
    main() {
      return `main ${this.greeting}`;
    }

    @entrypoint("warmup", { command: ["node", "/app/warm.js"], timeoutSeconds: 5 })
    warmup() {
      return "warmup";
    }

    @service({ name: "api", command: ["node", "/app/api.js"], port: 8080 })
    api() {
      return "api";
    }
  }

  const tool = new AgentTool();
  assert.equal(AgentTool.name, "AgentTool");
  assert.deepEqual([tool.main(), tool.warmup(), tool.api()], ["main hi", "warmup", "api"]);
  const w = declarationOf(AgentTool);
  assert.equal(w?.kind, "workload");
  assert.equal(w?.name, "agent-tool");
  assert.deepEqual(Object.keys(w?.options ?? {}), ["image", "network", "secrets", "volumes"]);
  assert.deepEqual(declarationOf(AgentTool.prototype.main), { kind: "entrypoint", name: "main", options: { command: ["node", "/app/main.js"] } });
  assert.equal(declarationOf(AgentTool.prototype.warmup)?.name, "warmup");
  assert.deepEqual(declarationOf(AgentTool.prototype.warmup)?.options, { command: ["node", "/app/warm.js"], timeoutSeconds: 5 });
  assert.deepEqual(declarationOf(AgentTool.prototype.api), { kind: "service", name: "api", options: { command: ["node", "/app/api.js"], port: 8080 } });
});

test("the id form and the options form record the same", () => {
  @workload("same", { image: "template:busybox" })
  class A {
    @entrypoint({ command: ["true"] })
    run() {}
  }
  @workload({ id: "same", image: "template:busybox" })
  class B {
    @entrypoint({ command: ["true"] })
    run() {}
  }
  assert.deepEqual(declarationOf(A), declarationOf(B));
});

test("helpers are immutable values", () => {
  const base = NetworkPolicy.denyByDefault();
  const https = base.allowHttps("api.openai.com", "*.example.org");
  const full = https.allowHttp("mirror.example.org").allowDns();
  assert.deepEqual(base.rules, []);
  assert.equal(base.dns, false);
  assert.deepEqual(https.rules, [
    ["https", "api.openai.com"],
    ["https", "*.example.org"],
  ]);
  assert.equal(full.dns, true);
  assert.ok(Object.isFrozen(full) && Object.isFrozen(full.rules));
  const secret = SecretRef("k", { hosts: ["a.example"] });
  assert.ok(Object.isFrozen(secret) && Object.isFrozen(secret.hosts));
  assert.deepEqual(Volume.local("./d", "/d"), { kind: "local", source: "./d", target: "/d" });
  assert.deepEqual(Volume.memory("/m"), { kind: "memory", target: "/m" });
  assert.deepEqual(Volume.encrypted("notes", "/notes", { sizeMb: 512 }), {
    kind: "encrypted",
    source: "notes",
    target: "/notes",
    sizeMb: 512,
  });
  const keys = SecretRef("datasets-keys");
  const object = Volume.object("s3://datasets/run-1", "/datasets", { endpoint: "https://s3.example.com", credentials: keys });
  assert.deepEqual(object, {
    kind: "object",
    source: "s3://datasets/run-1",
    target: "/datasets",
    endpoint: "https://s3.example.com",
    credentials: keys,
  });
  assert.ok(Object.isFrozen(object));
});

test("Image.debian keeps the packages in order and defaults the suite", () => {
  const image = Image.debian({ packages: ["jq", "python3-yaml"] });
  assert.deepEqual(image, { kind: "debian", suite: "bookworm", packages: ["jq", "python3-yaml"] });
  assert.ok(Object.isFrozen(image) && Object.isFrozen(image.packages));
  assert.equal(Image.debian({ packages: [], suite: "trixie" }).suite, "trixie");
  assert.throws(() => Image.debian({ packages: "jq" as unknown as string[] }), /must be an array/);
});

test("object volume credentials are a SecretRef, never the keys", () => {
  assert.throws(
    () =>
      Volume.object("s3://b1b", "/b", {
        endpoint: "https://e",
        credentials: "AKIAEXAMPLE:wJalrXUtnFEMI" as unknown as SecretRef,
      }),
    (e: Error) => e instanceof TypeError && e.message.includes("SecretRef") && !e.message.includes("AKIAEXAMPLE"),
  );
});
