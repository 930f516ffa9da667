# Image references: `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]` or `template:<name>`.
# The error is at the image value and says what is wrong with it.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload

# Kinds.
@workload("bad-kind", image="docker://ubuntu:22.04")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:29: error: invalid image reference `docker://ubuntu:22.04`: unknown image kind `docker`; expected `nix:`, `oci:` or `template:` [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("bad-kind", image="docker://ubuntu:22.04"){{$}}
# CHECK-NEXT: {{^}}                            ^~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
# JSON: {"file":"{{[^"]*}}fail_invalid_image_ref.py","line":[[@LINE-5]],"column":29,"end_line":[[@LINE-5]],"end_column":52,"severity":"error","code":"MVM2005","kind":"invalid-image-ref","message":"invalid image reference `docker://ubuntu:22.04`: unknown image kind `docker`; expected `nix:`, `oci:` or `template:`","hint":"use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`"}
def bad_kind(): ...

@workload("tag-without-kind", image="ubuntu:22.04")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:37: error: invalid image reference `ubuntu:22.04`: unknown image kind `ubuntu`; expected `nix:`, `oci:` or `template:` [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("tag-without-kind", image="ubuntu:22.04"){{$}}
# CHECK-NEXT: {{^}}                                    ^~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: for an OCI image, write `oci:ubuntu:22.04`{{$}}
def tag_without_kind(): ...

@workload("no-kind", image="busybox")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:28: error: invalid image reference `busybox`: the reference has no kind; expected `nix:`, `oci:` or `template:` [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("no-kind", image="busybox"){{$}}
# CHECK-NEXT: {{^}}                           ^~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: for an OCI image, write `oci:busybox`{{$}}
def no_kind(): ...

# OCI references.
@workload("oci-empty", image="oci:")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:30: error: invalid image reference `oci:`: the reference is empty [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("oci-empty", image="oci:"){{$}}
# CHECK-NEXT: {{^}}                             ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def oci_empty(): ...

@workload("oci-uppercase", image="oci:Ubuntu:22.04")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:34: error: invalid image reference `oci:Ubuntu:22.04`: repository names must be lowercase (`Ubuntu`) [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("oci-uppercase", image="oci:Ubuntu:22.04"){{$}}
# CHECK-NEXT: {{^}}                                 ^~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def oci_uppercase(): ...

@workload("oci-space", image="oci:ubuntu:two words")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:30: error: invalid image reference `oci:ubuntu:two words`: a reference contains no whitespace [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("oci-space", image="oci:ubuntu:two words"){{$}}
# CHECK-NEXT: {{^}}                             ^~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def oci_space(): ...

# Digests.
@workload("digest-short", image="oci:ubuntu@sha256:0123abcd")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:33: error: invalid image reference `oci:ubuntu@sha256:0123abcd`: invalid digest `sha256:0123abcd`: a sha256 digest has 64 hex digits, this one has 8 [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("digest-short", image="oci:ubuntu@sha256:0123abcd"){{$}}
# CHECK-NEXT: {{^}}                                ^~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def digest_short(): ...

@workload("digest-not-hex", image="oci:ubuntu@sha256:z123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:35: error: invalid image reference `oci:ubuntu@sha256:z123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`: invalid digest `sha256:z123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`: `z` is not a hex digit [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("digest-not-hex", image="oci:ubuntu@sha256:z123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"){{$}}
# CHECK-NEXT: {{^}}                                  ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def digest_not_hex(): ...

@workload("digest-md5", image="oci:ubuntu@md5:0123456789abcdef0123456789abcdef")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:31: error: invalid image reference `oci:ubuntu@md5:0123456789abcdef0123456789abcdef`: unsupported digest algorithm `md5`; images are pinned by `sha256` [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("digest-md5", image="oci:ubuntu@md5:0123456789abcdef0123456789abcdef"){{$}}
# CHECK-NEXT: {{^}}                              ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def digest_md5(): ...

# Nix flake outputs.
@workload("nix-no-attr", image="nix:./flake")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:32: error: invalid image reference `nix:./flake`: a nix image names a flake output: `<flakeref>#<attr>` [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("nix-no-attr", image="nix:./flake"){{$}}
# CHECK-NEXT: {{^}}                               ^~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def nix_no_attr(): ...

@workload("nix-no-flake", image="nix:#agent-runtime")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:33: error: invalid image reference `nix:#agent-runtime`: the flake reference before `#` is empty [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("nix-no-flake", image="nix:#agent-runtime"){{$}}
# CHECK-NEXT: {{^}}                                ^~~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def nix_no_flake(): ...

# Templates.
@workload("template-empty", image="template:")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:35: error: invalid image reference `template:`: the template name is empty; built-in templates: `busybox`, `python-3.11` [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("template-empty", image="template:"){{$}}
# CHECK-NEXT: {{^}}                                  ^~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def template_empty(): ...

@workload("template-bad-name", image="template:Python 3")
# CHECK: fail_invalid_image_ref.py:[[@LINE-1]]:38: error: invalid image reference `template:Python 3`: template names are lowercase letters, digits, `.` and `-`, starting with a letter or digit [invalid-image-ref]{{$}}
# CHECK-NEXT: {{^}}@workload("template-bad-name", image="template:Python 3"){{$}}
# CHECK-NEXT: {{^}}                                     ^~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use `nix:<flakeref>#<attr>`, `oci:<name>[:<tag>][@sha256:<64 hex>]`, `template:<name>` or `Image.debian(packages=[...])`{{$}}
def template_bad_name(): ...

# Valid references of each kind, for contrast.
@workload("ok-oci", image="oci:ghcr.io/org/app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
def ok_oci(): ...

@workload("ok-nix", image="nix:github:org/repo#app")
def ok_nix(): ...

@workload("ok-template", image="template:python-3.11")
def ok_template(): ...
# CHECK: {{^}}13 errors generated.{{$}}
