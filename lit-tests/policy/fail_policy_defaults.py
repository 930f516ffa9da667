# A policy limit below a default applies to the default the plan would get.
# RUN: not %mvmctl check %s --policy %S/Inputs/small_memory.json 2>&1 | FileCheck %s
from mvm import workload, entrypoint

@workload("tiny", image="template:busybox")
# CHECK: fail_policy_defaults.py:[[@LINE-1]]:1: error: `memory_mb` is not declared and defaults to 512: the organisation policy `{{.*}}small_memory.json` sets `max_memory_mb` to 256 [policy-violation]
# CHECK-NEXT: @workload("tiny", image="template:busybox")
# CHECK: hint: declare `memory_mb=` with a value up to 256
# CHECK: fail_policy_defaults.py:[[@LINE-4]]:1: error: `timeout_seconds` is not declared and defaults to 300: {{.*}} sets `max_timeout_seconds` to 120 [policy-violation]
# CHECK: hint: declare `timeout_seconds=` with a value up to 120
class Tiny:
    @entrypoint(command=["true"])
    def main(self): ...
