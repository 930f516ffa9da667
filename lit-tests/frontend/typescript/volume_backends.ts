// `Volume.encrypted` and `Volume.object` in TypeScript (`sizeMb`, `{ endpoint, credentials, mode }`)
// compile to the same IR as in Python; `check` warns that neither is mounted yet, and passes.
// RUN: %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: %mvmctl compile --dump ir %s | FileCheck %s
import { SecretRef, Volume, entrypoint, workload } from "@mvm/sdk";

const KEYS = SecretRef("datasets-keys");

@workload("volume-backends", {
  image: "template:busybox",
  volumes: [
    Volume.encrypted("notes", "/notes", { sizeMb: 512 }),
    // WARN: volume_backends.ts:[[@LINE-1]]:5: warning: `Volume.encrypted` at `/notes` is not mounted in a microVM yet: `mvmctl run` and `up` refuse a workload that declares it [volume-not-mounted]
    Volume.object("s3://datasets/run-1", "/datasets", { endpoint: "https://s3.example.com", credentials: KEYS }),
    // WARN: volume_backends.ts:[[@LINE-1]]:5: warning: `Volume.object` at `/datasets` is not mounted by any sandbox backend
    Volume.object("s3://scratch-bucket/", "/out", {
      endpoint: "http://127.0.0.1:9000",
      credentials: SecretRef("local-keys"),
      mode: "rw",
    }),
    // WARN: volume_backends.ts:[[@LINE-5]]:5: warning: `Volume.object` at `/out` is not mounted by any sandbox backend
  ],
  // WARN: 3 warnings generated.
})
export class VolumeBackends {
  @entrypoint({ command: ["ls", "/notes"] })
  main() {}
}

// CHECK: "volumes":[{"kind":"encrypted","loc":{{[{][^}]*}}},"size_mb":512,"source":"notes","target":"/notes"},{"credentials":"datasets-keys","endpoint":"https://s3.example.com","kind":"object","loc":{{[{][^}]*}}},"source":"s3://datasets/run-1","target":"/datasets"},{"credentials":"local-keys","endpoint":"http://127.0.0.1:9000","kind":"object","loc":{{[{][^}]*}}},"mode":"rw","source":"s3://scratch-bucket/","target":"/out"}]
