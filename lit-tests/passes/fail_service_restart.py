# A service's `restart` policy is `never`, `on-failure` or `always` (a close value is suggested), and
# `max_restarts` is bounded; both lower into the IR as declared.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import service, workload


@workload("svc", image="template:busybox")
class Svc:
    @service(command=["httpd", "-f"], port=8080, restart="on_failure", max_restarts=1001)
    # CHECK: fail_service_restart.py:[[@LINE-1]]:58: error: invalid `restart` value `on_failure`: expected `never`, `on-failure` or `always` [invalid-value]{{$}}
    # CHECK-NEXT: {{^}}    @service(command=["httpd", "-f"], port=8080, restart="on_failure", max_restarts=1001){{$}}
    # CHECK-NEXT: {{^}}                                                         ^~~~~~~~~~~~{{$}}
    # CHECK-NEXT: {{^}}  hint: did you mean `on-failure`?{{$}}
    # CHECK: fail_service_restart.py:[[@LINE-5]]:85: error: `max_restarts` is 1001, outside the range 0..1000 [out-of-range]{{$}}
    # JSON: "code":"MVM2008","kind":"invalid-value","message":"invalid `restart` value `on_failure`: expected `never`, `on-failure` or `always`","hint":"did you mean `on-failure`?"
    def http(self): ...
# CHECK: {{^}}2 errors generated.{{$}}
