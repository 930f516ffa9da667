# A secret slot holding an expression that is not static is `non-static`, but the string literals in it
# are still plaintext secrets: neither the message nor the printed source line may show them.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=sarif %s | FileCheck %s --check-prefix=NOLEAK
# NOLEAK-NOT: sk-live
import os

from mvm import workload

@workload("repeated", image="template:busybox", secrets={"K": "sk-live-repeated" * 2})
# CHECK: fail_plaintext_secret_in_expression.py:[[@LINE-1]]:63: error: {{.*}} is not a static value [non-static]
def repeated(): ...

@workload("fstring", image="template:busybox", secrets={"K": f"sk-live-fstring-{os.sep}"})
# CHECK: fail_plaintext_secret_in_expression.py:[[@LINE-1]]:80: error: this expression is not a static value [non-static]
def fstring(): ...

@workload("concatenated", image="template:busybox", secrets={"K": "sk-live-plus-" + os.sep})
# CHECK: fail_plaintext_secret_in_expression.py:[[@LINE-1]]:85: error: this expression is not a static value [non-static]
def concatenated(): ...
# CHECK: 3 errors generated.
