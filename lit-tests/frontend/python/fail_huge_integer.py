# An integer literal too large for 64 bits is out of every option's range; the message shows the
# literal as written, not the largest 64-bit integer it was read as.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
from mvm import workload

@workload("huge", image="template:busybox", cpu=99999999999999999999, memory_mb=-0x1_0000_0000_0000_0000)
# CHECK: fail_huge_integer.py:[[@LINE-1]]:49: error: `cpu` is 99999999999999999999, outside the range 1..64 [out-of-range]{{$}}
# CHECK: fail_huge_integer.py:[[@LINE-2]]:81: error: `memory_mb` is -0x1_0000_0000_0000_0000, outside the range {{[0-9.]+}} [out-of-range]{{$}}
# CHECK-NOT: 9223372036854775807
def huge(): ...
