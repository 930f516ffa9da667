// An option out of its range is named as TypeScript spells it (`memoryMb`, not the IR's
// `memory_mb`), both where the frontend checks it (an integer too wide for the IR) and where the
// validate pass does.
// RUN: not %mvmctl check %s 2>&1 | FileCheck %s --implicit-check-not=_mb --implicit-check-not=_seconds
import { workload, entrypoint, Volume } from "@mvm/sdk";

@workload("ranges", {
  image: "template:busybox",
  memoryMb: 1,
  // CHECK: fail_out_of_range.ts:[[@LINE-1]]:13: error: `memoryMb` is 1, outside the range 64..262144 [out-of-range]
  diskMb: 99999999999999999999999,
  // CHECK: fail_out_of_range.ts:[[@LINE-1]]:11: error: `diskMb` is 99999999999999999999999, outside the range 64..1048576 [out-of-range]
  timeoutSeconds: 0,
  // CHECK: fail_out_of_range.ts:[[@LINE-1]]:19: error: `timeoutSeconds` is 0, outside the range 1..86400 [out-of-range]
  volumes: [Volume.memory("/scratch", { sizeMb: 0 })],
  // CHECK: fail_out_of_range.ts:[[@LINE-1]]:49: error: `sizeMb` is 0, outside the range 1..65536 [out-of-range]
})
export class Ranges {
  @entrypoint({ command: ["true"], timeoutSeconds: 100000 })
  // CHECK: fail_out_of_range.ts:[[@LINE-1]]:52: error: `timeoutSeconds` is 100000, outside the range 1..86400 [out-of-range]
  main() {}
}
