# Enum-like values (`isolation`, volume `mode`), guest mount targets and environment variable names are
# checked; a close valid value is suggested.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, NetworkPolicy, SecretRef, Volume

@workload("enums", image="template:busybox", isolation="microvmm",
          # CHECK: fail_invalid_value.py:[[@LINE-1]]:56: error: invalid `isolation` value `microvmm`: expected `microvm` or `container` [invalid-value]{{$}}
          # CHECK-NEXT: {{^}}@workload("enums", image="template:busybox", isolation="microvmm",{{$}}
          # CHECK-NEXT: {{^}}                                                       ^~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: did you mean `microvm`?{{$}}
          # JSON: {"file":"{{[^"]*}}fail_invalid_value.py","line":[[@LINE-5]],"column":56,"end_line":[[@LINE-5]],"end_column":66,"severity":"error","code":"MVM2008","kind":"invalid-value","message":"invalid `isolation` value `microvmm`: expected `microvm` or `container`","hint":"did you mean `microvm`?"}
          volumes=[Volume.local("./data", "/data", mode="rx")])
# CHECK: fail_invalid_value.py:[[@LINE-1]]:57: error: invalid `mode` value `rx`: expected `ro` or `rw` [invalid-value]{{$}}
# CHECK-NEXT: {{^}}          volumes=[Volume.local("./data", "/data", mode="rx")]){{$}}
# CHECK-NEXT: {{^}}                                                        ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: did you mean `ro`?{{$}}
def enums(): ...

@workload("targets", image="template:busybox",
          volumes=[Volume.local("./data", "data"), Volume.memory("/"), Volume.memory("/a/../b"),
                   # CHECK: fail_invalid_value.py:[[@LINE-1]]:43: error: invalid `target` value `data`: a guest path is absolute, like `/data` [invalid-value]{{$}}
                   # CHECK-NEXT: {{^}}          volumes=[Volume.local("./data", "data"), Volume.memory("/"), Volume.memory("/a/../b"),{{$}}
                   # CHECK-NEXT: {{^}}                                          ^~~~~~{{$}}
                   # CHECK: fail_invalid_value.py:[[@LINE-4]]:66: error: invalid `target` value `/`: a volume cannot be mounted over the guest's root `/` [invalid-value]{{$}}
                   # CHECK-NEXT: {{^}}          volumes=[Volume.local("./data", "data"), Volume.memory("/"), Volume.memory("/a/../b"),{{$}}
                   # CHECK-NEXT: {{^}}                                                                 ^~~{{$}}
                   # CHECK: fail_invalid_value.py:[[@LINE-7]]:86: error: invalid `target` value `/a/../b`: a guest path has no `..` components [invalid-value]{{$}}
                   # CHECK-NEXT: {{^}}          volumes=[Volume.local("./data", "data"), Volume.memory("/"), Volume.memory("/a/../b"),{{$}}
                   # CHECK-NEXT: {{^}}                                                                                     ^~~~~~~~~{{$}}
                   Volume.memory("/scratch"), Volume.memory("/scratch/")])
# CHECK: fail_invalid_value.py:[[@LINE-1]]:61: error: invalid `target` value `/scratch/`: another volume is already mounted there [invalid-value]{{$}}
# CHECK-NEXT: {{^}}                   Volume.memory("/scratch"), Volume.memory("/scratch/")]){{$}}
# CHECK-NEXT: {{^}}                                                            ^~~~~~~~~~~{{$}}
def targets(): ...

@workload("secret-env", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_https("api.example.com"),
          secrets={"API-KEY": SecretRef("key", hosts=["api.example.com"])})
# CHECK: fail_invalid_value.py:[[@LINE-1]]:20: error: invalid `secrets` value `API-KEY`: environment variable names are letters, digits and `_`, not starting with a digit [invalid-value]{{$}}
# CHECK-NEXT: {{^}}          secrets={"API-KEY": SecretRef("key", hosts=["api.example.com"])}){{$}}
# CHECK-NEXT: {{^}}                   ^~~~~~~~~{{$}}
def secret_env(): ...

@workload("env", image="template:busybox", env={"1ST": "x", "OK": "y"})
# The name is what is wrong, so the error points at the key, as it does for `secrets`.
# CHECK: fail_invalid_value.py:[[@LINE-2]]:49: error: invalid `env` value `1ST`: environment variable names are letters, digits and `_`, not starting with a digit [invalid-value]{{$}}
# CHECK-NEXT: {{^}}@workload("env", image="template:busybox", env={"1ST": "x", "OK": "y"}){{$}}
# CHECK-NEXT: {{^}}                                                ^~~~~{{$}}
# JSON-SAME: {"file":"{{[^"]*}}fail_invalid_value.py","line":[[@LINE-5]],"column":49,"end_line":[[@LINE-5]],"end_column":54,"severity":"error","code":"MVM2008","kind":"invalid-value","message":"invalid `env` value `1ST`: environment variable names are letters, digits and `_`, not starting with a digit"}
def env(): ...

@workload("env-and-secret", image="template:busybox", env={"TOKEN": "plain"},
          # CHECK: fail_invalid_value.py:[[@LINE-1]]:60: error: invalid `env` value `TOKEN`: the variable is also a secret; declare it in `env` or in `secrets`, not both [invalid-value]{{$}}
          # CHECK-NEXT: {{^}}@workload("env-and-secret", image="template:busybox", env={"TOKEN": "plain"},{{$}}
          # CHECK-NEXT: {{^}}                                                           ^~~~~~~{{$}}
          network=NetworkPolicy.deny_by_default().allow_https("api.example.com"),
          secrets={"TOKEN": SecretRef("token", hosts=["api.example.com"])})
def env_and_secret(): ...
# CHECK: {{^}}9 errors generated.{{$}}
