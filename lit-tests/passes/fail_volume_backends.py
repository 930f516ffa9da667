# Every diagnostic of `Volume.encrypted` and `Volume.object`, at the value it is about: store names,
# a missing or out-of-range `size_mb`, `s3://` URLs and bucket names, endpoints (https, or http only
# to the loopback host), credentials that are not a `SecretRef` (masked, never shown), and the target
# rules every volume shares.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=sarif %s | FileCheck %s --check-prefix=NOLEAK
# NOLEAK-NOT: AKIAIOSFODNN7EXAMPLE
from mvm import SecretRef, Volume, workload, entrypoint

E = "https://s3.example.com"
K = SecretRef("keys")

@workload("encrypted", image="template:busybox",
          volumes=[Volume.encrypted("my notes", "/n1", size_mb=1),
                   Volume.encrypted("notes", "/n2"),
                   Volume.encrypted("notes", "/n3", size_mb=0),
                   Volume.encrypted("notes", "/n4", size_mb=1, mode="rw"),
                   Volume.encrypted("notes", "n5", size_mb=1),
                   Volume.memory("/n6/"),
                   Volume.encrypted("notes", "/n6", size_mb=1)])
class Encrypted:
    @entrypoint(command=["true"])
    def main(self): ...

@workload("object", image="template:busybox",
          volumes=[Volume.object("https://bucket/x", "/o1", endpoint=E, credentials=K),
                   Volume.object("s3://My_Bucket/x", "/o2", endpoint=E, credentials=K),
                   Volume.object("s3://bucket/a//b", "/o3", endpoint=E, credentials=K),
                   Volume.object("s3://bucket", "/o4", endpoint="http://s3.example.com", credentials=K),
                   Volume.object("s3://bucket", "/o5", endpoint="https://s3.example.com/bucket", credentials=K),
                   Volume.object("s3://bucket", "/o6", credentials=K),
                   Volume.object("s3://bucket", "/o7", endpoint=E),
                   Volume.object("s3://bucket", "/o8", endpoint=E, credentials="AKIAIOSFODNN7EXAMPLE"),
                   Volume.object("s3://bucket", "/o9", endpoint=E, credentials=SecretRef("keys", hosts=["s3.example.com"])),
                   Volume.object("s3://bucket", "/o10", endpoint=E, credentials=SecretRef("my keys")),
                   Volume.object("s3://bucket", "/o11", endpoint=E, credentials=K, mode="wr")])
class Object:
    @entrypoint(command=["true"])
    def main(self): ...

# CHECK: fail_volume_backends.py:17:37: error: invalid `name` value `my notes`: a name is made of letters, digits, `.`, `_` and `-` [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:18:20: error: `Volume.encrypted` needs `size_mb` [missing-option]{{$}}
# CHECK: fail_volume_backends.py:19:61: error: `size_mb` is 0, outside the range 1..1048576 [out-of-range]{{$}}
# CHECK: fail_volume_backends.py:20:64: error: unknown option `mode` for `Volume.encrypted` [unknown-option]{{$}}
# CHECK: fail_volume_backends.py:21:46: error: invalid `target` value `n5`: a guest path is absolute, like `/data` [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:23:46: error: invalid `target` value `/n6`: another volume is already mounted there [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:29:34: error: invalid `url` value `https://bucket/x`: an object volume's URL starts with `s3://`; write `s3://BUCKET/PREFIX` [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:30:34: error: invalid `url` value `s3://My_Bucket/x`: the bucket `My_Bucket` is not an S3 bucket name: 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:31:34: error: invalid `url` value `s3://bucket/a//b`: the prefix has an empty, `.` or `..` component [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:32:65: error: invalid `endpoint` value `http://s3.example.com`: requests carry credentials' signatures, so plain `http://` is allowed only to `127.0.0.1`, `[::1]` or `localhost`; use `https://` [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:33:65: error: invalid `endpoint` value `https://s3.example.com/bucket`: an endpoint is `https://HOST[:PORT]`, without user, path or query [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:34:20: error: `Volume.object` needs `endpoint` [missing-option]{{$}}
# CHECK: fail_volume_backends.py:35:20: error: `Volume.object` needs `credentials` [missing-option]{{$}}
# CHECK: fail_volume_backends.py:36:80: error: secret `credentials` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]{{$}}
# CHECK-NEXT: {{^}}                   Volume.object("s3://bucket", "/o8", endpoint=E, credentials="****"),{{$}}
# CHECK-NEXT: {{^}}                                                                               ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: store the access keys in the host secret store (`mvmctl secret set NAME`) and name the secret: `credentials=SecretRef("NAME")`{{$}}
# CHECK: fail_volume_backends.py:37:104: error: unknown option `hosts` for `credentials=SecretRef` [unknown-option]{{$}}
# CHECK: fail_volume_backends.py:38:91: error: invalid `credentials` value `my keys`: a name is made of letters, digits, `.`, `_` and `-` [invalid-value]{{$}}
# CHECK: fail_volume_backends.py:39:89: error: invalid `mode` value `wr`: expected `ro` or `rw` [invalid-value]{{$}}
# CHECK: {{^}}17 errors generated.{{$}}
# JSON: {"file":"{{[^"]*}}fail_volume_backends.py","line":20,"column":64,"end_line":20,"end_column":68,"severity":"error","code":"MVM1002","kind":"unknown-option","message":"unknown option `mode` for `Volume.encrypted`","hint":"known options: `name`, `target`, `size_mb`"}
# JSON-SAME: {"file":"{{[^"]*}}fail_volume_backends.py","line":36,"column":80,"end_line":36,"end_column":102,"severity":"error","code":"MVM1005","kind":"plaintext-secret","message":"secret `credentials` is a plaintext string; secrets must be `SecretRef` references","hint":"store the access keys in the host secret store (`mvmctl secret set NAME`) and name the secret: `credentials=SecretRef(\"NAME\")`"}
# JSON-SAME: {"file":"{{[^"]*}}fail_volume_backends.py","line":37,"column":104,"end_line":37,"end_column":122,"severity":"error","code":"MVM1002","kind":"unknown-option","message":"unknown option `hosts` for `credentials=SecretRef`","hint":"an object volume's credentials only sign requests to its `endpoint`, so they name no hosts; leave out `hosts`"}
