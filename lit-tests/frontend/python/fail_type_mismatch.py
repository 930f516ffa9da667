# A value of the wrong type is reported at the value, naming the option, what it expects and what it got.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, service, NetworkPolicy, SecretRef, Volume

@workload("scalars", image="template:busybox", cpu="2", memory_mb=1.5, disk_mb=None, isolation=1)
# CHECK: fail_type_mismatch.py:[[@LINE-1]]:52: error: `cpu` expects an integer, got a string [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}@workload("scalars", image="template:busybox", cpu="2", memory_mb=1.5, disk_mb=None, isolation=1){{$}}
# CHECK-NEXT: {{^}}                                                   ^~~{{$}}
# JSON: {"file":"{{[^"]*}}fail_type_mismatch.py","line":[[@LINE-4]],"column":52,"end_line":[[@LINE-4]],"end_column":55,"severity":"error","code":"MVM1003","kind":"type-mismatch","message":"`cpu` expects an integer, got a string"}
# CHECK: fail_type_mismatch.py:[[@LINE-5]]:67: error: `memory_mb` expects an integer, got a float [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}@workload("scalars", image="template:busybox", cpu="2", memory_mb=1.5, disk_mb=None, isolation=1){{$}}
# CHECK-NEXT: {{^}}                                                                  ^~~{{$}}
# CHECK: fail_type_mismatch.py:[[@LINE-8]]:80: error: `disk_mb` expects an integer, got a null value [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}@workload("scalars", image="template:busybox", cpu="2", memory_mb=1.5, disk_mb=None, isolation=1){{$}}
# CHECK-NEXT: {{^}}                                                                               ^~~~{{$}}
# CHECK: fail_type_mismatch.py:[[@LINE-11]]:96: error: `isolation` expects a string, got an integer [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}@workload("scalars", image="template:busybox", cpu="2", memory_mb=1.5, disk_mb=None, isolation=1){{$}}
# CHECK-NEXT: {{^}}                                                                                               ^{{$}}
def scalars(): ...

@workload("collections", image="template:busybox", ports=8080, env={"A": 1}, labels=["team"],
          # CHECK: fail_type_mismatch.py:[[@LINE-1]]:58: error: `ports` expects a list of integers, got an integer [type-mismatch]{{$}}
          # CHECK-NEXT: {{^}}@workload("collections", image="template:busybox", ports=8080, env={"A": 1}, labels=["team"],{{$}}
          # CHECK-NEXT: {{^}}                                                         ^~~~{{$}}
          # CHECK: fail_type_mismatch.py:[[@LINE-4]]:74: error: `env["A"]` expects a string, got an integer [type-mismatch]{{$}}
          # CHECK-NEXT: {{^}}@workload("collections", image="template:busybox", ports=8080, env={"A": 1}, labels=["team"],{{$}}
          # CHECK-NEXT: {{^}}                                                                         ^{{$}}
          # CHECK: fail_type_mismatch.py:[[@LINE-7]]:85: error: `labels` expects a mapping of strings to strings, got a list [type-mismatch]{{$}}
          # CHECK-NEXT: {{^}}@workload("collections", image="template:busybox", ports=8080, env={"A": 1}, labels=["team"],{{$}}
          # CHECK-NEXT: {{^}}                                                                                    ^~~~~~~~{{$}}
          volumes=["./data:/data"], secrets={"KEY": 42})
# CHECK: fail_type_mismatch.py:[[@LINE-1]]:20: error: `volumes` expects `Volume.local(...)`, `Volume.memory(...)`, `Volume.encrypted(...)` or `Volume.object(...)`, got a string [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}          volumes=["./data:/data"], secrets={"KEY": "****"}){{$}}
# CHECK-NEXT: {{^}}                   ^~~~~~~~~~~~~~{{$}}
# CHECK: fail_type_mismatch.py:[[@LINE-4]]:53: error: `secrets["KEY"]` expects `SecretRef(name, hosts=[...])`, got an integer [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}          volumes=["./data:/data"], secrets={"KEY": "****"}){{$}}
# CHECK-NEXT: {{^}}                                                    ^~~~~~{{$}}
def collections(): ...

@workload("keys", image="template:busybox", env={1: "x"})
# CHECK: fail_type_mismatch.py:[[@LINE-1]]:50: error: `a mapping key` expects a string, got an integer [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}@workload("keys", image="template:busybox", env={1: "x"}){{$}}
# CHECK-NEXT: {{^}}                                                 ^{{$}}
def keys(): ...

@workload("network", image="template:busybox", network="allow-all")
# CHECK: fail_type_mismatch.py:[[@LINE-1]]:56: error: `network` expects a `NetworkPolicy.deny_by_default()` chain, got a string [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}@workload("network", image="template:busybox", network="allow-all"){{$}}
# CHECK-NEXT: {{^}}                                                       ^~~~~~~~~~~{{$}}
def network(): ...

@workload("dns", image="template:busybox", network=NetworkPolicy.deny_by_default().allow_dns("x"))
# CHECK: fail_type_mismatch.py:[[@LINE-1]]:94: error: `allow_dns` expects no arguments, got 1 [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}@workload("dns", image="template:busybox", network=NetworkPolicy.deny_by_default().allow_dns("x")){{$}}
# CHECK-NEXT: {{^}}                                                                                             ^~~{{$}}
def dns(): ...

@workload("positional", "template:busybox")
# CHECK: fail_type_mismatch.py:[[@LINE-1]]:1: error: `@workload` needs `image` [missing-option]{{$}}
# CHECK-NEXT: {{^}}@workload("positional", "template:busybox"){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# JSON-SAME: {"file":"{{[^"]*}}fail_type_mismatch.py","line":[[@LINE-4]],"column":1,"end_line":[[@LINE-4]],"end_column":44,"severity":"error","code":"MVM1004","kind":"missing-option","message":"`@workload` needs `image`"}
# CHECK: fail_type_mismatch.py:[[@LINE-5]]:25: error: `@workload` expects at most 1 positional argument, got 2 [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}@workload("positional", "template:busybox"){{$}}
# CHECK-NEXT: {{^}}                        ^~~~~~~~~~~~~~~~~~{{$}}
def positional(): ...

@workload("members", image="template:busybox")
class Members:
    @entrypoint(command=["true"])
    def main(self): ...

    @entrypoint("string", command="true")
    # CHECK: fail_type_mismatch.py:[[@LINE-1]]:35: error: `command` expects a non-empty list of strings, got a string [type-mismatch]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint("string", command="true"){{$}}
    # CHECK-NEXT: {{^}}                                  ^~~~~~{{$}}
    def string(self): ...

    @entrypoint("empty", command=[], timeout_seconds=True)
    # CHECK: fail_type_mismatch.py:[[@LINE-1]]:34: error: `command` expects a non-empty list of strings, got an empty list [type-mismatch]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint("empty", command=[], timeout_seconds=True){{$}}
    # CHECK-NEXT: {{^}}                                 ^~{{$}}
    # CHECK: fail_type_mismatch.py:[[@LINE-4]]:54: error: `timeout_seconds` expects an integer, got a boolean [type-mismatch]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint("empty", command=[], timeout_seconds=True){{$}}
    # CHECK-NEXT: {{^}}                                                     ^~~~{{$}}
    def empty(self): ...

    @service("api", command=["true"], port="80")
    # CHECK: fail_type_mismatch.py:[[@LINE-1]]:44: error: `port` expects an integer, got a string [type-mismatch]{{$}}
    # CHECK-NEXT: {{^}}    @service("api", command=["true"], port="80"){{$}}
    # CHECK-NEXT: {{^}}                                           ^~~~{{$}}
    def api(self): ...
# CHECK: {{^}}18 errors generated.{{$}}
