# String literals hold the value Python gives them: escapes decoded (`\x41` is `A`, `\101` too, a
# backslash-newline joins lines, `\N{...}` names a character by its Unicode name or alias, in any
# case), escapes Python does not know (`\d`) and raw strings kept as written.
# The expected strings are Python's, not the compiler's: `python3 -c 'print(repr("\x41\u00e9"))'`.
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
from mvm import workload, entrypoint

@workload("escapes", image="template:busybox")
class Escapes:
    @entrypoint(command=["\x41\101\u00e9\U0001F600\t\0", "\d\q", r"\x41\N{X}", 'it\'s', "a\
b", "tab\\t",
                         "é\N{GREEK SMALL LETTER ALPHA}\N{snowman}\N{LATIN CAPITAL LETTER GHA}\N{CJK UNIFIED IDEOGRAPH-4E00}\N{HANGUL SYLLABLE GA}\777"])
    def main(self): ...
# CHECK: "command":["AAé😀\t\u0000","\\d\\q","\\x41\\N{X}","it's","ab","tab\\t","éα☃Ƣ一가ǿ"]
