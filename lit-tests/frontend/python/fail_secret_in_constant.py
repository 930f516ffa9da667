# A secret's value may name a module-level constant; whatever the constant's definition holds is secret
# material too, so a definition that is not static is reported without showing a string literal of it.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=sarif %s | FileCheck %s --check-prefix=NOLEAK
# NOLEAK-NOT: sk-live
from mvm import workload, entrypoint

KEY = make("sk-live-call", "sk-live-" + "second")
# CHECK: fail_secret_in_constant.py:[[@LINE-1]]:7: error: this expression is not a static value [non-static]
# CHECK-NEXT: KEY = make("****", "****" + "****")

@workload("a", image="template:busybox", secrets={"K": KEY})
class A:
    @entrypoint(command=["true"])
    def main(self): ...
# CHECK: 1 error generated.
