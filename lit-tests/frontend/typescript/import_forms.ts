// Every way of importing the SDK is followed; `import type` brings in no decorators, and
// decorators from other packages are ignored.
// RUN: %mvmctl check %s 2>&1 | count 0
// RUN: %mvmctl compile --dump ir %s | FileCheck %s
import * as mvm from "@mvm/sdk";
import { workload as wl, entrypoint as ep, SecretRef } from "@mvm/sdk";
import type { service } from "@mvm/sdk";
import sdk = require("@mvm/sdk");
import { Injectable } from "@angular/core";

const HOST = "api.example.com";

@Injectable()
@mvm.workload({ id: "namespace", image: "template:busybox",
  network: mvm.NetworkPolicy.denyByDefault().allowHttps(HOST),
  secrets: { KEY: SecretRef("key", { hosts: [HOST] }) } })
export class Namespace {
  @mvm.entrypoint({ command: ["true"] })
  main() {}
}

@wl("aliased", { image: "template:busybox", volumes: [sdk.Volume.memory("/scratch", { sizeMb: 16 })] })
export default class Aliased {
  @ep("run", { command: ["true"] })
  main() {}

  @sdk.service({ command: ["serve"], port: 8080 })
  api() {}
}

// CHECK: "id":"namespace"
// CHECK-SAME: "rules":[{"host":"api.example.com",{{.*}}"protocol":"https"}]
// CHECK-SAME: "secrets":[{"env":"KEY","hosts":["api.example.com"]
// CHECK-SAME: "entrypoints":[{"command":["true"],"loc":{{{[^}]*}}},"name":"run"}],"id":"aliased"
// CHECK-SAME: "services":[{"command":["serve"],"loc":{{{[^}]*}}},"name":"api","port":8080}]
// CHECK-SAME: "volumes":[{"kind":"memory",{{.*}}"size_mb":16,"target":"/scratch"}]
