// `Image.debian` diagnostics in TypeScript point at the same values as in Python.
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s
import { Image, entrypoint, workload } from "@mvm/sdk";

@workload("ts-debian", { image: Image.debian({ packages: ["jq", "Curl", "jq"], suite: "sid" }) })
export class TsDebian {
  @entrypoint({ command: ["true"] })
  main() {}
}

// CHECK: fail_debian_image.ts:5:65: error: invalid Debian package name `Curl`: package names are lowercase [invalid-package-name]
// CHECK: fail_debian_image.ts:5:73: error: package `jq` is listed more than once [duplicate-package]
// CHECK: fail_debian_image.ts:5:87: error: invalid `suite` value `sid`: expected `bookworm` [invalid-value]
// CHECK: 3 errors generated.
