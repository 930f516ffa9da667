# Workload ids are `[a-z0-9][a-z0-9-]{0,62}`; entrypoint and service names are
# `[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}`. A close valid id is suggested when there is one.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, service

@workload("Agent_Tool", image="template:busybox")
# CHECK: fail_invalid_id.py:[[@LINE-1]]:11: error: invalid workload id `Agent_Tool`: ids are lowercase letters, digits and `-`, starting with a letter or digit, at most 63 characters [invalid-id]{{$}}
# CHECK-NEXT: {{^}}@workload("Agent_Tool", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}          ^~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: try `agent-tool`{{$}}
# JSON: {"file":"{{[^"]*}}fail_invalid_id.py","line":[[@LINE-5]],"column":11,"end_line":[[@LINE-5]],"end_column":23,"severity":"error","code":"MVM2002","kind":"invalid-id","message":"invalid workload id `Agent_Tool`: ids are lowercase letters, digits and `-`, starting with a letter or digit, at most 63 characters","hint":"try `agent-tool`"}
def upper(): ...

@workload("-leading-dash", image="template:busybox")
# CHECK: fail_invalid_id.py:[[@LINE-1]]:11: error: invalid workload id `-leading-dash`: ids are lowercase letters, digits and `-`, starting with a letter or digit, at most 63 characters [invalid-id]{{$}}
# CHECK-NEXT: {{^}}@workload("-leading-dash", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}          ^~~~~~~~~~~~~~~{{$}}
def dash(): ...

@workload("", image="template:busybox")
# CHECK: fail_invalid_id.py:[[@LINE-1]]:11: error: invalid workload id ``: an id must not be empty [invalid-id]{{$}}
# CHECK-NEXT: {{^}}@workload("", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}          ^~{{$}}
def empty(): ...

@workload("a234567890123456789012345678901234567890123456789012345678901234", image="template:busybox")
# CHECK: fail_invalid_id.py:[[@LINE-1]]:11: error: invalid workload id `a234567890123456789012345678901234567890123456789012345678901234`: ids are at most 63 characters, this one has 64 [invalid-id]{{$}}
# CHECK-NEXT: {{^}}@workload("a234567890123456789012345678901234567890123456789012345678901234", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}          ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
def too_long(): ...

@workload("a23456789012345678901234567890123456789012345678901234567890123", image="template:busybox")
def longest(): ...

@workload("names", image="template:busybox")
class Names:
    @entrypoint("bad name!", command=["true"])
    # CHECK: fail_invalid_id.py:[[@LINE-1]]:17: error: invalid entrypoint name `bad name!`: names are letters, digits, `_`, `.` and `-`, starting with a letter, digit or `_`, at most 63 characters [invalid-id]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint("bad name!", command=["true"]){{$}}
    # CHECK-NEXT: {{^}}                ^~~~~~~~~~~{{$}}
    def bad(self): ...

    @service("", command=["true"])
    # CHECK: fail_invalid_id.py:[[@LINE-1]]:14: error: invalid service name ``: a name must not be empty [invalid-id]{{$}}
    # CHECK-NEXT: {{^}}    @service("", command=["true"]){{$}}
    # CHECK-NEXT: {{^}}             ^~{{$}}
    def empty(self): ...

    @entrypoint("Ok_name.v2-x", command=["true"])
    def ok(self): ...
# CHECK: {{^}}6 errors generated.{{$}}
