# An unknown keyword is reported at the keyword itself, with a "did you mean" when one option is close
# and the list of known options when none is.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, service, NetworkPolicy, SecretRef, Volume

@workload("wl", image="template:busybox", memory=512)
# CHECK: fail_unknown_option.py:[[@LINE-1]]:43: error: unknown option `memory` for `@workload` [unknown-option]{{$}}
# CHECK-NEXT: {{^}}@workload("wl", image="template:busybox", memory=512){{$}}
# CHECK-NEXT: {{^}}                                          ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: did you mean `memory_mb`?{{$}}
# JSON: {"file":"{{[^"]*}}fail_unknown_option.py","line":[[@LINE-5]],"column":43,"end_line":[[@LINE-5]],"end_column":49,"severity":"error","code":"MVM1002","kind":"unknown-option","message":"unknown option `memory` for `@workload`","hint":"did you mean `memory_mb`?"}
def wl(): ...

@workload("nothing-close", image="template:busybox", frobnicate=1)
# CHECK: fail_unknown_option.py:[[@LINE-1]]:54: error: unknown option `frobnicate` for `@workload` [unknown-option]{{$}}
# CHECK-NEXT: {{^}}@workload("nothing-close", image="template:busybox", frobnicate=1){{$}}
# CHECK-NEXT: {{^}}                                                     ^~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: known options: `id`, `image`, `cpu`, `memory_mb`, `disk_mb`, `timeout_seconds`, `network`, `secrets`, `volumes`, `env`, `ports`, `isolation`, `labels`, `files`{{$}}
def nothing_close(): ...

@workload("ep", image="template:busybox")
class Ep:
    @entrypoint(command=["true"], timeout_second=5)
    # CHECK: fail_unknown_option.py:[[@LINE-1]]:35: error: unknown option `timeout_second` for `@entrypoint` [unknown-option]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint(command=["true"], timeout_second=5){{$}}
    # CHECK-NEXT: {{^}}                                  ^~~~~~~~~~~~~~{{$}}
    # CHECK-NEXT: {{^}}  hint: did you mean `timeout_seconds`?{{$}}
    def main(self): ...

    @service("api", command=["true"], prot=8080)
    # CHECK: fail_unknown_option.py:[[@LINE-1]]:39: error: unknown option `prot` for `@service` [unknown-option]{{$}}
    # CHECK-NEXT: {{^}}    @service("api", command=["true"], prot=8080){{$}}
    # CHECK-NEXT: {{^}}                                      ^~~~{{$}}
    # CHECK-NEXT: {{^}}  hint: did you mean `port`?{{$}}
    def api(self): ...

@workload("secret", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_https("api.example.com"),
          secrets={"KEY": SecretRef("key", host=["api.example.com"])})
# CHECK: fail_unknown_option.py:[[@LINE-1]]:44: error: unknown option `host` for `SecretRef` [unknown-option]{{$}}
# CHECK-NEXT: {{^}}          secrets={"KEY": SecretRef("key", host=["api.example.com"])}){{$}}
# CHECK-NEXT: {{^}}                                           ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: did you mean `hosts`?{{$}}
def secret(): ...

@workload("volume", image="template:busybox",
          volumes=[Volume.local("./data", "/data", mod="ro"), Volume.memory("/tmp", sizemb=8)])
# CHECK: fail_unknown_option.py:[[@LINE-1]]:52: error: unknown option `mod` for `Volume.local` [unknown-option]{{$}}
# CHECK-NEXT: {{^}}          volumes=[Volume.local("./data", "/data", mod="ro"), Volume.memory("/tmp", sizemb=8)]){{$}}
# CHECK-NEXT: {{^}}                                                   ^~~{{$}}
# CHECK-NEXT: {{^}}  hint: did you mean `mode`?{{$}}
# CHECK: fail_unknown_option.py:[[@LINE-5]]:85: error: unknown option `sizemb` for `Volume.memory` [unknown-option]{{$}}
# CHECK-NEXT: {{^}}          volumes=[Volume.local("./data", "/data", mod="ro"), Volume.memory("/tmp", sizemb=8)]){{$}}
# CHECK-NEXT: {{^}}                                                                                    ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: did you mean `size_mb`?{{$}}
def volume(): ...

@workload("network", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_htps("api.example.com").allow_dns())
# CHECK: fail_unknown_option.py:[[@LINE-1]]:51: error: unknown option `allow_htps` for `NetworkPolicy` [unknown-option]{{$}}
# CHECK-NEXT: {{^}}          network=NetworkPolicy.deny_by_default().allow_htps("api.example.com").allow_dns()){{$}}
# The location is the method name only, not its arguments.
# CHECK-NEXT: {{^}}                                                  ^~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: did you mean `allow_https`?{{$}}
# JSON-SAME: {"file":"{{[^"]*}}fail_unknown_option.py","line":[[@LINE-6]],"column":51,"end_line":[[@LINE-6]],"end_column":61,"severity":"error","code":"MVM1002","kind":"unknown-option","message":"unknown option `allow_htps` for `NetworkPolicy`","hint":"did you mean `allow_https`?"}
def network(): ...
# CHECK: {{^}}8 errors generated.{{$}}
