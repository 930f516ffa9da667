# `@service(restart=..., max_restarts=...)` lowers to the IR's `restart` and `max_restarts`; left out,
# neither is set (the runtime's default is `on-failure`, at most 10 restarts). The TypeScript
# spelling lowers to the same IR (lit-tests/frontend/typescript/service_restart.ts).
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
from mvm import service, workload


@workload("svc", image="template:busybox", ports=[9000])
class Svc:
    @service(command=["httpd", "-f"], port=8080, restart="always", max_restarts=3)
    def http(self): ...

    @service(command=["sleep", "1000"])
    def idle(self): ...
# CHECK: "ports":[9000]
# CHECK-SAME: "services":[{"command":["httpd","-f"],"loc":{{[{][^}]*}}},"max_restarts":3,"name":"http","port":8080,"restart":"always"},{"command":["sleep","1000"],"loc":{{[{][^}]*}}},"name":"idle"}]
