# `@workload` decorates a module-level class or function; `@entrypoint` and `@service` decorate methods
# of such a class. Anywhere else they are `misplaced-declaration`, at the decorator.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, service

@entrypoint(command=["true"])
# CHECK: fail_misplaced_declaration.py:[[@LINE-1]]:1: error: `@entrypoint` must decorate a method of a `@workload` class [misplaced-declaration]{{$}}
# CHECK-NEXT: {{^}}@entrypoint(command=["true"]){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# JSON: {"file":"{{[^"]*}}fail_misplaced_declaration.py","line":[[@LINE-4]],"column":1,"end_line":[[@LINE-4]],"end_column":30,"severity":"error","code":"MVM1007","kind":"misplaced-declaration","message":"`@entrypoint` must decorate a method of a `@workload` class"}
def lonely(): ...

@service("api", command=["true"])
# CHECK: fail_misplaced_declaration.py:[[@LINE-1]]:1: error: `@service` must decorate a method of a `@workload` class [misplaced-declaration]{{$}}
# CHECK-NEXT: {{^}}@service("api", command=["true"]){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
class NotAWorkload:
    pass

class Plain:
    @entrypoint(command=["true"])
    # CHECK: fail_misplaced_declaration.py:[[@LINE-1]]:5: error: `@entrypoint` must decorate a method of a module-level `@workload` class [misplaced-declaration]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint(command=["true"]){{$}}
    # CHECK-NEXT: {{^}}    ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
    def main(self): ...

def factory():
    @workload("inner", image="template:busybox")
    # CHECK: fail_misplaced_declaration.py:[[@LINE-1]]:5: error: `@workload` must decorate a module-level class or function [misplaced-declaration]{{$}}
    # CHECK-NEXT: {{^}}    @workload("inner", image="template:busybox"){{$}}
    # CHECK-NEXT: {{^}}    ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
    def inner(): ...

@workload("outer", image="template:busybox")
class Outer:
    @workload("nested", image="template:busybox")
    # CHECK: fail_misplaced_declaration.py:[[@LINE-1]]:5: error: `@workload` must decorate a module-level class or function [misplaced-declaration]{{$}}
    # CHECK-NEXT: {{^}}    @workload("nested", image="template:busybox"){{$}}
    # CHECK-NEXT: {{^}}    ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
    def nested(self): ...

    @entrypoint(command=["true"])
    def main(self): ...

    class Inner:
        @entrypoint(command=["true"])
        # CHECK: fail_misplaced_declaration.py:[[@LINE-1]]:9: error: `@entrypoint` must decorate a method of a module-level `@workload` class [misplaced-declaration]{{$}}
        # CHECK-NEXT: {{^}}        @entrypoint(command=["true"]){{$}}
        # CHECK-NEXT: {{^}}        ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
        def deeper(self): ...

@workload("function", image="template:busybox")
@entrypoint(command=["true"])
# CHECK: fail_misplaced_declaration.py:[[@LINE-1]]:1: error: `@entrypoint` must decorate a method of a `@workload` class [misplaced-declaration]{{$}}
# CHECK-NEXT: {{^}}@entrypoint(command=["true"]){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
def function(): ...
# CHECK: {{^}}7 errors generated.{{$}}
