# A file that imports mvm but declares nothing compiles to a module with no workloads; the compiler never
# falls back to running it.
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
# RUN: rm -rf %t && %mvmctl compile -o %t %s
# RUN: not ls %t/*.ir.json
# JSON: {{^}}{"diagnostics":[]}{{$}}
# CHECK: {{^}}{"schema_version":"mvm.ir/v1"}{{$}}
import mvm
from mvm import SecretRef, workload

REF = SecretRef("unused", hosts=["api.example.com"])

if __name__ == "__main__":
    raise SystemExit("running this file is never part of compiling it")
