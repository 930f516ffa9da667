# Every way of importing the SDK is followed: the module under an alias, names under aliases, and `*`.
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
import mvm as m
from mvm import *
from mvm import entrypoint as ep
from mvm import workload as wl

@m.workload("module-alias", image="template:busybox",
            network=m.NetworkPolicy.deny_by_default().allow_https("api.example.com"),
            secrets={"KEY": m.SecretRef("key", hosts=["api.example.com"])},
            volumes=[m.Volume.memory("/scratch", size_mb=16)])
class ModuleAlias:
    @m.entrypoint(command=["true"])
    def main(self): ...

    @m.service("api", command=["serve"], port=8080)
    def api(self): ...

@wl("name-alias", image="template:busybox")
class NameAlias:
    @ep("run", command=["true"])
    def main(self): ...

@workload("star", image="template:busybox", volumes=[Volume.local("./data", "/data")],
          network=NetworkPolicy.deny_by_default().allow_dns(),
          secrets={"KEY": SecretRef("key")})
class Star:
    @service("svc", command=["true"])
    def svc(self): ...

# CHECK: "id":"module-alias"
# CHECK-SAME: "network":{"default":"deny","loc":{{[{][^}]*}}},"rules":[{"host":"api.example.com","loc":{{[{][^}]*}}},"protocol":"https"}]}
# CHECK-SAME: "secrets":[{"env":"KEY","hosts":["api.example.com"],"loc":{{[{][^}]*}}},"name":"key"}]
# CHECK-SAME: "services":[{"command":["serve"],"loc":{{[{][^}]*}}},"name":"api","port":8080}]
# CHECK-SAME: "volumes":[{"kind":"memory","loc":{{[{][^}]*}}},"size_mb":16,"target":"/scratch"}]
# CHECK-SAME: "entrypoints":[{"command":["true"],"loc":{{[{][^}]*}}},"name":"run"}],"id":"name-alias"
# CHECK-SAME: "id":"star"
# CHECK-SAME: "network":{"default":"deny","dns":true,"loc":{{[{][^}]*}}}}
# CHECK-SAME: "secrets":[{"env":"KEY","loc":{{[{][^}]*}}},"name":"key"}]
# CHECK-SAME: "services":[{"command":["true"],"loc":{{[{][^}]*}}},"name":"svc"}]
# CHECK-SAME: "volumes":[{"kind":"local","loc":{{[{][^}]*}}},"source":"./data","target":"/data"}]
