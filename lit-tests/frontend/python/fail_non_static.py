# RUN: not %mvmctl check %s 2>&1 | FileCheck %s
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
import os
from mvm import workload, entrypoint

@workload("a", image=os.environ["IMAGE"])
# CHECK: fail_non_static.py:[[@LINE-1]]:22: error: `os.environ["IMAGE"]` is not a static value [non-static]
# CHECK-NEXT: @workload("a", image=os.environ["IMAGE"])
# CHECK-NEXT: {{^}}                     ^~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: hint: environment variables are read when code runs
# JSON: "kind":"non-static"
class A:
    @entrypoint(command=["true"])
    def main(self): ...
