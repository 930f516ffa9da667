# A secret may only be sent to hosts the network policy allows (an exact rule or a `*.suffix` wildcard,
# compared case-insensitively), in every profile; without `network=` nothing is allowed.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, NetworkPolicy, SecretRef

@workload("policy", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_https("api.openai.com").allow_https("*.example.com"),
          secrets={"OPENAI": SecretRef("openai", hosts=["api.openai.com", "evil.example.net"]),
                   # CHECK: fail_secret_host_not_allowed.py:[[@LINE-1]]:75: error: secret `OPENAI` may be sent to `evil.example.net`, but the network policy does not allow that host [secret-host-not-allowed]{{$}}
                   # CHECK-NEXT: {{^}}          secrets={"OPENAI": SecretRef("openai", hosts=["api.openai.com", "evil.example.net"]),{{$}}
                   # CHECK-NEXT: {{^}}                                                                          ^~~~~~~~~~~~~~~~~~{{$}}
                   # CHECK-NEXT: {{^}}  hint: add `.allow_https("evil.example.net")` to the workload's `network=` policy, or remove the host{{$}}
                   # JSON: {"file":"{{[^"]*}}fail_secret_host_not_allowed.py","line":[[@LINE-5]],"column":75,"end_line":[[@LINE-5]],"end_column":93,"severity":"error","code":"MVM3001","kind":"secret-host-not-allowed","message":"secret `OPENAI` may be sent to `evil.example.net`, but the network policy does not allow that host","hint":"add `.allow_https(\"evil.example.net\")` to the workload's `network=` policy, or remove the host"}
                   "EXAMPLE": SecretRef("example", hosts=["a.example.com", "example.com", "API.OPENAI.COM"])})
# CHECK: fail_secret_host_not_allowed.py:[[@LINE-1]]:76: error: secret `EXAMPLE` may be sent to `example.com`, but the network policy does not allow that host [secret-host-not-allowed]{{$}}
# CHECK-NEXT: {{^}}                   "EXAMPLE": SecretRef("example", hosts=["a.example.com", "example.com", "API.OPENAI.COM"])}){{$}}
# CHECK-NEXT: {{^}}                                                                           ^~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: add `.allow_https("example.com")` to the workload's `network=` policy, or remove the host{{$}}
def policy(): ...

@workload("no-network", image="template:busybox",
          secrets={"KEY": SecretRef("key", hosts=["api.openai.com"])})
# CHECK: fail_secret_host_not_allowed.py:[[@LINE-1]]:51: error: secret `KEY` may be sent to `api.openai.com`, but the network policy does not allow that host [secret-host-not-allowed]{{$}}
# CHECK-NEXT: {{^}}          secrets={"KEY": SecretRef("key", hosts=["api.openai.com"])}){{$}}
# CHECK-NEXT: {{^}}                                                  ^~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: the workload has no network at all; add `network=NetworkPolicy.deny_by_default().allow_https("api.openai.com")`, or remove the host{{$}}
def no_network(): ...

@workload("dns-only", image="template:busybox", network=NetworkPolicy.deny_by_default().allow_dns(),
          secrets={"KEY": SecretRef("key", hosts=["api.openai.com"])})
# CHECK: fail_secret_host_not_allowed.py:[[@LINE-1]]:51: error: secret `KEY` may be sent to `api.openai.com`, but the network policy does not allow that host [secret-host-not-allowed]{{$}}
# CHECK-NEXT: {{^}}          secrets={"KEY": SecretRef("key", hosts=["api.openai.com"])}){{$}}
# CHECK-NEXT: {{^}}                                                  ^~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: add `.allow_https("api.openai.com")` to the workload's `network=` policy, or remove the host{{$}}
def dns_only(): ...
# CHECK: {{^}}4 errors generated.{{$}}
