# `Volume.encrypted` and `Volume.object` compile to the IR's `Volume` and lower to the plan's `Mount`,
# the credentials as a secret's name only. `check` passes without a warning: both sandbox backends
# mount both kinds.
# RUN: %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=QUIET --allow-empty
# QUIET-NOT: warning
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
# RUN: %mvmctl compile --dump plan %s | FileCheck %s --check-prefix=PLAN
# RUN: rm -rf %t && mkdir -p %t && %mvmctl compile %s -o %t --emit plan 2>/dev/null
# RUN: %mvmctl plan inspect %t/volume-backends.plan.json | FileCheck %s --check-prefix=INSPECT
from mvm import SecretRef, Volume, entrypoint, workload

KEYS = SecretRef("datasets-keys")

@workload("volume-backends", image="template:busybox",
          volumes=[Volume.encrypted("notes", "/notes", size_mb=512),
                   Volume.object("s3://datasets/run-1", "/datasets", endpoint="https://s3.example.com",
                                 credentials=KEYS),
                   Volume.object("s3://scratch-bucket/", "/out", endpoint="http://127.0.0.1:9000",
                                 credentials=SecretRef(name="local-keys"), mode="rw")])
class VolumeBackends:
    @entrypoint(command=["ls", "/notes"])
    def main(self): ...

# CHECK: "volumes":[{"kind":"encrypted","loc":{{[{][^}]*}}},"size_mb":512,"source":"notes","target":"/notes"},{"credentials":"datasets-keys","endpoint":"https://s3.example.com","kind":"object","loc":{{[{][^}]*}}},"source":"s3://datasets/run-1","target":"/datasets"},{"credentials":"local-keys","endpoint":"http://127.0.0.1:9000","kind":"object","loc":{{[{][^}]*}}},"mode":"rw","source":"s3://scratch-bucket/","target":"/out"}]
# PLAN: "mounts":[{"kind":"encrypted","mode":"rw","size_mb":512,"source":"notes","target":"/notes"},{"credentials":"datasets-keys","endpoint":"https://s3.example.com","kind":"object","mode":"ro","source":"s3://datasets/run-1","target":"/datasets"},{"credentials":"local-keys","endpoint":"http://127.0.0.1:9000","kind":"object","mode":"rw","source":"s3://scratch-bucket/","target":"/out"}]
# INSPECT: mounts: encrypted notes -> /notes (512 MiB, gocryptfs)
# INSPECT-NEXT: object s3://datasets/run-1 -> /datasets (ro, https://s3.example.com, credentials datasets-keys, s3fs)
# INSPECT-NEXT: object s3://scratch-bucket/ -> /out (rw, http://127.0.0.1:9000, credentials local-keys, s3fs)
