// `Image.debian({ packages, suite })` in TypeScript lowers to the same IR as in Python.
// RUN: %mvmctl check %s
// RUN: %mvmctl compile --dump ir %s | FileCheck %s
import { Image, entrypoint, workload } from "@mvm/sdk";

const TOOLS = ["jq", "python3-yaml"];

@workload("tools", { image: Image.debian({ packages: TOOLS }) })
export class Tools {
  @entrypoint({ command: ["jq", "--version"] })
  main() {}
}

@workload("suite", { image: Image.debian({ packages: ["g++"], suite: "bookworm" }) })
export class Suite {
  @entrypoint({ command: ["true"] })
  main() {}
}

// CHECK: "id":"tools","image":{"kind":"debian","packages":["jq","python3-yaml"],"ref":"bookworm"}
// CHECK: "id":"suite","image":{"kind":"debian","packages":["g++"],"ref":"bookworm"}
