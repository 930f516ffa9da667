# A backslash line continuation is whitespace wherever it stands, in an import, between arguments,
# inside a value and between the parts of an implicitly concatenated string.
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
from mvm import workload, \
    entrypoint

@workload("continued", \
          image="template:busybox", cpu=\
          2, labels={"k": \
                     "v" \
                     "w"})
class Continued:
    @entrypoint(command=["a", \
                         "b"])
    def main(self): ...

@workload(
    "function", image="template:busybox", memory_mb=256 \
    + 256)
def function(): ...
# CHECK: "command":["a","b"]
# CHECK-SAME: "id":"continued"
# CHECK-SAME: "labels":{"k":"vw"}
# CHECK-SAME: "resources":{"cpu":2}
# CHECK-SAME: "id":"function"
# CHECK-SAME: "resources":{"memory_mb":512}
