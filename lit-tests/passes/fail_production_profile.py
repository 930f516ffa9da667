# The production profile adds: `oci:` images pinned by digest, an explicit workload `timeout_seconds`,
# `microvm` isolation, and local volumes that are read-only and inside the project directory (the
# declaring file's directory). The dev profile accepts all of this file.
# The file is passed by its relative name, so the project directory is `.`.
# RUN: cd %S
# RUN: %mvmctl check fail_production_profile.py 2>&1 | count 0
# RUN: not %mvmctl check --profile production fail_production_profile.py 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --profile=production --format=json fail_production_profile.py | FileCheck %s --check-prefix=JSON
# With `--project-root /` every path is inside the project; read-write mounts are still refused.
# RUN: not %mvmctl check --profile production --project-root / fail_production_profile.py 2>&1 | FileCheck %s --check-prefix=ROOT
# ROOT-NOT: resolves outside
# ROOT: unsafe volume `./data`: read-write host mounts are not allowed in the production profile [unsafe-mount]
# ROOT-NOT: resolves outside
# ROOT: 5 errors generated.
from mvm import workload, Volume

@workload("tagged", image="oci:ubuntu:22.04", timeout_seconds=60)
# CHECK: fail_production_profile.py:[[@LINE-1]]:27: error: image `oci:ubuntu:22.04` is not pinned by digest [mutable-image-tag]{{$}}
# CHECK-NEXT: {{^}}@workload("tagged", image="oci:ubuntu:22.04", timeout_seconds=60){{$}}
# CHECK-NEXT: {{^}}                          ^~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: the production profile needs `oci:<name>@sha256:<digest>`; resolve the tag and pin it{{$}}
# JSON: {"file":"{{[^"]*}}fail_production_profile.py","line":[[@LINE-5]],"column":27,"end_line":[[@LINE-5]],"end_column":45,"severity":"error","code":"MVM3002","kind":"mutable-image-tag","message":"image `oci:ubuntu:22.04` is not pinned by digest","hint":"the production profile needs `oci:<name>@sha256:<digest>`; resolve the tag and pin it"}
def tagged(): ...

@workload("untagged", image="oci:docker.io/library/ubuntu", timeout_seconds=60)
# CHECK: fail_production_profile.py:[[@LINE-1]]:29: error: image `oci:docker.io/library/ubuntu` is not pinned by digest [mutable-image-tag]{{$}}
# CHECK-NEXT: {{^}}@workload("untagged", image="oci:docker.io/library/ubuntu", timeout_seconds=60){{$}}
# CHECK-NEXT: {{^}}                            ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: the production profile needs `oci:<name>@sha256:<digest>`; resolve the tag and pin it{{$}}
def untagged(): ...

@workload("pinned", timeout_seconds=60,
          image="oci:ubuntu:22.04@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
def pinned(): ...

@workload("no-timeout", image="template:busybox")
# CHECK: fail_production_profile.py:[[@LINE-1]]:1: error: workload `no-timeout` has no explicit `timeout_seconds` [missing-timeout]{{$}}
# CHECK-NEXT: {{^}}@workload("no-timeout", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: the production profile needs an explicit wall-clock bound, e.g. `timeout_seconds=300`{{$}}
# JSON-SAME: {"file":"{{[^"]*}}fail_production_profile.py","line":[[@LINE-5]],"column":1,"end_line":[[@LINE-5]],"end_column":50,"severity":"error","code":"MVM3003","kind":"missing-timeout","message":"workload `no-timeout` has no explicit `timeout_seconds`","hint":"the production profile needs an explicit wall-clock bound, e.g. `timeout_seconds=300`"}
def no_timeout(): ...

@workload("container", image="template:busybox", timeout_seconds=60, isolation="container")
# CHECK: fail_production_profile.py:[[@LINE-1]]:80: error: workload `container` asks for `container` isolation, which is weaker than a microVM [weak-isolation]{{$}}
# CHECK-NEXT: {{^}}@workload("container", image="template:busybox", timeout_seconds=60, isolation="container"){{$}}
# CHECK-NEXT: {{^}}                                                                               ^~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `isolation="microvm"` (the default) for the production profile{{$}}
# JSON-SAME: {"file":"{{[^"]*}}fail_production_profile.py","line":[[@LINE-5]],"column":80,"end_line":[[@LINE-5]],"end_column":91,"severity":"error","code":"MVM3004","kind":"weak-isolation","message":"workload `container` asks for `container` isolation, which is weaker than a microVM","hint":"use `isolation=\"microvm\"` (the default) for the production profile"}
def container(): ...

@workload("microvm", image="template:busybox", timeout_seconds=60, isolation="microvm")
def microvm(): ...

@workload("mounts", image="template:busybox", timeout_seconds=60,
          volumes=[Volume.local("./data", "/rw", mode="rw"),
                   # CHECK: fail_production_profile.py:[[@LINE-1]]:55: error: unsafe volume `./data`: read-write host mounts are not allowed in the production profile [unsafe-mount]{{$}}
                   # CHECK-NEXT: {{^}}          volumes=[Volume.local("./data", "/rw", mode="rw"),{{$}}
                   # CHECK-NEXT: {{^}}                                                      ^~~~{{$}}
                   # JSON-SAME: {"file":"{{[^"]*}}fail_production_profile.py","line":[[@LINE-4]],"column":55,"end_line":[[@LINE-4]],"end_column":59,"severity":"error","code":"MVM3005","kind":"unsafe-mount","message":"unsafe volume `./data`: read-write host mounts are not allowed in the production profile"}
                   Volume.local("../secrets", "/up"),
                   # CHECK: fail_production_profile.py:[[@LINE-1]]:33: error: unsafe volume `../secrets`: `../secrets` resolves outside the project directory `.` [unsafe-mount]{{$}}
                   # CHECK-NEXT: {{^}}                   Volume.local("../secrets", "/up"),{{$}}
                   # CHECK-NEXT: {{^}}                                ^~~~~~~~~~~~{{$}}
                   Volume.local("./sub/../../escape", "/sneaky"),
                   # CHECK: fail_production_profile.py:[[@LINE-1]]:33: error: unsafe volume `./sub/../../escape`: `./sub/../../escape` resolves outside the project directory `.` [unsafe-mount]{{$}}
                   # CHECK-NEXT: {{^}}                   Volume.local("./sub/../../escape", "/sneaky"),{{$}}
                   # CHECK-NEXT: {{^}}                                ^~~~~~~~~~~~~~~~~~~~{{$}}
                   Volume.local("/etc", "/absolute"),
                   # CHECK: fail_production_profile.py:[[@LINE-1]]:33: error: unsafe volume `/etc`: `/etc` resolves outside the project directory `.` [unsafe-mount]{{$}}
                   # CHECK-NEXT: {{^}}                   Volume.local("/etc", "/absolute"),{{$}}
                   # CHECK-NEXT: {{^}}                                ^~~~~~{{$}}
                   Volume.local("./data", "/ro"),
                   Volume.local("./sub/../data", "/normalised", mode="ro"),
                   Volume.memory("/scratch")])
def mounts(): ...
# CHECK: {{^}}8 errors generated.{{$}}
