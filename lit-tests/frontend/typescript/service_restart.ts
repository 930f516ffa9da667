// `@service({ restart, maxRestarts })` lowers to the IR's `restart` and `max_restarts`, as the
// Python spelling does (lit-tests/frontend/python/service_restart.py).
// RUN: %mvmctl check %s 2>&1 | count 0
// RUN: %mvmctl compile --dump ir %s | FileCheck %s
import { service, workload } from "@mvm/sdk";

@workload("svc", { image: "template:busybox", ports: [9000] })
export class Svc {
  @service({ command: ["httpd", "-f"], port: 8080, restart: "always", maxRestarts: 3 })
  http() {}

  @service({ command: ["sleep", "1000"] })
  idle() {}
}
// CHECK: "ports":[9000]
// CHECK-SAME: "services":[{"command":["httpd","-f"],"loc":{{[{][^}]*}}},"max_restarts":3,"name":"http","port":8080,"restart":"always"},{"command":["sleep","1000"],"loc":{{[{][^}]*}}},"name":"idle"}]
