# A required option that is absent is reported at the call that lacks it.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, service, NetworkPolicy, SecretRef, Volume

@workload(image="template:busybox")
# CHECK: fail_missing_option.py:[[@LINE-1]]:1: error: `@workload` needs `id` [missing-option]{{$}}
# CHECK-NEXT: {{^}}@workload(image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# JSON: {"file":"{{[^"]*}}fail_missing_option.py","line":[[@LINE-4]],"column":1,"end_line":[[@LINE-4]],"end_column":36,"severity":"error","code":"MVM1004","kind":"missing-option","message":"`@workload` needs `id`"}
def no_id(): ...

@workload("no-image")
# CHECK: fail_missing_option.py:[[@LINE-1]]:1: error: `@workload` needs `image` [missing-option]{{$}}
# CHECK-NEXT: {{^}}@workload("no-image"){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~{{$}}
def no_image(): ...

@workload
# CHECK: fail_missing_option.py:[[@LINE-1]]:1: error: `@workload` needs `id` [missing-option]{{$}}
# CHECK-NEXT: {{^}}@workload{{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~{{$}}
# CHECK: fail_missing_option.py:[[@LINE-4]]:1: error: `@workload` needs `image` [missing-option]{{$}}
# CHECK-NEXT: {{^}}@workload{{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~{{$}}
def bare(): ...

@workload("members", image="template:busybox")
class Members:
    @entrypoint(command=["true"])
    def main(self): ...

    @entrypoint("no-command")
    # CHECK: fail_missing_option.py:[[@LINE-1]]:5: error: `@entrypoint` needs `command` [missing-option]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint("no-command"){{$}}
    # CHECK-NEXT: {{^}}    ^~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
    def no_command(self): ...

    @service("no-command-service", port=8080)
    # CHECK: fail_missing_option.py:[[@LINE-1]]:5: error: `@service` needs `command` [missing-option]{{$}}
    # CHECK-NEXT: {{^}}    @service("no-command-service", port=8080){{$}}
    # CHECK-NEXT: {{^}}    ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
    def no_command_service(self): ...

@workload("helpers", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_https(),
          # CHECK: fail_missing_option.py:[[@LINE-1]]:51: error: `allow_https` needs `host` [missing-option]{{$}}
          # CHECK-NEXT: {{^}}          network=NetworkPolicy.deny_by_default().allow_https(),{{$}}
          # CHECK-NEXT: {{^}}                                                  ^~~~~~~~~~~{{$}}
          secrets={"KEY": SecretRef(hosts=[])},
          # CHECK: fail_missing_option.py:[[@LINE-1]]:27: error: `SecretRef` needs `name` [missing-option]{{$}}
          # CHECK-NEXT: {{^}}          secrets={"KEY": SecretRef(hosts=[])},{{$}}
          # CHECK-NEXT: {{^}}                          ^~~~~~~~~~~~~~~~~~~{{$}}
          volumes=[Volume.local("./data"), Volume.memory(size_mb=8)])
# CHECK: fail_missing_option.py:[[@LINE-1]]:20: error: `Volume.local` needs `target` [missing-option]{{$}}
# CHECK-NEXT: {{^}}          volumes=[Volume.local("./data"), Volume.memory(size_mb=8)]){{$}}
# CHECK-NEXT: {{^}}                   ^~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK: fail_missing_option.py:[[@LINE-4]]:44: error: `Volume.memory` needs `target` [missing-option]{{$}}
# CHECK-NEXT: {{^}}          volumes=[Volume.local("./data"), Volume.memory(size_mb=8)]){{$}}
# CHECK-NEXT: {{^}}                                           ^~~~~~~~~~~~~~~~~~~~~~~~{{$}}
def helpers(): ...
# CHECK: {{^}}10 errors generated.{{$}}
