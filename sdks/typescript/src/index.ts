// @mvm/sdk: declare sandboxed workloads with decorators (read statically by mvmctl), and drive or
// record sandboxes at runtime. See docs/sdk.md.

export { Image, METADATA_PROPERTY, NetworkPolicy, SecretRef, Service, Volume, declarationOf, entrypoint, service, workload } from "./declarations.js";
export type { Declaration, EntrypointOptions, ServiceOptions, WorkloadDeclaration, WorkloadOptions } from "./declarations.js";
export { SandboxError, TimeoutError, VerificationError } from "./errors.js";
export type { SandboxErrorDetails } from "./errors.js";
export { Commands, DEFAULT_WORKLOAD_ID, Files, LIVE_ENTRYPOINT, Sandbox, Services } from "./sandbox.js";
export type { CommandHandle, CommandOptions, CommandResult, FileEntry, PublishedPort, RestoreOptions, SandboxOptions, SandboxState, ServiceInfo, Snapshot } from "./sandbox.js";
export { VolumeFiles } from "./volume_files.js";
export type { VolumeEntry, VolumeFilesOptions } from "./volume_files.js";
export { canonicalJson } from "./canonical.js";
export { withoutLocations } from "./ir.js";
