# An option given twice (twice by keyword, or positionally and by keyword, or a repeated mapping key) is
# reported at the second one.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, SecretRef, Volume, NetworkPolicy

@workload("keyword", image="template:busybox", cpu=1, cpu=2)
# CHECK: fail_duplicate_option.py:[[@LINE-1]]:55: error: option `cpu` is given twice [duplicate-option]{{$}}
# CHECK-NEXT: {{^}}@workload("keyword", image="template:busybox", cpu=1, cpu=2){{$}}
# CHECK-NEXT: {{^}}                                                      ^~~{{$}}
# CHECK-NEXT: {{^}}  hint: remove one of them{{$}}
# JSON: {"file":"{{[^"]*}}fail_duplicate_option.py","line":[[@LINE-5]],"column":55,"end_line":[[@LINE-5]],"end_column":58,"severity":"error","code":"MVM1006","kind":"duplicate-option","message":"option `cpu` is given twice","hint":"remove one of them"}
def keyword(): ...

@workload("positional", id="positional", image="template:busybox")
# CHECK: fail_duplicate_option.py:[[@LINE-1]]:25: error: option `id` is given twice [duplicate-option]{{$}}
# CHECK-NEXT: {{^}}@workload("positional", id="positional", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}                        ^~{{$}}
# CHECK-NEXT: {{^}}  hint: remove one of them{{$}}
def positional(): ...

@workload("keys", image="template:busybox", env={"A": "1", "A": "2"}, labels={"t": "x", "t": "y"})
# CHECK: fail_duplicate_option.py:[[@LINE-1]]:60: error: option `env["A"]` is given twice [duplicate-option]{{$}}
# CHECK-NEXT: {{^}}@workload("keys", image="template:busybox", env={"A": "1", "A": "2"}, labels={"t": "x", "t": "y"}){{$}}
# CHECK-NEXT: {{^}}                                                           ^~~{{$}}
# CHECK-NEXT: {{^}}  hint: remove one of them{{$}}
# CHECK: fail_duplicate_option.py:[[@LINE-5]]:89: error: option `labels["t"]` is given twice [duplicate-option]{{$}}
# CHECK-NEXT: {{^}}@workload("keys", image="template:busybox", env={"A": "1", "A": "2"}, labels={"t": "x", "t": "y"}){{$}}
# CHECK-NEXT: {{^}}                                                                                        ^~~{{$}}
# CHECK-NEXT: {{^}}  hint: remove one of them{{$}}
def keys(): ...

@workload("members", image="template:busybox")
class Members:
    @entrypoint("first", name="second", command=["true"])
    # CHECK: fail_duplicate_option.py:[[@LINE-1]]:26: error: option `name` is given twice [duplicate-option]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint("first", name="second", command=["true"]){{$}}
    # CHECK-NEXT: {{^}}                         ^~~~{{$}}
    # CHECK-NEXT: {{^}}  hint: remove one of them{{$}}
    def main(self): ...

@workload("helpers", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_https("api.example.com"),
          secrets={"KEY": SecretRef("key", name="other", hosts=["api.example.com"])},
          # CHECK: fail_duplicate_option.py:[[@LINE-1]]:44: error: option `name` is given twice [duplicate-option]{{$}}
          # CHECK-NEXT: {{^}}          secrets={"KEY": SecretRef("key", name="other", hosts=["api.example.com"])},{{$}}
          # CHECK-NEXT: {{^}}                                           ^~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: remove one of them{{$}}
          volumes=[Volume.local("./data", "/data", source="./other")])
# CHECK: fail_duplicate_option.py:[[@LINE-1]]:52: error: option `source` is given twice [duplicate-option]{{$}}
# CHECK-NEXT: {{^}}          volumes=[Volume.local("./data", "/data", source="./other")]){{$}}
# CHECK-NEXT: {{^}}                                                   ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: remove one of them{{$}}
def helpers(): ...
# CHECK: {{^}}7 errors generated.{{$}}
