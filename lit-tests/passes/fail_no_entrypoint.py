# A class workload without any `@entrypoint` or `@service` method is an error at its decorator, unless its
# image is an OCI image, whose Entrypoint and Cmd then run. A function workload always has its `main`
# entrypoint.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, service

@workload("empty", image="template:busybox")
# CHECK: fail_no_entrypoint.py:[[@LINE-1]]:1: error: workload `empty` has no entrypoint and no service [no-entrypoint]{{$}}
# CHECK-NEXT: {{^}}@workload("empty", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: decorate a method with `@entrypoint(command=[...])` or `@service(...)`{{$}}
# JSON: {"file":"{{[^"]*}}fail_no_entrypoint.py","line":[[@LINE-5]],"column":1,"end_line":[[@LINE-5]],"end_column":45,"severity":"error","code":"MVM2004","kind":"no-entrypoint","message":"workload `empty` has no entrypoint and no service","hint":"decorate a method with `@entrypoint(command=[...])` or `@service(...)`"}
class Empty:
    def main(self): ...

@workload("only-helpers", image="template:busybox",
          # CHECK: fail_no_entrypoint.py:[[@LINE-1]]:1: error: workload `only-helpers` has no entrypoint and no service [no-entrypoint]{{$}}
          # CHECK-NEXT: {{^}}@workload("only-helpers", image="template:busybox",{{$}}
          # CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: decorate a method with `@entrypoint(command=[...])` or `@service(...)`{{$}}
          cpu=1)
class OnlyHelpers:
    @staticmethod
    def helper(): ...

@workload("function", image="template:busybox")
def function(): ...

@workload("image-default", image="oci:registry.example.com/tool:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
class ImageDefault:
    pass

@workload("service-only", image="template:busybox")
class ServiceOnly:
    @service("api", command=["serve"])
    def api(self): ...
# CHECK: {{^}}2 errors generated.{{$}}
