// A secret slot holding an expression that is not static is `non-static`, but the string literals in
// it are still plaintext secrets: neither the message nor the printed source line may show them.
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=NOLEAK
// RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=NOLEAK
// RUN: not %mvmctl check --format=sarif %s | FileCheck %s --check-prefix=NOLEAK
// NOLEAK-NOT: sk-live
import { workload, entrypoint } from "@mvm/sdk";

@workload("repeated", { image: "template:busybox", secrets: { K: "sk-live-repeated" * 2 } })
// CHECK: fail_plaintext_secret_in_expression.ts:[[@LINE-1]]:66: error: this expression is not a static value [non-static]
class Repeated { @entrypoint({ command: ["true"] }) main() {} }

@workload("template", { image: "template:busybox", secrets: { K: `sk-live-template-${process.env.X}` } })
// CHECK: fail_plaintext_secret_in_expression.ts:[[@LINE-1]]:84: error: this expression is not a static value [non-static]
class Template { @entrypoint({ command: ["true"] }) main() {} }

@workload("concatenated", { image: "template:busybox", secrets: { K: "sk-live-plus-" + os.sep } })
// CHECK: fail_plaintext_secret_in_expression.ts:[[@LINE-1]]:88: error: this expression is not a static value [non-static]
class Concatenated { @entrypoint({ command: ["true"] }) main() {} }

@workload("computed", { image: "template:busybox", secrets: { ["sk-live-key"]: "sk-live-value" } })
// CHECK: fail_plaintext_secret_in_expression.ts:[[@LINE-1]]:63: error: this expression is not a static value [non-static]
class Computed { @entrypoint({ command: ["true"] }) main() {} }

@workload("plain", { image: "template:busybox", secrets: { K: 'sk-live-plain' } })
// CHECK: fail_plaintext_secret_in_expression.ts:[[@LINE-1]]:63: error: secret `K` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]
class Plain { @entrypoint({ command: ["true"] }) main() {} }
// CHECK: 5 errors generated.
