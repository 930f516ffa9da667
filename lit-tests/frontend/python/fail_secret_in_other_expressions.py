# Any expression in a secret's place is secret material: conditionals, fallbacks, lists, unpacking and
# unknown `SecretRef` options never show a string literal in any output format.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=sarif %s | FileCheck %s --check-prefix=NOLEAK
# CHECK-NOT: sk-live
# NOLEAK-NOT: sk-live
import os
from mvm import workload, SecretRef

c = 1
x = {}

@workload("a", image="template:busybox", secrets={"A": "sk-live-aaa" if c else "sk-live-bbb", "B": os.environ.get("K") or "sk-live-ccc", "C": ["sk-live-ddd"], "D": SecretRef("d", bogus="sk-live-eee")})
# CHECK: fail_secret_in_other_expressions.py:[[@LINE-1]]:56: error: this expression is not a static value [non-static]
# CHECK-NEXT: @workload("a", image="template:busybox", secrets={"A": "****" if c else "****", "B": os.environ.get("****") or "****", "C": "****", "…
# CHECK: error: `secrets["C"]` expects `SecretRef(name, hosts=[...])`, got a list [type-mismatch]
# CHECK: error: unknown option `bogus` for `SecretRef` [unknown-option]
def a(): ...

@workload("b", image="template:busybox", secrets={**x, "K": "sk-live-fff"})
# CHECK: fail_secret_in_other_expressions.py:[[@LINE-1]]:51: error: this expression is not a static value [non-static]
# CHECK-NEXT: @workload("b", image="template:busybox", secrets={**x, "****": "****"})
def b(): ...
# CHECK-NOT: sk-live
