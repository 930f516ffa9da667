# `Volume.encrypted` and `Volume.object` compile to the IR's `Volume` and lower to the plan's `Mount`,
# the credentials as a secret's name only. `check` warns that neither is mounted yet, and passes.
# RUN: %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=WARN --strict-whitespace
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
# RUN: %mvmctl compile --dump plan %s | FileCheck %s --check-prefix=PLAN
# RUN: rm -rf %t && mkdir -p %t && %mvmctl compile %s -o %t --emit plan 2>/dev/null
# RUN: %mvmctl plan inspect %t/volume-backends.plan.json | FileCheck %s --check-prefix=INSPECT
from mvm import SecretRef, Volume, entrypoint, workload

KEYS = SecretRef("datasets-keys")

@workload("volume-backends", image="template:busybox",
          volumes=[Volume.encrypted("notes", "/notes", size_mb=512),
                   # WARN: volume_backends.py:[[@LINE-1]]:20: warning: `Volume.encrypted` at `/notes` is not mounted in a microVM yet: `mvmctl run` and `up` refuse a workload that declares it [volume-not-mounted]{{$}}
                   # WARN-NEXT: {{^}}          volumes=[Volume.encrypted("notes", "/notes", size_mb=512),{{$}}
                   # WARN-NEXT: {{^}}                   ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~{{$}}
                   # WARN-NEXT: {{^}}  hint: the container backend mounts `Volume.encrypted` (declare `isolation="container"`); `Volume.object` is mounted nowhere and reached with `mvmctl fs s3://BUCKET/PREFIX` (docs/volumes.md); remove this volume to run the workload elsewhere{{$}}
                   Volume.object("s3://datasets/run-1", "/datasets", endpoint="https://s3.example.com",
                                 credentials=KEYS),
                   # WARN: volume_backends.py:[[@LINE-2]]:20: warning: `Volume.object` at `/datasets` is not mounted by any sandbox backend: `mvmctl run` and `up` refuse a workload that declares it [volume-not-mounted]{{$}}
                   Volume.object("s3://scratch-bucket/", "/out", endpoint="http://127.0.0.1:9000",
                                 credentials=SecretRef(name="local-keys"), mode="rw")])
                   # WARN: volume_backends.py:[[@LINE-2]]:20: warning: `Volume.object` at `/out` is not mounted by any sandbox backend: `mvmctl run` and `up` refuse a workload that declares it [volume-not-mounted]{{$}}
                   # WARN: {{^}}3 warnings generated.{{$}}
class VolumeBackends:
    @entrypoint(command=["ls", "/notes"])
    def main(self): ...

# CHECK: "volumes":[{"kind":"encrypted","loc":{{[{][^}]*}}},"size_mb":512,"source":"notes","target":"/notes"},{"credentials":"datasets-keys","endpoint":"https://s3.example.com","kind":"object","loc":{{[{][^}]*}}},"source":"s3://datasets/run-1","target":"/datasets"},{"credentials":"local-keys","endpoint":"http://127.0.0.1:9000","kind":"object","loc":{{[{][^}]*}}},"mode":"rw","source":"s3://scratch-bucket/","target":"/out"}]
# PLAN: "mounts":[{"kind":"encrypted","mode":"rw","size_mb":512,"source":"notes","target":"/notes"},{"credentials":"datasets-keys","endpoint":"https://s3.example.com","kind":"object","mode":"ro","source":"s3://datasets/run-1","target":"/datasets"},{"credentials":"local-keys","endpoint":"http://127.0.0.1:9000","kind":"object","mode":"rw","source":"s3://scratch-bucket/","target":"/out"}]
# INSPECT: mounts: encrypted notes -> /notes (512 MiB, mounted by the container backend only)
# INSPECT-NEXT: object s3://datasets/run-1 -> /datasets (ro, https://s3.example.com, credentials datasets-keys, API-only: mvmctl fs)
# INSPECT-NEXT: object s3://scratch-bucket/ -> /out (rw, http://127.0.0.1:9000, credentials local-keys, API-only: mvmctl fs)
