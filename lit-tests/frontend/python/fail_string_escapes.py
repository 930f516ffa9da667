# A string whose value the IR cannot hold as Python means it is refused, never recorded as its source
# text: a `\N{...}` naming no character, an escape cut short (`\x4`, `\u12`, `\N` without a name;
# Python rejects the file for those) and a surrogate, which UTF-8 cannot hold. In a secret's place the
# string stays masked and the message names none of it.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl compile --dump ir %s 2>/dev/null | FileCheck %s --check-prefix=IR
from mvm import workload, entrypoint

@workload("escapes", image="template:busybox", labels={"snowman": "\N{SNOWMEN}"},
          # CHECK: fail_string_escapes.py:[[@LINE-1]]:68: error: no Unicode character has the name in this `\N{...}` escape [syntax-error]{{$}}
          # CHECK-NEXT: {{^}}@workload("escapes", image="template:busybox", labels={"snowman": "\N{SNOWMEN}"},{{$}}
          # CHECK-NEXT: {{^}}                                                                   ^~~~~~~~~~~{{$}}
          # CHECK-NEXT: {{^}}  hint: spell the name as the Unicode standard does (`\N{GREEK SMALL LETTER ALPHA}`), or write the character itself{{$}}
          secrets={"KEY": "sk-\N{NO SUCH CHARACTER}-live"})
# CHECK: fail_string_escapes.py:[[@LINE-1]]:31: error: no Unicode character has the name in this `\N{...}` escape [syntax-error]{{$}}
# CHECK-NEXT: {{^}}          secrets={"KEY": "****"}){{$}}
class Escapes:
    @entrypoint(command=["\ud800"])
    # CHECK: fail_string_escapes.py:[[@LINE-1]]:26: error: `command` expects a non-empty list of strings, got a string with a surrogate or out-of-range code point, which UTF-8 cannot hold [type-mismatch]{{$}}
    def main(self): ...

@workload("truncated", image="template:busybox",
          labels={"x": "a\x4", "u": "\u12", "big-u": "\U0001F6", "n": "\N"})
# CHECK: fail_string_escapes.py:[[@LINE-1]]:26: error: `\x` must be followed by 2 hex digits [syntax-error]{{$}}
# CHECK: fail_string_escapes.py:[[@LINE-2]]:38: error: `\u` must be followed by 4 hex digits [syntax-error]{{$}}
# CHECK: fail_string_escapes.py:[[@LINE-3]]:55: error: `\U` must be followed by 8 hex digits [syntax-error]{{$}}
# CHECK: fail_string_escapes.py:[[@LINE-4]]:72: error: `\N` must be followed by a character name in braces, `{...}` [syntax-error]{{$}}
def truncated(): ...
# CHECK: {{^}}7 errors generated.{{$}}
# IR-NOT: SNOWMEN
# IR-NOT: NO SUCH
# IR-NOT: ud800
