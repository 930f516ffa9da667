# A workload whose only entrypoint has a mistake does declare an entrypoint: the mistake is reported, and
# `no-entrypoint` must not pile on ("has no entrypoint" would send the user looking for the wrong thing).
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s
# CHECK-NOT: [no-entrypoint]
# CHECK: fail_no_entrypoint_after_member_error.py:[[@LINE+6]]:25: error: `command` expects a non-empty list of strings, got a string [type-mismatch]
# CHECK-NOT: [no-entrypoint]
from mvm import workload, entrypoint

@workload("broken-member", image="template:busybox")
class BrokenMember:
    @entrypoint(command="python3 /app/main.py")
    def main(self): ...
