# Comments do not take part in Python's indentation: a comment at column 1 between a method's decorator and
# its `def` is valid Python (`python3 -c 'import ast; ast.parse(open(FILE).read())'` accepts this file), so
# it must not be a syntax error.
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
from mvm import workload, entrypoint

@workload("commented", image="template:busybox")
class Commented:
    @entrypoint(command=["true"])
# a comment at column 1, as left behind by commenting out a line in most editors
    def main(self): ...

    @entrypoint("indented", command=["true"])
    # an indented comment, which already works
    def indented(self): ...

# CHECK: "entrypoints":[{"command":["true"],"loc":{{[{][^}]*}}},"name":"main"},{"command":["true"],"loc":{{[{][^}]*}}},"name":"indented"}],"id":"commented"
