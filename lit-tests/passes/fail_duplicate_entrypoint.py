# Entrypoints and services share one namespace per workload (`--entrypoint NAME` selects either); a name
# used twice is reported at the second use, with a note at the first.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, service

@workload("dup", image="template:busybox")
class Dup:
    @entrypoint(command=["true"])
    def main(self): ...

    @service("main", command=["serve"])
    # CHECK: fail_duplicate_entrypoint.py:[[@LINE-1]]:14: error: service `main` is declared more than once in workload `dup` [duplicate-entrypoint]{{$}}
    # CHECK-NEXT: {{^}}    @service("main", command=["serve"]){{$}}
    # CHECK-NEXT: {{^}}             ^~~~~~{{$}}
    # CHECK-NEXT: {{^}}  hint: give each entrypoint and service its own name{{$}}
    # CHECK-NEXT: fail_duplicate_entrypoint.py:[[@LINE-8]]:5: note: first declared here{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint(command=["true"]){{$}}
    # CHECK-NEXT: {{^}}    ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
    # JSON: {"file":"{{[^"]*}}fail_duplicate_entrypoint.py","line":[[@LINE-8]],"column":14,"end_line":[[@LINE-8]],"end_column":20,"severity":"error","code":"MVM2007","kind":"duplicate-entrypoint","message":"service `main` is declared more than once in workload `dup`","hint":"give each entrypoint and service its own name"}
    # JSON-SAME: {"file":"{{[^"]*}}fail_duplicate_entrypoint.py","line":[[@LINE-12]],"column":5,"end_line":[[@LINE-12]],"end_column":34,"severity":"note","code":"MVM2007","kind":"duplicate-entrypoint","message":"first declared here"}
    def api(self): ...

    @entrypoint("warmup", command=["true"])
    def warmup(self): ...

    @entrypoint(name="warmup", command=["false"])
    # CHECK: fail_duplicate_entrypoint.py:[[@LINE-1]]:22: error: entrypoint `warmup` is declared more than once in workload `dup` [duplicate-entrypoint]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint(name="warmup", command=["false"]){{$}}
    # CHECK-NEXT: {{^}}                     ^~~~~~~~{{$}}
    # CHECK-NEXT: {{^}}  hint: give each entrypoint and service its own name{{$}}
    # CHECK-NEXT: fail_duplicate_entrypoint.py:[[@LINE-8]]:17: note: first declared here{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint("warmup", command=["true"]){{$}}
    # CHECK-NEXT: {{^}}                ^~~~~~~~{{$}}
    def warmup_again(self): ...

# The same name in two different workloads is fine.
@workload("other", image="template:busybox")
class Other:
    @entrypoint("warmup", command=["true"])
    def main(self): ...
# CHECK: {{^}}2 errors generated.{{$}}
