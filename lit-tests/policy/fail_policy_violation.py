# RUN: not %mvmctl check %s --policy %S/Inputs/strict.json 2>&1 | FileCheck %s
# RUN: not %mvmctl check %s --policy %S/Inputs/strict.json --format=json | FileCheck %s --check-prefix=JSON
# RUN: sh %S/../plan/Inputs/expect_exit.sh 1 %mvmctl compile %s -o %t --policy %S/Inputs/strict.json 2>/dev/null
# The policy only tightens: without it the dev profile accepts this file.
# RUN: %mvmctl check %s
from mvm import workload, entrypoint, NetworkPolicy

@workload(
    "wide",
    image="oci:docker.io/library/python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
# CHECK: fail_policy_violation.py:[[@LINE-1]]:11: error: image `oci:docker.io/library/python@sha256:{{[0-9a-f]+}}` comes from `docker.io/library/python`: the organisation policy `{{.*}}strict.json` sets `allowed_registries` to [`ghcr.io/acme`, `127.0.0.1:5000`] [policy-violation]
# CHECK: hint: change the declaration to fit within the policy; only the policy's owner can loosen it
    cpu=8,
# CHECK: fail_policy_violation.py:[[@LINE-1]]:9: error: `cpu` is 8: the organisation policy `{{.*}}strict.json` sets `max_cpu` to 4 [policy-violation]
    memory_mb=4096,
# CHECK: fail_policy_violation.py:[[@LINE-1]]:15: error: `memory_mb` is 4096: the organisation policy `{{.*}}` sets `max_memory_mb` to 2048 [policy-violation]
    disk_mb=8192,
# CHECK: fail_policy_violation.py:[[@LINE-1]]:13: error: `disk_mb` is 8192: the organisation policy `{{.*}}` sets `max_disk_mb` to 4096 [policy-violation]
    timeout_seconds=3600,
# CHECK: fail_policy_violation.py:[[@LINE-1]]:21: error: `timeout_seconds` is 3600: the organisation policy `{{.*}}` sets `max_timeout_seconds` to 600 [policy-violation]
    network=NetworkPolicy.deny_by_default()
    .allow_https("api.openai.com")
    .allow_https("api.acme.dev")
    .allow_http("example.org"),
# CHECK: fail_policy_violation.py:[[@LINE-1]]:17: error: http egress to `example.org`: the organisation policy `{{.*}}` sets `egress_allow` to [`api.openai.com`, `*.acme.dev`] [policy-violation]
    isolation="container",
# CHECK: fail_policy_violation.py:[[@LINE-1]]:15: error: `isolation` is `container`: the organisation policy `{{.*}}` sets `required_isolation` to `microvm` [policy-violation]
# CHECK: 7 errors generated.
)
class Wide:
    @entrypoint(command=["true"])
    def main(self): ...

# JSON: "line":10,"column":11,{{.*}}"code":"MVM3006","kind":"policy-violation"
