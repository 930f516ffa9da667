# A workload inside every limit of the policy passes, in both profiles, and compiles to a plan.
# RUN: %mvmctl check %s --policy %S/Inputs/strict.json 2>&1 | FileCheck %s --allow-empty --check-prefix=QUIET
# RUN: %mvmctl check %s --policy %S/Inputs/strict.json --profile production
# RUN: rm -rf %t && %mvmctl compile %s -o %t --policy %S/Inputs/strict.json 2>&1 | FileCheck %s
# QUIET-NOT: error
# CHECK: wrote {{.*}}fits.plan.json (unsigned)
from mvm import workload, entrypoint, NetworkPolicy

@workload(
    "fits",
    image="oci:ghcr.io/acme/tools/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    cpu=4,
    memory_mb=2048,
    timeout_seconds=600,
    network=NetworkPolicy.deny_by_default().allow_https("api.openai.com").allow_https("*.eu.acme.dev"),
)
class Fits:
    @entrypoint(command=["true"])
    def main(self): ...

@workload("local-registry", image="oci:127.0.0.1:5000/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", timeout_seconds=60)
class LocalRegistry:
    @entrypoint(command=["true"])
    def main(self): ...
