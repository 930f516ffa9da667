// The errors the SDK throws. Each carries the audit id of the operation (or, when the operation left
// no record of its own, of the sandbox's admission), so a failure can be found in
// `<state-dir>/audit.jsonl`; none ever holds a secret value.

export interface SandboxErrorDetails {
  auditId?: string | undefined;
  exitCode?: number | undefined;
  stderr?: string | undefined;
}

/** A sandbox operation failed: mvmctl refused or could not do it. */
export class SandboxError extends Error {
  readonly auditId: string | undefined;
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(message: string, details: SandboxErrorDetails = {}) {
    super(message + (details.auditId ? ` (audit id ${details.auditId})` : ""));
    this.name = new.target.name;
    this.auditId = details.auditId;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr ?? "";
  }
}

/** A command ran out of time and was killed; `result` holds what it printed before that. */
export class TimeoutError extends SandboxError {
  readonly result: unknown;

  constructor(message: string, details: SandboxErrorDetails & { result?: unknown } = {}) {
    super(message, details);
    this.result = details.result;
  }
}

/** The launcher refused the sandbox's plan at admission: bad or missing signature, untrusted key,
 * expired, replayed, or refused by policy. */
export class VerificationError extends SandboxError {}
