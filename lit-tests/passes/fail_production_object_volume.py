# The production profile writes what outlives the run only to encrypted volumes: a read-write
# `Volume.object` is `unsafe-mount`; a read-only one (the default) and `Volume.encrypted` are not.
# The dev profile refuses none of them and warns about none.
# RUN: %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=DEV --allow-empty
# DEV-NOT: {{error|warning}}
# RUN: not %mvmctl check --profile production %s 2>&1 | FileCheck %s --strict-whitespace
from mvm import SecretRef, Volume, workload, entrypoint

@workload("outlives", image="template:busybox", timeout_seconds=60,
          volumes=[Volume.encrypted("notes", "/notes", size_mb=64),
                   Volume.object("s3://datasets", "/in", endpoint="https://s3.example.com",
                                 credentials=SecretRef("keys")),
                   Volume.object("s3://results", "/out", endpoint="https://s3.example.com",
                                 credentials=SecretRef("keys"), mode="rw")])
# CHECK: fail_production_object_volume.py:[[@LINE-1]]:70: error: unsafe volume `s3://results`: the production profile writes data that outlives the run only to `Volume.encrypted` volumes, and object storage is not encrypted by mvm [unsafe-mount]{{$}}
# CHECK-NEXT: {{^}}                                 credentials=SecretRef("keys"), mode="rw")]){{$}}
# CHECK-NEXT: {{^}}                                                                     ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: mount the object volume read-only (`mode="ro"`, the default) and write to a `Volume.encrypted(...)` volume{{$}}
# CHECK: {{^}}1 error generated.{{$}}
class Outlives:
    @entrypoint(command=["true"])
    def main(self): ...
