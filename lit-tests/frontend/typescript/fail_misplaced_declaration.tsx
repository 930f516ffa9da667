// `@workload` decorates a module-level class; `@entrypoint` and `@service` decorate methods of such a
// class. Anywhere else they are `misplaced-declaration`, at the decorator. (A .tsx file: JSX is fine.)
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
import { workload, entrypoint, service } from "@mvm/sdk";

@entrypoint({ command: ["true"] })
// CHECK: fail_misplaced_declaration.tsx:[[@LINE-1]]:1: error: `@entrypoint` must decorate a method of a `@workload` class [misplaced-declaration]{{$}}
// CHECK-NEXT: {{^}}@entrypoint({ command: ["true"] }){{$}}
// CHECK-NEXT: {{^}}^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
class NotAWorkload {}

@workload("outer", { image: "template:busybox" })
class Outer {
  @workload("nested", { image: "template:busybox" })
  // CHECK: fail_misplaced_declaration.tsx:[[@LINE-1]]:3: error: `@workload` must decorate a module-level class, not a method [misplaced-declaration]{{$}}
  // CHECK-NEXT: {{^}}  @workload("nested", { image: "template:busybox" }){{$}}
  // CHECK-NEXT: {{^}}  ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
  nested() {}

  @service({ command: ["true"] })
  // CHECK: fail_misplaced_declaration.tsx:[[@LINE-1]]:3: error: `@service` must decorate a method of a module-level `@workload` class [misplaced-declaration]{{$}}
  port = 8080;

  @entrypoint({ command: ["true"] })
  render() {
    return <p>ok</p>;
  }
}

export function factory() {
  @workload("inner", { image: "template:busybox" })
  // CHECK: fail_misplaced_declaration.tsx:[[@LINE-1]]:3: error: `@workload` must decorate a module-level class [misplaced-declaration]{{$}}
  class Inner {
    @entrypoint({ command: ["true"] })
    // CHECK: fail_misplaced_declaration.tsx:[[@LINE-1]]:5: error: `@entrypoint` must decorate a method of a module-level `@workload` class [misplaced-declaration]{{$}}
    main() {}
  }
  return Inner;
}

export const Expression = @workload("expr", { image: "template:busybox" }) class {};
// CHECK: fail_misplaced_declaration.tsx:[[@LINE-1]]:27: error: `@workload` must decorate a module-level class [misplaced-declaration]{{$}}
