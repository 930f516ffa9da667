# Columns count Unicode code points, not bytes (docs/declarations.md): `ü` is 2 bytes and `日` 3
# in UTF-8, one column each. Ends are exclusive. A tab is one column too.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import workload

@workload("unicode", image="template:busybox", labels={"ünïcødé": "日本語"}, cpu=0)
# CHECK: fail_unicode_columns.py:[[@LINE-1]]:79: error: `cpu` is 0, outside the range 1..64 [out-of-range]
# JSON: "line":[[@LINE-2]],"column":79,"end_line":[[@LINE-2]],"end_column":80,
def unicode(): ...

@workload("tab", image="template:busybox",
	cpu=0, memory_mb="ü")
# CHECK: fail_unicode_columns.py:[[@LINE-1]]:6: error: `cpu` is 0, outside the range 1..64 [out-of-range]
# JSON-SAME: "line":[[@LINE-2]],"column":6,"end_line":[[@LINE-2]],"end_column":7,
# CHECK: fail_unicode_columns.py:[[@LINE-3]]:19: error: `memory_mb` expects an integer, got a string [type-mismatch]
# JSON-SAME: "line":[[@LINE-4]],"column":19,"end_line":[[@LINE-4]],"end_column":22,
def tab(): ...
