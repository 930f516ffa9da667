import { workload, entrypoint } from "@mvm/sdk";

// Variance annotations are valid TypeScript that tree-sitter-typescript 0.23.2 cannot parse.
export interface Handler<in I, out O> {
  handle(input: I): O;
}

@workload("report", { image: "template:busybox" })
export class Report {
  @entrypoint({ command: ["sh", "-c", "echo done"] })
  main() {}
}
