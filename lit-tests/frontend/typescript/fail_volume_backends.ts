// The diagnostics of `Volume.encrypted` and `Volume.object` name options as TypeScript spells them
// (`sizeMb`, not the IR's `size_mb`), and a string given as `credentials` is masked like any
// plaintext secret.
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s --implicit-check-not=size_mb
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=NOLEAK
// NOLEAK-NOT: AKIAIOSFODNN7EXAMPLE
import { SecretRef, Volume, entrypoint, workload } from "@mvm/sdk";

@workload("ts-volumes", {
  image: "template:busybox",
  volumes: [
    Volume.encrypted("notes", "/n1", { sizeMb: 0 }),
    Volume.encrypted("notes", "/n2"),
    Volume.object("s3://bucket", "/o1", { endpoint: "https://s3.example.com", credentials: "AKIAIOSFODNN7EXAMPLE" }),
    Volume.object("s3://bucket", "/o2", { endpoint: "ftp://s3.example.com", credentials: SecretRef("keys") }),
    Volume.object("s3://bucket", "/o3", { endpoint: "https://s3.example.com", credentials: SecretRef("keys"), sizeMb: 1 }),
  ],
})
export class TsVolumes {
  @entrypoint({ command: ["true"] })
  main() {}
}

// CHECK: fail_volume_backends.ts:12:48: error: `sizeMb` is 0, outside the range 1..1048576 [out-of-range]
// CHECK: fail_volume_backends.ts:13:5: error: `Volume.encrypted` needs `sizeMb` [missing-option]
// CHECK: fail_volume_backends.ts:14:92: error: secret `credentials` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]
// CHECK-NEXT: credentials: "****" }),
// CHECK: hint: store the access keys in the host secret store (`mvmctl secret set NAME`) and name the secret: `credentials: SecretRef("NAME")`
// CHECK: fail_volume_backends.ts:15:53: error: invalid `endpoint` value `ftp://s3.example.com`: an endpoint is `https://HOST[:PORT]` [invalid-value]
// CHECK: fail_volume_backends.ts:16:111: error: unknown option `sizeMb` for `Volume.object` [unknown-option]
// CHECK: 5 errors generated.
