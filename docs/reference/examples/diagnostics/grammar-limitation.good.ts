import { workload, entrypoint } from "@mvm/sdk";

// Without the variance annotations the grammar reads the interface; TypeScript infers the variance.
export interface Handler<I, O> {
  handle(input: I): O;
}

@workload("report", { image: "template:busybox" })
export class Report {
  @entrypoint({ command: ["sh", "-c", "echo done"] })
  main() {}
}
