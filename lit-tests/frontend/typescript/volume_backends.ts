// `Volume.encrypted` and `Volume.object` in TypeScript (`sizeMb`, `{ endpoint, credentials, mode }`)
// compile to the same IR as in Python; `check` passes without a warning.
// RUN: %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=QUIET --allow-empty
// QUIET-NOT: warning
// RUN: %mvmctl compile --dump ir %s | FileCheck %s
import { SecretRef, Volume, entrypoint, workload } from "@mvm/sdk";

const KEYS = SecretRef("datasets-keys");

@workload("volume-backends", {
  image: "template:busybox",
  volumes: [
    Volume.encrypted("notes", "/notes", { sizeMb: 512 }),
    Volume.object("s3://datasets/run-1", "/datasets", { endpoint: "https://s3.example.com", credentials: KEYS }),
    Volume.object("s3://scratch-bucket/", "/out", {
      endpoint: "http://127.0.0.1:9000",
      credentials: SecretRef("local-keys"),
      mode: "rw",
    }),
  ],
})
export class VolumeBackends {
  @entrypoint({ command: ["ls", "/notes"] })
  main() {}
}

// CHECK: "volumes":[{"kind":"encrypted","loc":{{[{][^}]*}}},"size_mb":512,"source":"notes","target":"/notes"},{"credentials":"datasets-keys","endpoint":"https://s3.example.com","kind":"object","loc":{{[{][^}]*}}},"source":"s3://datasets/run-1","target":"/datasets"},{"credentials":"local-keys","endpoint":"http://127.0.0.1:9000","kind":"object","loc":{{[{][^}]*}}},"mode":"rw","source":"s3://scratch-bucket/","target":"/out"}]
