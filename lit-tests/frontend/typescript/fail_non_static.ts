// Reading a value that only exists when the code runs is a `non-static` error at the expression, with
// a hint that says what to write instead.
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
// RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
import { workload, entrypoint } from "@mvm/sdk";

let MUTABLE = 2;

@workload("env", { image: process.env["IMAGE"] })
// CHECK: fail_non_static.ts:[[@LINE-1]]:27: error: `process.env["IMAGE"]` is not a static value [non-static]{{$}}
// CHECK-NEXT: {{^}}@workload("env", { image: process.env["IMAGE"] }){{$}}
// CHECK-NEXT: {{^}}                          ^~~~~~~~~~~~~~~~~~~~{{$}}
// CHECK-NEXT: {{^}}  hint: environment variables are read when code runs, not when it is compiled; for a secret use `SecretRef("name", { hosts: [...] })`{{$}}
// JSON: {"file":"{{[^"]*}}fail_non_static.ts","line":[[@LINE-5]],"column":27,"end_line":[[@LINE-5]],"end_column":47,"severity":"error","code":"MVM1001","kind":"non-static","message":"`process.env[\"IMAGE\"]` is not a static value","hint":"environment variables are read when code runs, not when it is compiled; for a secret use `SecretRef(\"name\", { hosts: [...] })`"}
class Env {
  @entrypoint({ command: ["true"] })
  main() {}
}

@workload(`id-${MUTABLE}`, { image: "template:busybox" })
// CHECK: fail_non_static.ts:[[@LINE-1]]:15: error: the template substitution `${MUTABLE}` is not a static value [non-static]{{$}}
// CHECK-NEXT: {{^}}@workload(`id-${MUTABLE}`, { image: "template:busybox" }){{$}}
// CHECK-NEXT: {{^}}              ^~~~~~~~~~{{$}}
// CHECK-NEXT: {{^}}  hint: mvm reads declarations without running them; write the whole string as a literal or a module-level constant, or join constants with `+`{{$}}
class Template {
  @entrypoint({ command: ["true"] })
  main() {}
}

@workload("mutable", { image: "template:busybox", cpu: MUTABLE, memoryMb: 1024 / 2 })
// CHECK: fail_non_static.ts:[[@LINE-1]]:56: error: `MUTABLE` is not a static value [non-static]{{$}}
// CHECK-NEXT: {{^}}@workload("mutable", { image: "template:busybox", cpu: MUTABLE, memoryMb: 1024 / 2 }){{$}}
// CHECK-NEXT: {{^}}                                                       ^~~~~~~{{$}}
// CHECK-NEXT: {{^}}  hint: `MUTABLE` is declared with `let`, so it may change; declare it with `const` at module level{{$}}
// CHECK: fail_non_static.ts:[[@LINE-5]]:75: error: `1024 / 2` is not a static value [non-static]{{$}}
// CHECK:      {{^}}  hint: only `+`, `-` and `*` on integers and `+` on strings are folded at compile time{{$}}
class Mutable {
  @entrypoint({ command: ["true", ...ARGS] })
  // CHECK: fail_non_static.ts:[[@LINE-1]]:35: error: the spread `...ARGS` is not a static value [non-static]{{$}}
  // CHECK-NEXT: {{^}}  @entrypoint({ command: ["true", ...ARGS] }){{$}}
  // CHECK-NEXT: {{^}}                                  ^~~~~~~{{$}}
  // CHECK-NEXT: {{^}}  hint: spell every element out; mvm cannot see what a spread value holds{{$}}
  main() {}

  @entrypoint({ name: "shorthand", command })
  // CHECK: fail_non_static.ts:[[@LINE-1]]:36: error: the shorthand property `command` is not a static value [non-static]{{$}}
  // CHECK:      {{^}}  hint: write `command: value`; mvm reads `key: value` entries{{$}}
  other() {}

  @entrypoint({ name: "new", command: [new Date().toISOString()] })
  // CHECK: fail_non_static.ts:[[@LINE-1]]:40: error: the call `new Date().toISOString()` is not a static value [non-static]{{$}}
  // CHECK:      {{^}}  hint: mvm never runs your code; only `SecretRef`, `NetworkPolicy`, `Volume` and `Image` calls from `@mvm/sdk` are understood statically{{$}}
  third() {}
}
