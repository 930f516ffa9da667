# A string whose value the IR cannot hold as Python means it is refused, never recorded as its source
# text: `\N{...}` (a character by its Unicode name; write the character itself) and a surrogate, which
# UTF-8 cannot hold. In a secret's place the string stays masked and the message names none of it.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl compile --dump ir %s 2>/dev/null | FileCheck %s --check-prefix=IR
from mvm import workload, entrypoint

@workload("escapes", image="template:busybox", labels={"snowman": "\N{SNOWMAN}"},
          # CHECK: fail_string_escapes.py:[[@LINE-1]]:67: error: `labels["snowman"]` expects a string, got a string with a `\N{...}` escape (write the character itself) [type-mismatch]{{$}}
          secrets={"KEY": "sk-\N{SNOWMAN}-live"})
# CHECK: fail_string_escapes.py:[[@LINE-1]]:27: error: `secrets["KEY"]` expects `SecretRef(name, hosts=[...])`, got a string with a `\N{...}` escape (write the character itself) [type-mismatch]{{$}}
# CHECK-NEXT: {{^}}          secrets={"KEY": "****"}){{$}}
class Escapes:
    @entrypoint(command=["\ud800"])
    # CHECK: fail_string_escapes.py:[[@LINE-1]]:26: error: `command` expects a non-empty list of strings, got a string with a surrogate or out-of-range code point, which UTF-8 cannot hold [type-mismatch]{{$}}
    def main(self): ...
# CHECK: {{^}}3 errors generated.{{$}}
# IR-NOT: SNOWMAN
# IR-NOT: ud800
