// The TypeScript spelling of a full declaration compiles to the same IR as its Python twin: same
// digest, and the same canonical JSON once source locations are dropped.
// RUN: %mvmctl compile --dump ir %s > %t.ts.ir.json
// RUN: %mvmctl compile --dump ir %S/Inputs/agent_tool.py > %t.py.ir.json
// RUN: %mvmctl ir digest %t.ts.ir.json > %t.ts.digest
// RUN: %mvmctl ir digest %t.py.ir.json > %t.py.digest
// RUN: diff %t.py.digest %t.ts.digest
// RUN: FileCheck %s < %t.ts.ir.json
import { workload, entrypoint, service, NetworkPolicy, SecretRef, Volume } from "@mvm/sdk";

@workload(
  "agent-tool", {
  image: "nix:./flake#agent-runtime",
  cpu: 2,
  memoryMb: 2048,
  diskMb: 4096,
  timeoutSeconds: 30,
  network: NetworkPolicy.denyByDefault()
    .allowHttps("api.openai.com")
    .allowHttp("mirror.example.org")
    .allowDns(),
  secrets: { OPENAI_API_KEY: SecretRef("openai-api-key", { hosts: ["api.openai.com"] }) },
  volumes: [Volume.local("./data", "/data", { mode: "ro" }), Volume.memory("/scratch", { sizeMb: 256 })],
  env: { LOG_LEVEL: "info" },
  ports: [8080],
  isolation: "microvm",
  labels: { team: "ml" },
})
export class AgentTool {
  @entrypoint({ command: ["python", "/app/main.py"] })
  main() {}

  @entrypoint("warmup", { command: ["python", "/app/warm.py"], timeoutSeconds: 5 })
  warmup() {}

  @service("api", { command: ["python", "-m", "http.server", "8080"], port: 8080 })
  api() {}
}

// Locations point into the TypeScript source: the workload at its decorator, each rule at its host.
// CHECK: {"entrypoints":[{"command":["python","/app/main.py"],"loc":{"column":3,"end_column":55,"end_line":30,"file":"{{[^"]*}}agent_tool.ts","line":30},"name":"main"},
// CHECK-SAME: {"command":["python","/app/warm.py"],"loc":{{{[^}]*}}},"name":"warmup","timeout_seconds":5}],
// CHECK-SAME: "env":{"LOG_LEVEL":"info"},"id":"agent-tool","image":{"kind":"nix","ref":"./flake#agent-runtime"},
// CHECK-SAME: "rules":[{"host":"api.openai.com","loc":{"column":17,"end_column":33,"end_line":19,"file":"{{[^"]*}}","line":19},"protocol":"https"},
// CHECK-SAME: "secrets":[{"env":"OPENAI_API_KEY","hosts":["api.openai.com"],"loc":{{{[^}]*}}},"name":"openai-api-key"}],
// CHECK-SAME: "services":[{"command":["python","-m","http.server","8080"],"loc":{{{[^}]*}}},"name":"api","port":8080}],
// CHECK-SAME: "source":{"column":1,"end_column":3,"end_line":28,"file":"{{[^"]*}}agent_tool.ts","line":11},
// CHECK-SAME: "volumes":[{"kind":"local","loc":{{{[^}]*}}},"mode":"ro","source":"./data","target":"/data"},{"kind":"memory","loc":{{{[^}]*}}},"size_mb":256,"target":"/scratch"}]
