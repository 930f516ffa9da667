# Every kind of expression the static reader refuses is a `non-static` error at the expression itself,
# with a hint that says why; the rest of the declaration is not lowered, so nothing cascades.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
import os

from mvm import entrypoint, workload

NAME = "x"
TWICE = 1
TWICE = 2
ARGS = ["args"]
KW = {"cpu": 1}

# An f-string substitution.
@workload(f"id-{NAME}", image="template:busybox")
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:16: error: the f-string substitution `{NAME}` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload(f"id-{NAME}", image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}               ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: mvm reads declarations without running them; write the whole string as a literal or a module-level constant{{$}}
# JSON: {"file":"{{[^"]*}}fail_non_static_cases.py","line":[[@LINE-5]],"column":16,"end_line":[[@LINE-5]],"end_column":22,"severity":"error","code":"MVM1001","kind":"non-static","message":"the f-string substitution `{NAME}` is not a static value","hint":"mvm reads declarations without running them; write the whole string as a literal or a module-level constant"}
def fstring(): ...

# A call that is not an mvm helper.
@workload("call", image=make_image())
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:25: error: the call `make_image()` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("call", image=make_image()){{$}}
# CHECK-NEXT: {{^}}                        ^~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: mvm never runs your code; only `SecretRef`, `NetworkPolicy`, `Volume` and `Image` calls from `mvm` are understood statically{{$}}
def call(): ...

# The environment.
@workload("environ", image=os.environ["IMAGE"])
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:28: error: `os.environ["IMAGE"]` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("environ", image=os.environ["IMAGE"]){{$}}
# CHECK-NEXT: {{^}}                           ^~~~~~~~~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: environment variables are read when code runs, not when it is compiled; for a secret use `SecretRef("name", hosts=[...])`{{$}}
def environ(): ...

# A constant assigned twice.
@workload("twice", image="template:busybox", cpu=TWICE)
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:50: error: `TWICE` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("twice", image="template:busybox", cpu=TWICE){{$}}
# CHECK-NEXT: {{^}}                                                 ^~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: `TWICE` is assigned more than once; a constant must be assigned exactly once at module level{{$}}
def twice(): ...

# `**kwargs` and `*args`.
@workload("kwargs", image="template:busybox", **KW)
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:47: error: the unpacking `**KW` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("kwargs", image="template:busybox", **KW){{$}}
# CHECK-NEXT: {{^}}                                              ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: spell every argument out; mvm cannot see what an unpacked value holds{{$}}
def kwargs(): ...

# On a class, the one error is all: the class's `@entrypoint` methods are not misplaced.
@workload("kwargs-class", image="template:busybox", **KW)
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:53: error: the unpacking `**KW` is not a static value [non-static]{{$}}
# CHECK-NOT: misplaced-declaration
class KwargsClass:
    @entrypoint(command=["true"])
    def main(self): ...

@workload(*ARGS, image="template:busybox")
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:11: error: the unpacking `*ARGS` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload(*ARGS, image="template:busybox"){{$}}
# CHECK-NEXT: {{^}}          ^~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: spell every argument out; mvm cannot see what an unpacked value holds{{$}}
def args(): ...

# Attribute access.
@workload("attribute", image=config.image)
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:30: error: `config.image` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("attribute", image=config.image){{$}}
# CHECK-NEXT: {{^}}                             ^~~~~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use a literal, a module-level constant assigned once, or an mvm helper call{{$}}
def attribute(): ...

# Operators that are not folded.
@workload("operators", image="template:busybox", cpu=5 % 3, memory_mb=2 ** 10, disk_mb=1 << 7)
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:54: error: `5 % 3` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("operators", image="template:busybox", cpu=5 % 3, memory_mb=2 ** 10, disk_mb=1 << 7){{$}}
# CHECK-NEXT: {{^}}                                                     ^~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: only `+`, `-`, `*` and `//` on integers and `+` on strings are folded{{$}}
# CHECK: fail_non_static_cases.py:[[@LINE-5]]:71: error: `2 ** 10` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("operators", image="template:busybox", cpu=5 % 3, memory_mb=2 ** 10, disk_mb=1 << 7){{$}}
# CHECK-NEXT: {{^}}                                                                      ^~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: only `+`, `-`, `*` and `//` on integers and `+` on strings are folded{{$}}
# CHECK: fail_non_static_cases.py:[[@LINE-9]]:88: error: `1 << 7` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("operators", image="template:busybox", cpu=5 % 3, memory_mb=2 ** 10, disk_mb=1 << 7){{$}}
# CHECK-NEXT: {{^}}                                                                                       ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: only `+`, `-`, `*` and `//` on integers and `+` on strings are folded{{$}}
def operators(): ...

# String concatenation of non-constants, string repetition, an unknown name, `not`.
@workload("strings", image="template:busybox", env={"A": "x" * 3, "B": NAME + os.sep, "C": undefined})
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:58: error: `"x" * 3` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("strings", image="template:busybox", env={"A": "x" * 3, "B": NAME + os.sep, "C": undefined}){{$}}
# CHECK-NEXT: {{^}}                                                         ^~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: only `+`, `-`, `*` and `//` on integers and `+` on strings are folded{{$}}
# CHECK: fail_non_static_cases.py:[[@LINE-5]]:79: error: `os.sep` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("strings", image="template:busybox", env={"A": "x" * 3, "B": NAME + os.sep, "C": undefined}){{$}}
# CHECK-NEXT: {{^}}                                                                              ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use a literal, a module-level constant assigned once, or an mvm helper call{{$}}
# CHECK: fail_non_static_cases.py:[[@LINE-9]]:92: error: `undefined` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("strings", image="template:busybox", env={"A": "x" * 3, "B": NAME + os.sep, "C": undefined}){{$}}
# CHECK-NEXT: {{^}}                                                                                           ^~~~~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: only literals and module-level constants assigned once can be read without running the file{{$}}
def strings(): ...

@workload("unary", image="template:busybox", cpu=not 1)
# CHECK: fail_non_static_cases.py:[[@LINE-1]]:50: error: `not 1` is not a static value [non-static]{{$}}
# CHECK-NEXT: {{^}}@workload("unary", image="template:busybox", cpu=not 1){{$}}
# CHECK-NEXT: {{^}}                                                 ^~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: use a literal, a module-level constant assigned once, or an mvm helper call{{$}}
def unary(): ...
# CHECK-NOT: misplaced-declaration
# CHECK: {{^}}15 errors generated.{{$}}
