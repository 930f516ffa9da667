# `Image.debian(...)` lowers to an image of kind `debian` whose `ref` is the suite (the default
# `bookworm` written out) and whose `packages` keep the declared order; the plan's rootfs artifact
# has no digest until a build resolves the package set.
# RUN: %mvmctl check %s
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
# RUN: %mvmctl compile --dump plan %s | FileCheck %s --check-prefix=PLAN
from mvm import Image, workload, entrypoint
import mvm

TOOLS = ["jq", "python3-yaml"]

@workload("tools", image=Image.debian(packages=TOOLS))
class Tools:
    @entrypoint(command=["jq", "--version"])
    def main(self): ...

@workload("positional", image=mvm.Image.debian(["g++", "libc6.1"], suite="bookworm"))
class Positional:
    @entrypoint(command=["true"])
    def main(self): ...

# CHECK: "id":"tools","image":{"kind":"debian","packages":["jq","python3-yaml"],"ref":"bookworm"}
# CHECK: "id":"positional","image":{"kind":"debian","packages":["g++","libc6.1"],"ref":"bookworm"}
# PLAN: "artifacts":[{"kind":"debian","ref":"bookworm","role":"rootfs"}]
