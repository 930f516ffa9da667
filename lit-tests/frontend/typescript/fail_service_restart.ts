// A service's `restart` and `maxRestarts` in TypeScript: diagnostics spell the option as TypeScript
// does (`maxRestarts`), and a valid declaration lowers to the IR's `restart` and `max_restarts`.
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s --implicit-check-not=max_restarts
import { service, workload } from "@mvm/sdk";

@workload("ts-svc", { image: "template:busybox" })
export class TsSvc {
  @service({ command: ["httpd", "-f"], port: 8080, restart: "sometimes", maxRestarts: -1 })
  http() {}
}

// CHECK: fail_service_restart.ts:8:61: error: invalid `restart` value `sometimes`: expected `never`, `on-failure` or `always` [invalid-value]
// CHECK: fail_service_restart.ts:8:87: error: `maxRestarts` is -1, outside the range 0..1000 [out-of-range]
// CHECK: 2 errors generated.
