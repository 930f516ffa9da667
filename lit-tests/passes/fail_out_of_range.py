# Every ranged option, just below and just above its range (docs/declarations.md, "Ranges and
# defaults"); the message names the range. The bounds themselves are accepted (`edges`, `low-edges`: the
# error count below leaves no room for a diagnostic there).
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload, entrypoint, service, Volume

@workload("below", image="template:busybox", cpu=0, memory_mb=63, disk_mb=63, timeout_seconds=0,
          # CHECK: fail_out_of_range.py:[[@LINE-1]]:50: error: `cpu` is 0, outside the range 1..64 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}@workload("below", image="template:busybox", cpu=0, memory_mb=63, disk_mb=63, timeout_seconds=0,{{$}}
          # CHECK-NEXT: {{^}}                                                 ^{{$}}
          # JSON: {"file":"{{[^"]*}}fail_out_of_range.py","line":[[@LINE-4]],"column":50,"end_line":[[@LINE-4]],"end_column":51,"severity":"error","code":"MVM2001","kind":"out-of-range","message":"`cpu` is 0, outside the range 1..64"}
          # CHECK: fail_out_of_range.py:[[@LINE-5]]:63: error: `memory_mb` is 63, outside the range 64..262144 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}@workload("below", image="template:busybox", cpu=0, memory_mb=63, disk_mb=63, timeout_seconds=0,{{$}}
          # CHECK-NEXT: {{^}}                                                              ^~{{$}}
          # CHECK: fail_out_of_range.py:[[@LINE-8]]:75: error: `disk_mb` is 63, outside the range 64..1048576 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}@workload("below", image="template:busybox", cpu=0, memory_mb=63, disk_mb=63, timeout_seconds=0,{{$}}
          # CHECK-NEXT: {{^}}                                                                          ^~{{$}}
          # CHECK: fail_out_of_range.py:[[@LINE-11]]:95: error: `timeout_seconds` is 0, outside the range 1..86400 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}@workload("below", image="template:busybox", cpu=0, memory_mb=63, disk_mb=63, timeout_seconds=0,{{$}}
          # CHECK-NEXT: {{^}}                                                                                              ^{{$}}
          ports=[0], volumes=[Volume.memory("/scratch", size_mb=0)])
# CHECK: fail_out_of_range.py:[[@LINE-1]]:18: error: `ports` is 0, outside the range 1..65535 [out-of-range]{{$}}
# CHECK-NEXT: {{^}}          ports=[0], volumes=[Volume.memory("/scratch", size_mb=0)]){{$}}
# CHECK-NEXT: {{^}}                 ^{{$}}
# CHECK: fail_out_of_range.py:[[@LINE-4]]:65: error: `size_mb` is 0, outside the range 1..65536 [out-of-range]{{$}}
# CHECK-NEXT: {{^}}          ports=[0], volumes=[Volume.memory("/scratch", size_mb=0)]){{$}}
# CHECK-NEXT: {{^}}                                                                ^{{$}}
class Below:
    @entrypoint(command=["true"], timeout_seconds=0)
    # CHECK: fail_out_of_range.py:[[@LINE-1]]:51: error: `timeout_seconds` is 0, outside the range 1..86400 [out-of-range]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint(command=["true"], timeout_seconds=0){{$}}
    # CHECK-NEXT: {{^}}                                                  ^{{$}}
    def main(self): ...

    @service("api", command=["true"], port=0)
    # CHECK: fail_out_of_range.py:[[@LINE-1]]:44: error: `port` is 0, outside the range 1..65535 [out-of-range]{{$}}
    # CHECK-NEXT: {{^}}    @service("api", command=["true"], port=0){{$}}
    # CHECK-NEXT: {{^}}                                           ^{{$}}
    def api(self): ...

@workload("above", image="template:busybox", cpu=65, memory_mb=262145, disk_mb=1048577,
          # CHECK: fail_out_of_range.py:[[@LINE-1]]:50: error: `cpu` is 65, outside the range 1..64 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}@workload("above", image="template:busybox", cpu=65, memory_mb=262145, disk_mb=1048577,{{$}}
          # CHECK-NEXT: {{^}}                                                 ^~{{$}}
          # CHECK: fail_out_of_range.py:[[@LINE-4]]:64: error: `memory_mb` is 262145, outside the range 64..262144 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}@workload("above", image="template:busybox", cpu=65, memory_mb=262145, disk_mb=1048577,{{$}}
          # CHECK-NEXT: {{^}}                                                               ^~~~~~{{$}}
          # CHECK: fail_out_of_range.py:[[@LINE-7]]:80: error: `disk_mb` is 1048577, outside the range 64..1048576 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}@workload("above", image="template:busybox", cpu=65, memory_mb=262145, disk_mb=1048577,{{$}}
          # CHECK-NEXT: {{^}}                                                                               ^~~~~~~{{$}}
          timeout_seconds=86401, ports=[80, 65536],
          # CHECK: fail_out_of_range.py:[[@LINE-1]]:27: error: `timeout_seconds` is 86401, outside the range 1..86400 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}          timeout_seconds=86401, ports=[80, 65536],{{$}}
          # CHECK-NEXT: {{^}}                          ^~~~~{{$}}
          # CHECK: fail_out_of_range.py:[[@LINE-4]]:45: error: `ports` is 65536, outside the range 1..65535 [out-of-range]{{$}}
          # CHECK-NEXT: {{^}}          timeout_seconds=86401, ports=[80, 65536],{{$}}
          # CHECK-NEXT: {{^}}                                            ^~~~~{{$}}
          volumes=[Volume.memory("/scratch", size_mb=65537)])
# CHECK: fail_out_of_range.py:[[@LINE-1]]:54: error: `size_mb` is 65537, outside the range 1..65536 [out-of-range]{{$}}
# CHECK-NEXT: {{^}}          volumes=[Volume.memory("/scratch", size_mb=65537)]){{$}}
# CHECK-NEXT: {{^}}                                                     ^~~~~{{$}}
class Above:
    @entrypoint(command=["true"], timeout_seconds=86401)
    # CHECK: fail_out_of_range.py:[[@LINE-1]]:51: error: `timeout_seconds` is 86401, outside the range 1..86400 [out-of-range]{{$}}
    # CHECK-NEXT: {{^}}    @entrypoint(command=["true"], timeout_seconds=86401){{$}}
    # CHECK-NEXT: {{^}}                                                  ^~~~~{{$}}
    def main(self): ...

    @service("api", command=["true"], port=65536)
    # CHECK: fail_out_of_range.py:[[@LINE-1]]:44: error: `port` is 65536, outside the range 1..65535 [out-of-range]{{$}}
    # CHECK-NEXT: {{^}}    @service("api", command=["true"], port=65536){{$}}
    # CHECK-NEXT: {{^}}                                           ^~~~~{{$}}
    def api(self): ...

# Values outside int32 are out of range too (the IR holds int32 only), not silently wrapped.
@workload("huge", image="template:busybox", cpu=-1, memory_mb=99999999999, disk_mb=2 * 2147483647)
# CHECK: fail_out_of_range.py:[[@LINE-1]]:49: error: `cpu` is -1, outside the range 1..64 [out-of-range]{{$}}
# CHECK-NEXT: {{^}}@workload("huge", image="template:busybox", cpu=-1, memory_mb=99999999999, disk_mb=2 * 2147483647){{$}}
# CHECK-NEXT: {{^}}                                                ^~{{$}}
# CHECK: fail_out_of_range.py:[[@LINE-4]]:63: error: `memory_mb` is 99999999999, outside the range 64..262144 [out-of-range]{{$}}
# CHECK-NEXT: {{^}}@workload("huge", image="template:busybox", cpu=-1, memory_mb=99999999999, disk_mb=2 * 2147483647){{$}}
# CHECK-NEXT: {{^}}                                                              ^~~~~~~~~~~{{$}}
# CHECK: fail_out_of_range.py:[[@LINE-7]]:84: error: `disk_mb` is 4294967294, outside the range 64..1048576 [out-of-range]{{$}}
# CHECK-NEXT: {{^}}@workload("huge", image="template:busybox", cpu=-1, memory_mb=99999999999, disk_mb=2 * 2147483647){{$}}
# CHECK-NEXT: {{^}}                                                                                   ^~~~~~~~~~~~~~{{$}}
def huge(): ...

@workload("edges", image="template:busybox", cpu=64, memory_mb=262144, disk_mb=1048576,
          timeout_seconds=86400, ports=[1, 65535], volumes=[Volume.memory("/scratch", size_mb=65536)])
class Edges:
    @entrypoint(command=["true"], timeout_seconds=1)
    def main(self): ...

    @service("api", command=["true"], port=65535)
    def api(self): ...

@workload("low-edges", image="template:busybox", cpu=1, memory_mb=64, disk_mb=64, timeout_seconds=1,
          volumes=[Volume.memory("/scratch", size_mb=1)])
class LowEdges:
    @entrypoint(command=["true"], timeout_seconds=86400)
    def main(self): ...

    @service("api", command=["true"], port=1)
    def api(self): ...
# CHECK: {{^}}19 errors generated.{{$}}
