# Hosts in network rules and in secrets' `hosts=` are DNS names or `*.suffix` wildcards: no raw IPs, no
# scheme, port or path, no bad labels, `*` only as the whole first label.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, NetworkPolicy, SecretRef

@workload("hosts", image="template:busybox",
          network=NetworkPolicy.deny_by_default()
          .allow_https("10.0.0.1")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `10.0.0.1`: raw IP addresses are not allowed; name a host [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("10.0.0.1"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          # JSON: {"file":"{{[^"]*}}fail_invalid_host.py","line":[[@LINE-5]],"column":24,"end_line":[[@LINE-5]],"end_column":34,"severity":"error","code":"MVM2006","kind":"invalid-host","message":"invalid host `10.0.0.1`: raw IP addresses are not allowed; name a host","hint":"use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`"}
          .allow_https("::1")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `::1`: raw IP addresses are not allowed; name a host [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("::1"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("bad_label.example.com")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `bad_label.example.com`: `_` is not allowed in a host name; use letters, digits, `-` and `.` [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("bad_label.example.com"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~~~~~~~~~~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("-dash.example.com")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `-dash.example.com`: label `-dash` starts or ends with `-` [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("-dash.example.com"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~~~~~~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("api.*.example.com")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `api.*.example.com`: `*` is only allowed as the whole first label, as in `*.example.com` [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("api.*.example.com"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~~~~~~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("*.com")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `*.com`: a wildcard needs at least two labels after `*.`, as in `*.example.com` [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("*.com"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_http("https://example.com")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:23: error: invalid host `https://example.com`: a host has no scheme; write `example.com`, not `https://example.com` [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_http("https://example.com"){{$}}
          # CHECK-NEXT: {{^}}                      ^~~~~~~~~~~~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("example.com:443")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `example.com:443`: a host has no port; write `example.com`, not `example.com:443` [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("example.com:443"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~~~~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("example.com/path")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `example.com/path`: a host has no path; write `example.com` [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("example.com/path"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~~~~~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host ``: a host must not be empty [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https(""){{$}}
          # CHECK-NEXT: {{^}}                       ^~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("example.123")
          # CHECK: fail_invalid_host.py:[[@LINE-1]]:24: error: invalid host `example.123`: the last label `123` is a number, so the name would be read as an IP address [invalid-host]{{$}}
          # CHECK-NEXT: {{^}}          .allow_https("example.123"){{$}}
          # CHECK-NEXT: {{^}}                       ^~~~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
          .allow_https("*.example.com")
          .allow_https("api.example.com"),
          secrets={"KEY": SecretRef("key", hosts=["192.168.1.1", "api.example.com"])})
# CHECK: fail_invalid_host.py:[[@LINE-1]]:51: error: invalid host `192.168.1.1`: raw IP addresses are not allowed; name a host [invalid-host]{{$}}
# CHECK-NEXT: {{^}}          secrets={"KEY": SecretRef("key", hosts=["192.168.1.1", "api.example.com"])}){{$}}
# CHECK-NEXT: {{^}}                                                  ^~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use a DNS name such as `api.example.com` or a wildcard suffix `*.example.com`{{$}}
def hosts(): ...
# CHECK: {{^}}12 errors generated.{{$}}
