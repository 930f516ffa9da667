# An organisation policy (`--policy mvm-policy.json`) tightens the profile: allowed registries (whole
# path components, Docker Hub short names resolved), egress hosts, resource and timeout ceilings (also
# for the defaults an undeclared option gets), required isolation. Each excess is a `policy-violation`
# at the offending value, naming the policy file, the field and its setting. Without `--policy` the file
# is clean; workload `within` sits exactly on every limit.
# RUN: cd %S
# RUN: %mvmctl check fail_policy_violation.py 2>&1 | count 0
# RUN: not %mvmctl check --policy Inputs/mvm-policy.json fail_policy_violation.py 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --policy=Inputs/mvm-policy.json --format=json fail_policy_violation.py | FileCheck %s --check-prefix=JSON
from mvm import workload, NetworkPolicy

@workload("registry", memory_mb=128, timeout_seconds=60,
          image="oci:quay.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
# CHECK: fail_policy_violation.py:[[@LINE-1]]:17: error: image `oci:quay.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef` comes from `quay.io/acme/app`: the organisation policy `Inputs/mvm-policy.json` sets `allowed_registries` to [`ghcr.io/acme`, `docker.io`] [policy-violation]{{$}}
# CHECK-NEXT: {{^}}          image="oci:quay.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"){{$}}
# CHECK-NEXT: {{^}}                ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: change the declaration to fit within the policy; only the policy's owner can loosen it{{$}}
# JSON: {"file":"{{[^"]*}}fail_policy_violation.py","line":[[@LINE-5]],"column":17,"end_line":[[@LINE-5]],"end_column":111,"severity":"error","code":"MVM3006","kind":"policy-violation","message":"image `oci:quay.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef` comes from `quay.io/acme/app`: the organisation policy `Inputs/mvm-policy.json` sets `allowed_registries` to [`ghcr.io/acme`, `docker.io`]","hint":"change the declaration to fit within the policy; only the policy's owner can loosen it"}
def registry(): ...

@workload("prefix", image="oci:ghcr.io/acme-evil/app:1", memory_mb=128, timeout_seconds=60)
# CHECK: fail_policy_violation.py:[[@LINE-1]]:27: error: image `oci:ghcr.io/acme-evil/app:1` comes from `ghcr.io/acme-evil/app`: the organisation policy `Inputs/mvm-policy.json` sets `allowed_registries` to [`ghcr.io/acme`, `docker.io`] [policy-violation]{{$}}
# CHECK-NEXT: {{^}}@workload("prefix", image="oci:ghcr.io/acme-evil/app:1", memory_mb=128, timeout_seconds=60){{$}}
# CHECK-NEXT: {{^}}                          ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: change the declaration to fit within the policy; only the policy's owner can loosen it{{$}}
def prefix(): ...

@workload("docker-hub", image="oci:python:3.12", memory_mb=128, timeout_seconds=60)
def docker_hub(): ...

@workload("egress", image="template:busybox", memory_mb=128, timeout_seconds=60,
          network=NetworkPolicy.deny_by_default().allow_https("api.example.com").allow_http("api.openai.com"))
# CHECK: fail_policy_violation.py:[[@LINE-1]]:93: error: http egress to `api.openai.com`: the organisation policy `Inputs/mvm-policy.json` sets `egress_allow` to [`*.example.com`] [policy-violation]{{$}}
# CHECK-NEXT: {{^}}          network=NetworkPolicy.deny_by_default().allow_https("api.example.com").allow_http("api.openai.com")){{$}}
# CHECK-NEXT: {{^}}                                                                                            ^~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: change the declaration to fit within the policy; only the policy's owner can loosen it{{$}}
def egress(): ...

@workload("limits", image="template:busybox", cpu=8, memory_mb=1024, disk_mb=8192, timeout_seconds=3600)
# CHECK: fail_policy_violation.py:[[@LINE-1]]:51: error: `cpu` is 8: the organisation policy `Inputs/mvm-policy.json` sets `max_cpu` to 4 [policy-violation]{{$}}
# CHECK-NEXT: {{^}}@workload("limits", image="template:busybox", cpu=8, memory_mb=1024, disk_mb=8192, timeout_seconds=3600){{$}}
# CHECK-NEXT: {{^}}                                                  ^{{$}}
# CHECK-NEXT: {{^}}  hint: change the declaration to fit within the policy; only the policy's owner can loosen it{{$}}
# CHECK: fail_policy_violation.py:[[@LINE-5]]:64: error: `memory_mb` is 1024: the organisation policy `Inputs/mvm-policy.json` sets `max_memory_mb` to 256 [policy-violation]{{$}}
# CHECK-NEXT: {{^}}@workload("limits", image="template:busybox", cpu=8, memory_mb=1024, disk_mb=8192, timeout_seconds=3600){{$}}
# CHECK-NEXT: {{^}}                                                               ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: change the declaration to fit within the policy; only the policy's owner can loosen it{{$}}
# CHECK: fail_policy_violation.py:[[@LINE-9]]:78: error: `disk_mb` is 8192: the organisation policy `Inputs/mvm-policy.json` sets `max_disk_mb` to 4096 [policy-violation]{{$}}
# CHECK-NEXT: {{^}}@workload("limits", image="template:busybox", cpu=8, memory_mb=1024, disk_mb=8192, timeout_seconds=3600){{$}}
# CHECK-NEXT: {{^}}                                                                             ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: change the declaration to fit within the policy; only the policy's owner can loosen it{{$}}
# CHECK: fail_policy_violation.py:[[@LINE-13]]:100: error: `timeout_seconds` is 3600: the organisation policy `Inputs/mvm-policy.json` sets `max_timeout_seconds` to 600 [policy-violation]{{$}}
# CHECK-NEXT: {{^}}@workload("limits", image="template:busybox", cpu=8, memory_mb=1024, disk_mb=8192, timeout_seconds=3600){{$}}
# CHECK-NEXT: {{^}}                                                                                                   ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: change the declaration to fit within the policy; only the policy's owner can loosen it{{$}}
def limits(): ...

@workload("defaults", image="template:busybox")
# CHECK: fail_policy_violation.py:[[@LINE-1]]:1: error: `memory_mb` is not declared and defaults to 512: the organisation policy `Inputs/mvm-policy.json` sets `max_memory_mb` to 256 [policy-violation]{{$}}
# CHECK-NEXT: {{^}}@workload("defaults", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: declare `memory_mb=` with a value up to 256{{$}}
def defaults(): ...

@workload("isolation", image="template:busybox", memory_mb=128, timeout_seconds=60, isolation="container")
# CHECK: fail_policy_violation.py:[[@LINE-1]]:95: error: `isolation` is `container`: the organisation policy `Inputs/mvm-policy.json` sets `required_isolation` to `microvm` [policy-violation]{{$}}
# CHECK-NEXT: {{^}}@workload("isolation", image="template:busybox", memory_mb=128, timeout_seconds=60, isolation="container"){{$}}
# CHECK-NEXT: {{^}}                                                                                              ^~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: change the declaration to fit within the policy; only the policy's owner can loosen it{{$}}
def isolation(): ...

@workload("within", image="oci:ghcr.io/acme/app:1", cpu=4, memory_mb=256, disk_mb=4096,
          timeout_seconds=600, isolation="microvm",
          network=NetworkPolicy.deny_by_default().allow_https("*.api.example.com"))
def within(): ...
# CHECK: {{^}}9 errors generated.{{$}}
