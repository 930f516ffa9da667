"""The errors the SDK raises. Each carries the audit id of the operation (or, when the operation
itself left no record, of the sandbox's admission) so a failure can be found in
``<state-dir>/audit.jsonl``; none ever holds a secret value."""

from __future__ import annotations

import builtins
from typing import Optional


class SandboxError(Exception):
    """A sandbox operation failed: mvmctl refused or could not do it. ``message`` says why (mvmctl's
    own words when it gave any), ``exit_code`` is mvmctl's exit status when it ran."""

    def __init__(self, message: str, *, audit_id: Optional[str] = None,
                 exit_code: Optional[int] = None, stderr: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.audit_id = audit_id
        self.exit_code = exit_code
        self.stderr = stderr

    def __str__(self) -> str:
        return self.message + (f" (audit id {self.audit_id})" if self.audit_id else "")


class TimeoutError(SandboxError, builtins.TimeoutError):  # noqa: A001 - the spec's name
    """A command ran out of time and was killed. Also a built-in ``TimeoutError``, so existing
    ``except TimeoutError`` handlers catch it. ``result`` holds what it printed before that."""

    def __init__(self, message: str, *, audit_id: Optional[str] = None,
                 exit_code: Optional[int] = None, stderr: str = "", result=None) -> None:
        SandboxError.__init__(self, message, audit_id=audit_id, exit_code=exit_code,
                              stderr=stderr)
        self.result = result


class VerificationError(SandboxError):
    """The launcher refused the sandbox's plan at admission: bad or missing signature, untrusted
    key, expired, replayed, or refused by policy."""
