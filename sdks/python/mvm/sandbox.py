"""``Sandbox``: the runtime surface of the SDK (docs/sdk.md).

Two modes, chosen by ``MVM_SDK_MODE`` when a sandbox is created:

* ``live`` (the default) drives ``mvmctl``: ``create`` runs ``mvmctl up``, ``commands.run`` runs
  ``mvmctl exec --format=json``, ``files.*`` run ``mvmctl fs`` (``files.list``: ``ls --format=json``),
  ``pause``/``resume`` run ``mvmctl pause``/``resume``, ``state``, ``services.list`` and ``ports``
  read ``mvmctl ps --format=json``, ``services.logs`` runs ``mvmctl logs --service``,
  ``Sandbox.restore`` runs ``mvmctl restore --format=json``, and so on. Only mvmctl's JSON is parsed, never its text for people, and an answer of the wrong
  shape is a ``SandboxError`` (``_output``). A sandbox dies with the process that created it unless
  it was created with ``detach=True``.
* ``record`` launches nothing: it records what the script does and writes the Workload IR the
  equivalent ``@workload`` declaration compiles to (to ``MVM_RECORD_OUT``, or stdout), for
  ``mvmctl compile --from-ir``.

Secret values never pass through here: secrets are ``SecretRef`` names, file content goes to
``mvmctl fs write`` on stdin, never on a command line, and nothing is logged.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets as _random
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from mvm import _ir, _output
from mvm._canonical import canonical_json
from mvm.errors import SandboxError, TimeoutError, VerificationError

__all__ = ["Sandbox", "CommandResult", "CommandHandle", "FileEntry", "Snapshot", "ServiceInfo",
           "PublishedPort"]

#: ``Sandbox.create`` options that become IR, by their declaration names.
_WORKLOAD_OPTIONS = ("cpu", "memory_mb", "disk_mb", "timeout_seconds", "network", "secrets",
                     "volumes", "env", "ports", "isolation", "labels", "files", "services")

#: The id a sandbox's workload gets when ``workload_id`` is not given.
DEFAULT_WORKLOAD_ID = "sandbox"

#: The entrypoint a live sandbox's plan carries. ``up`` starts the sandbox idle and runs nothing
#: from the plan, but a plan needs an entrypoint (``no-entrypoint``); this one says what the
#: sandbox does between commands: wait, until its own timeout.
LIVE_ENTRYPOINT = {"name": "sdk-session", "command": ["sleep", "86400"]}

#: How long ``create`` waits for ``mvmctl up``: building the python-3.11 template the first time
#: takes about a minute.
DEFAULT_CREATE_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it ended. In record mode nothing runs: the result is empty
    with ``exit_code`` 0 and ``recorded`` set."""

    stdout: str
    stderr: str
    exit_code: int
    audit_id: Optional[str] = None
    #: mvmctl's note when the status is not the command's own (a signal, the memory limit).
    message: Optional[str] = None
    recorded: bool = False


@dataclass(frozen=True)
class FileEntry:
    #: The name as ``os.listdir`` would give it: bytes that are not UTF-8 are decoded with
    #: ``surrogateescape``, so ``os.fsencode(entry.name)`` is the name's exact bytes.
    name: str
    #: ``"file"``, ``"dir"``, ``"symlink"`` or ``"other"``
    type: str
    mode: int
    size: int


@dataclass(frozen=True)
class Snapshot:
    #: The sandbox it was taken of.
    name: str
    path: str
    sha256: str
    audit_id: Optional[str] = None
    #: Its label within the sandbox: with ``name``, what ``Sandbox.restore`` takes.
    label: Optional[str] = None
    #: ``"files"`` (the writable file systems, as a tar) or ``"full"`` (a microVM's memory and
    #: devices, ``snapshot(full=True)``; ``sha256`` is then empty: each file has its own digest).
    kind: str = "files"


@dataclass(frozen=True)
class ServiceInfo:
    """A service of a running sandbox, as ``mvmctl ps --format=json`` reports it. ``phase`` and the
    numbers are what the sandbox's agent says: shown, never trusted for anything else."""

    name: str
    #: ``"never"``, ``"on-failure"`` or ``"always"``
    restart: str
    #: ``"running"``, ``"backoff"``, ``"exited"``, ``"failed"``, or ``"unknown"`` when the agent
    #: could not be asked (the sandbox is paused or stopped)
    phase: str
    #: How often the agent started it again.
    restarts: int = 0
    #: Its pid in the sandbox's pid namespace; 0 when it is not running.
    pid: int = 0
    #: The last exit status, when it has exited.
    exit_code: Optional[int] = None
    #: The signal that ended it, when one did (0 otherwise).
    signal: Optional[int] = None


@dataclass(frozen=True)
class PublishedPort:
    """A guest port ``up`` published on the host: connect to ``address``:``host``."""

    guest: int
    host: int
    address: str


def _mode() -> str:
    mode = os.environ.get("MVM_SDK_MODE", "live") or "live"
    if mode not in ("live", "record"):
        raise SandboxError(f"MVM_SDK_MODE={mode!r} is not a mode; use `live` (the default) or "
                           "`record`")
    return mode


def _call_site() -> Dict[str, Any]:
    """The user's line that called into the SDK: the IR's ``source``/``loc``."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame = frame.f_back
    if frame is None:
        return {"file": "<unknown>", "line": 1, "column": 1}
    file = frame.f_code.co_filename
    try:
        relative = os.path.relpath(file)
        if not relative.startswith(".."):
            file = relative
    except ValueError:
        pass
    column = 1
    try:  # Python 3.11+: the call's own position (a UTF-8 byte offset) in its line
        positions = list(frame.f_code.co_positions())[frame.f_lasti // 2]
        if positions[0] == frame.f_lineno and positions[2] is not None:
            import linecache
            line_bytes = linecache.getline(frame.f_code.co_filename, frame.f_lineno).encode()
            column = len(line_bytes[:positions[2]].decode("utf-8", "replace")) + 1
    except (AttributeError, IndexError, TypeError):
        pass
    return {"file": file, "line": frame.f_lineno, "column": column}


# ---------------------------------------------------------------------------------------------
# Record mode


class _Recorder:
    """Every sandbox a record-mode process created, written as one IR module at exit and after
    each ``stop()``."""

    def __init__(self) -> None:
        self.workloads: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        self._written: Optional[str] = None
        atexit.register(self.write)

    def add(self, workload: Dict[str, Any]) -> None:
        with self._lock:
            if any(w["id"] == workload["id"] for w in self.workloads):
                raise SandboxError(f"workload id {workload['id']!r} is already used by another "
                                   "sandbox of this script; give each one its own workload_id=")
            self.workloads.append(workload)

    def text(self) -> str:
        return canonical_json(_ir.module(self.workloads))

    def write(self, final: bool = True) -> None:
        with self._lock:
            text = self.text()
            out = os.environ.get("MVM_RECORD_OUT")
            if out:
                if text != self._written:
                    tmp = f"{out}.{os.getpid()}.tmp"
                    with open(tmp, "w", encoding="utf-8") as f:
                        f.write(text)
                    os.replace(tmp, out)
                    self._written = text
            elif final and self.workloads and text != self._written:
                # stdout gets one module, at exit: a second copy would not be one JSON value.
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
                self._written = text


_recorder: Optional[_Recorder] = None


def _the_recorder() -> _Recorder:
    global _recorder
    if _recorder is None:
        _recorder = _Recorder()
    return _recorder


class _RecordBackend:
    def __init__(self, workload: Dict[str, Any]) -> None:
        self.workload = workload
        self.files: Dict[str, bytes] = {}
        self.audit_id: Optional[str] = None

    def _entrypoint(self, argv: Sequence[str], timeout_seconds: Optional[int]) -> None:
        entrypoints = self.workload.setdefault("entrypoints", [])
        e = _ir.entrypoint(f"cmd-{len(entrypoints) + 1}", argv, timeout_seconds)
        e["loc"] = _call_site()
        entrypoints.append(e)

    def run_command(self, argv, timeout_seconds, cwd) -> CommandResult:
        self._entrypoint(argv, timeout_seconds)
        return CommandResult(stdout="", stderr="", exit_code=0, recorded=True)

    def run_on_terminal(self, argv, timeout_seconds, cwd, rows, cols, input) -> CommandResult:
        # A terminal is how the command is watched, not what the workload declares.
        return self.run_command(argv, timeout_seconds, cwd)

    def start_command(self, argv, timeout_seconds, cwd) -> "CommandHandle":
        self._entrypoint(argv, timeout_seconds)
        return CommandHandle(None, None, CommandResult("", "", 0, recorded=True))

    def write(self, path: str, data: bytes) -> None:
        self.workload.setdefault("files", []).append(_ir.file_entry(path, data))
        self.files[path] = data

    def read(self, path: str) -> bytes:
        if path in self.files:
            return self.files[path]
        raise SandboxError(f"record mode runs nothing, so it can only read back files the script "
                           f"wrote; {path} was not written")

    def list(self, path: str) -> List[FileEntry]:
        prefix = path.rstrip("/") + "/"
        return [FileEntry(p[len(prefix):], "file", 0o644, len(d)) for p, d in self.files.items()
                if p.startswith(prefix) and "/" not in p[len(prefix):]]

    def remove(self, path: str, recursive: bool) -> None:
        self.files.pop(path, None)

    def logs(self) -> str:
        return ""

    def snapshot(self, full: bool = False, label: Optional[str] = None) -> Snapshot:
        raise SandboxError("record mode launches nothing, so there is nothing to snapshot; run "
                           "with MVM_SDK_MODE=live")

    def _live_only(self, what: str) -> SandboxError:
        return SandboxError(f"record mode launches nothing, so there is nothing to {what}; run "
                            "with MVM_SDK_MODE=live")

    def pause(self) -> None:
        raise self._live_only("pause")

    def services(self) -> List[ServiceInfo]:
        raise self._live_only("list services of")

    def service_logs(self, service: str) -> str:
        raise self._live_only("read service logs of")

    def ports(self) -> List[PublishedPort]:
        raise self._live_only("publish ports for")

    def resume(self) -> None:
        raise self._live_only("resume")

    def state(self) -> str:
        return "recording"

    def stop(self) -> None:
        _the_recorder().write(final=False)

    destroy = stop


# ---------------------------------------------------------------------------------------------
# Live mode


_AUDIT_ID = re.compile(r"\(audit id ([0-9]+-[0-9a-f]{12})\)")


def _find_mvmctl(explicit: Optional[str]) -> str:
    given = explicit or os.environ.get("MVM_MVMCTL")
    path = shutil.which(given or "mvmctl")
    if not path:
        where = f"{given!r} is not an executable file" if given else "it is not on PATH"
        raise SandboxError(f"mvmctl was not found ({where}): put it on PATH or set MVM_MVMCTL "
                           "to its path (it is build/bin/mvmctl after building mvm)")
    return path


def _die_with_parent(parent: int):
    """``preexec_fn`` making the child get SIGTERM when this process dies (PR_SET_PDEATHSIG), so
    a non-detached ``mvmctl up`` tears its sandbox down. Resolved before fork, as little as
    possible runs between fork and exec."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl
    pr_set_pdeathsig = 1

    def arm() -> None:
        if prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0) != 0:
            os._exit(125)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(125)

    return arm


def _last_line(text: str) -> str:
    """What mvmctl said went wrong: its error diagnostics (located in the SDK's temporary IR file,
    so without their location), else its last line."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    errors = [line[line.index("error:"):] for line in lines if "error:" in line]
    if errors:
        return "; ".join(errors)
    return lines[-1] if lines else ""


class _LiveBackend:
    def __init__(self, mvmctl: str, state_dir: Optional[str], name: str, detach: bool,
                 sandbox_backend: Optional[str] = None,
                 publish: Optional[Mapping[int, int]] = None) -> None:
        self.mvmctl = mvmctl
        # Checked here, before launch makes any temporary file.
        self.publish_flags: List[str] = []
        for guest, host in (publish or {}).items():
            self.publish_flags += ["--publish", f"{_output.port_number('publish', guest)}:"
                                                f"{_output.port_number('publish', host)}"]
        self.state_dir = state_dir
        self.sandbox_backend = sandbox_backend
        self.name = name
        self.detach = detach
        self.audit_id: Optional[str] = None
        self.up: Optional[subprocess.Popen] = None
        self.up_stderr: Any = None
        self.source: Dict[str, Any] = {}
        self.stopped = False

    def _argv(self, command: str, *rest: str) -> List[str]:
        argv = [self.mvmctl, command]
        if self.state_dir:
            argv += ["--state-dir", self.state_dir]
        return argv + list(rest)

    def _fail(self, what: str, proc: subprocess.CompletedProcess, audit_id=None) -> SandboxError:
        stderr = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode("utf-8",
                                                                                     "replace")
        reason = _last_line(stderr) or f"mvmctl exited with status {proc.returncode}"
        return SandboxError(f"{what} in sandbox {self.name!r} failed: {reason}",
                            audit_id=audit_id or self.audit_id, exit_code=proc.returncode,
                            stderr=stderr)

    def _run(self, what: str, argv: List[str], input: Optional[bytes] = None,
             timeout: Optional[float] = 120) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run(argv, input=input, capture_output=True,
                                  stdin=None if input is not None else subprocess.DEVNULL,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{what} in sandbox {self.name!r}: mvmctl did not answer within "
                               f"{timeout:g} s", audit_id=self.audit_id) from None
        if proc.returncode != 0:
            raise self._fail(what, proc)
        return proc

    # -- lifecycle

    def launch(self, module: Dict[str, Any], create_timeout: float) -> None:
        fd, ir_path = tempfile.mkstemp(prefix="mvm-sdk-", suffix=".ir.json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(canonical_json(module))
        stderr = tempfile.TemporaryFile()
        argv = self._argv("up", "--from-ir", ir_path, "--name", self.name, "--format=json")
        if self.sandbox_backend:
            argv += ["--backend", self.sandbox_backend]
        argv += self.publish_flags
        if self.detach:
            argv.append("--detach")
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                preexec_fn=None if self.detach else _die_with_parent(os.getpid()))
            line = self._first_line(proc, create_timeout)
        except BaseException:
            stderr.close()
            raise
        finally:
            os.unlink(ir_path)
        if not line:
            proc.wait()
            proc.stdout.close()
            stderr.seek(0)
            text = stderr.read().decode("utf-8", "replace")
            stderr.close()
            reason = _last_line(text) or f"mvmctl up exited with status {proc.returncode}"
            error = VerificationError if "refused:" in reason else SandboxError
            if proc.returncode == 1:  # the compiler refused the workload
                reason += (f" (the sandbox declared at {self.source['file']}:"
                           f"{self.source['line']})")
            # A refusal names its audit record: "... (audit id 12-0123456789ab)".
            refused = _AUDIT_ID.search(reason)
            reason = _AUDIT_ID.sub("", reason).rstrip()  # the error adds it back, once
            raise error(f"creating sandbox {self.name!r} failed: {reason}",
                        audit_id=refused.group(1) if refused else None,
                        exit_code=proc.returncode, stderr=text)
        try:
            info = _output.parse_object("mvmctl up --format=json", line)
            self.audit_id = _output.field("mvmctl up --format=json", info, "audit_id", str,
                                          default=None)
        except SandboxError:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            stderr.close()
            raise
        if self.detach:
            proc.wait()
            proc.stdout.close()
            stderr.close()
        else:
            self.up = proc
            self.up_stderr = stderr  # read if `up` fails when it is stopped
            _live_sandboxes.add(self)

    def _first_line(self, proc: subprocess.Popen, timeout: float) -> str:
        """The first line ``up`` prints (its JSON), or "" when it exits without one."""
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        data = b""
        try:
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    proc.terminate()
                    proc.wait()
                    proc.stdout.close()
                    raise TimeoutError(f"sandbox {self.name!r} did not start within "
                                       f"{timeout:g} s")
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                data += chunk
        finally:
            selector.close()
        return data.decode("utf-8", "replace").split("\n", 1)[0].strip() if b"\n" in data else ""

    def _end_up(self, what: str) -> None:
        """Ends an attached sandbox through its ``up``: SIGTERM, on which ``up`` destroys the
        sandbox and exits. (``mvmctl stop`` from here would race ``up``'s own clean-up.)"""
        assert self.up is not None
        up, self.up = self.up, None
        _live_sandboxes.discard(self)
        up.terminate()
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
        up.stdout.close()
        self.up_stderr.seek(0)
        text = self.up_stderr.read().decode("utf-8", "replace")
        self.up_stderr.close()
        if up.returncode != 0:
            raise SandboxError(f"{what} sandbox {self.name!r}: mvmctl up exited with status "
                               f"{up.returncode}: {_last_line(text)}", audit_id=self.audit_id,
                               exit_code=up.returncode, stderr=text)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.up is not None:
            self._end_up("stopping")
        else:
            self._run("stop", self._argv("stop", self.name))

    def destroy(self) -> None:
        self.stopped = True
        if self.up is not None:
            self._end_up("destroying")  # `up` leaves no trace of an attached sandbox
        else:
            self._run("destroy", self._argv("destroy", self.name))

    def abandon(self) -> None:
        """At interpreter exit: end an attached sandbox the way its parent's death would."""
        if self.up is not None and self.up.poll() is None:
            self.up.terminate()
            try:
                self.up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.up.kill()

    # -- operations

    def _exec_argv(self, argv: Sequence[str], timeout_seconds: Optional[int],
                   cwd: Optional[str], tty: bool = False) -> List[str]:
        command = _ir.entrypoint("exec", argv, timeout_seconds)["command"]
        # On a terminal mvmctl's output is the terminal's, not JSON: -t and --format=json exclude
        # each other.
        extra = ["-it"] if tty else ["--format=json"]
        if timeout_seconds is not None:
            extra += ["--timeout", str(timeout_seconds)]
        if cwd is not None:
            extra += ["--cwd", cwd]
        return self._argv("exec", self.name, *extra, "--", *command)

    def _result(self, argv: Sequence[str], proc_returncode: int, stdout: bytes,
                stderr: bytes) -> CommandResult:
        what = "mvmctl exec --format=json"
        try:
            j = _output.parse_object(what, stdout)
        except SandboxError as bad:
            if stdout.strip():
                raise SandboxError(f"running {list(argv)!r} in sandbox {self.name!r}: "
                                   f"{bad.message}", audit_id=self.audit_id,
                                   exit_code=proc_returncode,
                                   stderr=stderr.decode("utf-8", "replace")) from None
            # mvmctl failed before the command ran (it prints no JSON then): its stderr says why.
            raise self._fail(f"running {list(argv)!r}",
                             subprocess.CompletedProcess([], proc_returncode, stdout,
                                                         stderr)) from None
        result = CommandResult(stdout=_output.field(what, j, "stdout", str, ""),
                               stderr=_output.field(what, j, "stderr", str, ""),
                               exit_code=_output.field(what, j, "exit_code", int, proc_returncode),
                               audit_id=_output.field(what, j, "audit_id", str, None),
                               message=_output.field(what, j, "message", str, None))
        if _output.field(what, j, "timed_out", bool, False):
            raise TimeoutError(f"{list(argv)!r} in sandbox {self.name!r} timed out and was "
                               "killed", audit_id=result.audit_id, exit_code=result.exit_code,
                               stderr=result.stderr, result=result)
        return result

    @staticmethod
    def _grace(timeout_seconds: Optional[int]) -> Optional[float]:
        # mvmctl enforces the timeout itself; this only guards against mvmctl hanging.
        return None if timeout_seconds is None else timeout_seconds + 60

    def run_command(self, argv, timeout_seconds, cwd) -> CommandResult:
        full = self._exec_argv(argv, timeout_seconds, cwd)
        try:
            proc = subprocess.run(full, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=self._grace(timeout_seconds))
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{list(argv)!r} in sandbox {self.name!r}: mvmctl exec did not "
                               f"return within {timeout_seconds} s", audit_id=self.audit_id) \
                from None
        return self._result(argv, proc.returncode, proc.stdout, proc.stderr)

    def run_on_terminal(self, argv, timeout_seconds, cwd, rows, cols, input) -> CommandResult:
        full = self._exec_argv(argv, timeout_seconds, cwd, tty=True)
        try:
            status, output = _run_on_terminal(full, rows, cols, input,
                                              self._grace(timeout_seconds))
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{list(argv)!r} in sandbox {self.name!r}: mvmctl exec -t did not "
                               f"return within {timeout_seconds} s", audit_id=self.audit_id) \
                from None
        return CommandResult(stdout=output.decode("utf-8", "replace"), stderr="",
                             exit_code=status)

    def start_command(self, argv, timeout_seconds, cwd) -> "CommandHandle":
        full = self._exec_argv(argv, timeout_seconds, cwd)
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        return CommandHandle(self, list(argv), None, proc, self._grace(timeout_seconds))

    def write(self, path: str, data: bytes) -> None:
        self._run(f"writing {path}", self._argv("fs", self.name, "write", path), input=data)

    def read(self, path: str) -> bytes:
        return self._run(f"reading {path}", self._argv("fs", self.name, "read", path)).stdout

    def list(self, path: str) -> List[FileEntry]:
        out = self._run(f"listing {path}",
                        self._argv("fs", self.name, "ls", path, "--format=json")).stdout
        return [FileEntry(*e) for e in _output.listing(f"mvmctl fs ls {path} --format=json", out)]

    def remove(self, path: str, recursive: bool) -> None:
        flags = ["-r"] if recursive else []
        self._run(f"removing {path}", self._argv("fs", *flags, self.name, "rm", path))

    def logs(self) -> str:
        return self._run("reading logs", self._argv("logs", self.name)).stdout.decode(
            "utf-8", "replace")

    def snapshot(self, full: bool = False, label: Optional[str] = None) -> Snapshot:
        flags = (["--full"] if full else []) + (["--label", label] if label else [])
        proc = subprocess.run(self._argv("snapshot", self.name, *flags, "--format=json"),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
        if proc.returncode != 0:
            raise self._fail("snapshot", proc)
        what = "mvmctl snapshot --format=json"
        j = _output.parse_object(what, proc.stdout)
        return Snapshot(name=_output.field(what, j, "name", str, self.name),
                        path=_output.field(what, j, "snapshot", str),
                        sha256=_output.field(what, j, "sha256", str, ""),
                        audit_id=_output.field(what, j, "audit_id", str, None),
                        label=_output.field(what, j, "label", str, None),
                        kind=_output.field(what, j, "kind", str, "files"))

    def remove_snapshot(self, label: str) -> None:
        self._run("removing a snapshot", self._argv("snapshot", "rm", self.name, label))

    def pause(self) -> None:
        self._run("pause", self._argv("pause", self.name))

    def resume(self) -> None:
        self._run("resume", self._argv("resume", self.name))

    def _ps_entry(self, what_for: str) -> Optional[Dict[str, Any]]:
        """This sandbox's entry of ``mvmctl ps --format=json``; None when it has no record."""
        out = self._run(what_for, self._argv("ps", "--format=json")).stdout
        what = "mvmctl ps --format=json"
        sandboxes = _output.field(what, _output.parse_object(what, out), "sandboxes", list)
        for entry in sandboxes:
            if isinstance(entry, dict) and entry.get("name") == self.name:
                return entry
        return None

    def state(self) -> str:
        entry = self._ps_entry("reading the state")
        if entry is None:
            return "destroyed"
        return _output.field("mvmctl ps --format=json", entry, "status", str)

    def _served_entry(self, what_for: str) -> Dict[str, Any]:
        entry = self._ps_entry(what_for)
        if entry is None:
            raise SandboxError(f"{what_for} of sandbox {self.name!r}: it no longer exists",
                               audit_id=self.audit_id)
        return entry

    def services(self) -> List[ServiceInfo]:
        entry = self._served_entry("listing services")
        return [ServiceInfo(*s) for s in _output.services("mvmctl ps --format=json", entry)]

    def service_logs(self, service: str) -> str:
        if not isinstance(service, str) or not service or service.startswith("-"):
            raise ValueError(f"{service!r} is not a service name")
        return self._run(f"reading the log of service {service!r}",
                         self._argv("logs", self.name, "--service", service)).stdout.decode(
                             "utf-8", "replace")

    def ports(self) -> List[PublishedPort]:
        entry = self._served_entry("listing published ports")
        return [PublishedPort(*p) for p in _output.ports("mvmctl ps --format=json", entry)]

    def restore(self, sandbox: str, label: str, timeout: float) -> Dict[str, Any]:
        """``mvmctl restore SANDBOX LABEL --as <this name>``: the new sandbox is detached."""
        argv = self._argv("restore", sandbox, label, "--as", self.name, "--format=json")
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"restoring snapshot {label!r} of {sandbox!r} as {self.name!r}: "
                               f"mvmctl did not answer within {timeout:g} s") from None
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", "replace")
            reason = _last_line(stderr) or f"mvmctl restore exited with status {proc.returncode}"
            refused = _AUDIT_ID.search(reason)
            reason = _AUDIT_ID.sub("", reason).rstrip()
            # 4: the snapshot or its plan changed; 125 with "refused:": the plan was refused.
            error = (VerificationError if proc.returncode == 4 or "refused:" in reason
                     else SandboxError)
            raise error(f"restoring snapshot {label!r} of {sandbox!r} as {self.name!r} failed: "
                        f"{reason}", audit_id=refused.group(1) if refused else None,
                        exit_code=proc.returncode, stderr=stderr)
        what = "mvmctl restore --format=json"
        j = _output.parse_object(what, proc.stdout)
        self.audit_id = _output.field(what, j, "audit_id", str, None)
        return j


class _LiveSet:
    """Attached sandboxes still up: stopped at interpreter exit like a parent's death would."""

    def __init__(self) -> None:
        self.items: "set[_LiveBackend]" = set()
        atexit.register(self.abandon_all)

    def add(self, b: _LiveBackend) -> None:
        self.items.add(b)

    def discard(self, b: _LiveBackend) -> None:
        self.items.discard(b)

    def abandon_all(self) -> None:
        for b in list(self.items):
            b.abandon()


_live_sandboxes = _LiveSet()


# ---------------------------------------------------------------------------------------------
# The public surface


class CommandHandle:
    """A command started with ``commands.start``: ``wait()`` returns its ``CommandResult``."""

    def __init__(self, backend, argv, result: Optional[CommandResult] = None,
                 proc: Optional[subprocess.Popen] = None, timeout: Optional[float] = None):
        self._backend = backend
        self._argv = argv
        self._result = result
        self._proc = proc
        self._timeout = timeout

    def wait(self) -> CommandResult:
        if self._result is None:
            assert self._proc is not None
            try:
                out, err = self._proc.communicate(timeout=self._timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.communicate()
                raise TimeoutError(f"{self._argv!r}: mvmctl exec did not return",
                                   audit_id=self._backend.audit_id) from None
            self._result = self._backend._result(self._argv, self._proc.returncode, out, err)
        return self._result


class Files:
    """``sandbox.files``: files inside the sandbox (paths are the sandbox's)."""

    def __init__(self, backend) -> None:
        self._backend = backend

    def write(self, path: str, content: Union[str, bytes]) -> None:
        """Writes ``content`` (str as UTF-8) to ``path``; the content travels on mvmctl's stdin,
        never its command line."""
        _check_path(path)
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        self._backend.write(path, data)

    def read_bytes(self, path: str) -> bytes:
        _check_path(path)
        return self._backend.read(path)

    def read(self, path: str) -> str:
        """The file's content as text (UTF-8; undecodable bytes replaced)."""
        return self.read_bytes(path).decode("utf-8", "replace")

    def list(self, path: str) -> List[FileEntry]:
        _check_path(path)
        return self._backend.list(path)

    def remove(self, path: str, *, recursive: bool = False) -> None:
        _check_path(path)
        self._backend.remove(path, recursive)


class Services:
    """``sandbox.services``: the services ``Sandbox.create(services=[...])`` declared, which the
    sandbox's agent runs and restarts by their policy (live mode)."""

    def __init__(self, backend) -> None:
        self._backend = backend

    def list(self) -> List[ServiceInfo]:
        """Each service with its phase, restarts and pid as the agent reports them now
        (``mvmctl ps --format=json``)."""
        return self._backend.services()

    def logs(self, name: str) -> str:
        """What service ``name`` printed, and its restarts, as the agent keeps them (a bounded
        ring; ``mvmctl logs NAME --service S``). An unknown service is a ``SandboxError`` naming
        the ones there are."""
        return self._backend.service_logs(name)


class Commands:
    """``sandbox.commands``: run programs in the sandbox. Commands are argv lists; no shell is
    involved unless you run one."""

    def __init__(self, backend) -> None:
        self._backend = backend

    def run(self, argv: Sequence[str], *, timeout_seconds: Optional[int] = None,
            cwd: Optional[str] = None, tty: bool = False, rows: int = 24, cols: int = 80,
            input: Optional[Union[str, bytes]] = None) -> CommandResult:
        """Runs ``argv`` to completion. A non-zero exit is a result, not an error; running out of
        ``timeout_seconds`` raises ``mvm.TimeoutError``.

        ``tty=True`` runs it on a terminal (``mvmctl exec -it`` on a pseudo-terminal this process
        opens, ``rows`` x ``cols``): for programs that behave differently on one (prompts, colour,
        line editing). ``input`` is then typed at the terminal (end a line with ``"\\r"``, as
        Enter does). The result's ``stdout`` is everything the terminal showed, the command's
        stderr, the terminal's echo and ``\\r\\n`` line ends included, and ``stderr`` is empty;
        ``exit_code`` is mvmctl's (the command's own; 124 on timeout). ``input`` is typed as soon
        as the terminal is there, which may be before the command runs: a line waits for the
        command to read it, but a ^C typed then reaches no command."""
        if not tty:
            if input is not None:
                raise TypeError("input= is typed at a terminal; give tty=True with it")
            return self._backend.run_command(_argv_list(argv), timeout_seconds, cwd)
        for what, value in (("rows", rows), ("cols", cols)):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
                raise ValueError(f"{what}={value!r}: a terminal size is 1 to 65535")
        data = input.encode() if isinstance(input, str) else input
        return self._backend.run_on_terminal(_argv_list(argv), timeout_seconds, cwd, rows, cols,
                                             data)

    def start(self, argv: Sequence[str], *, timeout_seconds: Optional[int] = None,
              cwd: Optional[str] = None) -> CommandHandle:
        """Starts ``argv`` without waiting; ``handle.wait()`` gives its result."""
        return self._backend.start_command(_argv_list(argv), timeout_seconds, cwd)


def _run_on_terminal(argv: Sequence[str], rows: int, cols: int, input: Optional[bytes],
                     timeout: Optional[float]) -> "tuple[int, bytes]":
    """Runs ``argv`` with a new pseudo-terminal of ``rows`` x ``cols`` as its stdin, stdout and
    stderr, types ``input`` at it, and returns its exit status (128+N for signal N, as a shell
    says) and everything the terminal showed. ``subprocess.TimeoutExpired`` after ``timeout``
    seconds, the process killed."""
    import fcntl
    import pty
    import struct
    import termios
    import tty

    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        # Raw from the start, as mvmctl -t makes it: input typed before mvmctl switched it is then
        # neither echoed twice nor has its Enter turned into a newline on the way.
        tty.setraw(slave)
        os.set_blocking(master, False)
        # A session of its own, so a ^C typed at this terminal cannot reach this process.
        proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave,
                                start_new_session=True)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    os.close(slave)
    output = bytearray()
    pending = memoryview(input or b"")
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(master, selectors.EVENT_READ)
            while True:
                if deadline is not None and time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise subprocess.TimeoutExpired(list(argv), timeout)
                if pending:
                    try:
                        pending = pending[os.write(master, pending[:4096]):]
                    except BlockingIOError:
                        pass
                # Until the command has ended and the terminal has nothing more; a helper that
                # kept the terminal open past the command's end does not hold the result up.
                if not sel.select(0.05):
                    if proc.poll() is not None:
                        break
                    continue
                try:
                    chunk = os.read(master, 65536)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: every holder of the terminal closed it
                    chunk = b""
                if not chunk:
                    break
                output += chunk
        status = proc.wait()
    finally:
        os.close(master)
    return (128 - status if status < 0 else status), bytes(output)


def _argv_list(argv: Sequence[str]) -> List[str]:
    if isinstance(argv, str):
        raise TypeError("give the command as a list, e.g. [\"python3\", \"/app/main.py\"]; a "
                        "string would need a shell to split it")
    return list(argv)


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not path:
        raise TypeError(f"a sandbox path must be a non-empty string, got {path!r}")
    if path.startswith("-"):
        raise ValueError(f"sandbox path {path!r} starts with '-'; write it as ./{path} or give "
                         "an absolute path")


class Sandbox:
    """A sandbox made with :meth:`create`. Use it as a context manager to stop it at the end of
    the block."""

    def __init__(self, backend, workload_id: str, name: Optional[str]) -> None:
        self._backend = backend
        self.workload_id = workload_id
        self.name = name
        self.files = Files(backend)
        self.commands = Commands(backend)
        self.services = Services(backend)

    @property
    def audit_id(self) -> Optional[str]:
        """The audit id of the sandbox's admission (live mode)."""
        return self._backend.audit_id

    @classmethod
    def create(cls, image: "str | Image", *, workload_id: Optional[str] = None, cpu: Optional[int] = None,
               memory_mb: Optional[int] = None, disk_mb: Optional[int] = None,
               timeout_seconds: Optional[int] = None, network: Any = None,
               secrets: Optional[Mapping[str, Any]] = None, volumes: Optional[Sequence] = None,
               env: Optional[Mapping[str, str]] = None, ports: Optional[Sequence[int]] = None,
               isolation: Optional[str] = None, labels: Optional[Mapping[str, str]] = None,
               files: Optional[Sequence[str]] = None, services: Optional[Sequence[Any]] = None,
               publish: Optional[Mapping[int, int]] = None,
               name: Optional[str] = None, detach: bool = False, state_dir: Optional[str] = None,
               mvmctl: Optional[str] = None, backend: Optional[str] = None,
               create_timeout_seconds: float = DEFAULT_CREATE_TIMEOUT_SECONDS) -> "Sandbox":
        """Creates a sandbox from ``image`` with the options of ``@workload`` (same names and
        meaning; ``services`` lists :class:`mvm.Service` records, what ``@service`` methods
        declare). Live mode only: ``publish`` (guest port to the host port ``up --publish``
        chooses; the others get ephemeral ones), ``name`` (default
        ``<workload id>-<6 hex digits>``),
        ``detach`` (outlive this process), ``state_dir`` (default ``MVM_STATE_DIR`` or
        mvmctl's), ``mvmctl`` (default ``MVM_MVMCTL`` or PATH), ``backend`` (mvmctl's
        ``--backend``: ``container``, the default, or ``qemu-microvm``)."""
        options = dict(cpu=cpu, memory_mb=memory_mb, disk_mb=disk_mb,
                       timeout_seconds=timeout_seconds, network=network, secrets=secrets,
                       volumes=volumes, env=env, ports=ports, isolation=isolation, labels=labels,
                       files=files, services=services)
        workload_id = DEFAULT_WORKLOAD_ID if workload_id is None else workload_id
        workload = _ir.workload(image, workload_id, options)
        source = _call_site()
        if _mode() == "record":
            workload = {"id": workload["id"], "source": source,
                        **{k: v for k, v in workload.items() if k != "id"}}
            for svc in workload.get("services", []):
                svc["loc"] = source  # one call declares them all
            _the_recorder().add(workload)
            return cls(_RecordBackend(workload), workload_id, None)
        name = name or f"{workload_id}-{_random.token_hex(3)}"
        backend = _LiveBackend(_find_mvmctl(mvmctl), state_dir or os.environ.get("MVM_STATE_DIR"),
                               name, detach, backend, publish)
        live = dict(workload, source=source, entrypoints=[dict(LIVE_ENTRYPOINT)])
        backend.source = source
        backend.launch(_ir.module([live]), create_timeout_seconds)
        return cls(backend, workload_id, name)

    def logs(self) -> str:
        """What the sandbox's commands printed, as its agent keeps it (a bounded ring)."""
        return self._backend.logs()

    def ports(self) -> List[PublishedPort]:
        """The guest ports published on the host (``ports=`` and each service's ``port``), as
        ``mvmctl ps --format=json`` lists them; empty once the sandbox stopped. Live mode only."""
        return self._backend.ports()

    def snapshot(self, *, full: bool = False, label: Optional[str] = None) -> Snapshot:
        """Snapshots the sandbox (``mvmctl snapshot``): its writable files, or with ``full`` (a
        qemu-microvm sandbox) its whole memory and device state, which :meth:`restore` and
        :meth:`fork` start copies of. ``label`` defaults to the UTC time."""
        return self._backend.snapshot(full, label)

    def fork(self, n: int, *, names: Optional[Sequence[str]] = None,
             restore_timeout_seconds: float = DEFAULT_CREATE_TIMEOUT_SECONDS) -> "list[Sandbox]":
        """``n`` copies of this running microVM as it is now, each with its own identity (name
        and hostname, kernel entropy, clock): a full snapshot, ``n`` restores of it, and the
        snapshot removed again (the copies do not need it). The copies are detached;
        ``destroy()`` ends each. ``names`` defaults to ``<name>-fork-<6 hex digits>``."""
        if n < 1:
            raise ValueError(f"fork({n}): the number of copies must be at least 1")
        if names is not None and len(names) != n:
            raise ValueError(f"fork({n}) was given {len(names)} names")
        snap = self.snapshot(full=True, label=f"fork-{_random.token_hex(4)}")
        try:
            return [Sandbox.restore(snap, name=(names[i] if names else None)
                                    or f"{(self.name or 'sandbox')[:50]}-fork-{_random.token_hex(3)}",
                                    state_dir=self._backend.state_dir,
                                    mvmctl=self._backend.mvmctl,
                                    restore_timeout_seconds=restore_timeout_seconds)
                    for i in range(n)]
        finally:
            self._backend.remove_snapshot(snap.label or "")

    def pause(self) -> None:
        """Stops every process of the sandbox where it is (``mvmctl pause``) until :meth:`resume`;
        meanwhile commands and file operations fail at once with a ``SandboxError``. Pausing a
        paused sandbox is fine."""
        self._backend.pause()

    def resume(self) -> None:
        """Lets a paused sandbox's processes run on from where they stopped (``mvmctl resume``)."""
        self._backend.resume()

    @property
    def state(self) -> str:
        """``"running"``, ``"paused"``, ``"stopped"`` or ``"destroyed"`` (no record left), as
        ``mvmctl ps`` says now; ``"recording"`` in record mode."""
        return self._backend.state()

    @classmethod
    def restore(cls, snapshot: Union[Snapshot, str], label: Optional[str] = None, *,
                name: Optional[str] = None, state_dir: Optional[str] = None,
                mvmctl: Optional[str] = None,
                restore_timeout_seconds: float = DEFAULT_CREATE_TIMEOUT_SECONDS) -> "Sandbox":
        """Starts a new sandbox from a snapshot (``mvmctl restore``): ``snapshot`` is a
        :class:`Snapshot`, or the name of the sandbox it was taken of with ``label``. The
        snapshot and its plan are checked first (a changed one raises ``VerificationError``);
        the new sandbox is detached (it outlives this process; ``destroy()`` ends it). Live mode
        only. ``name`` defaults to ``<sandbox>-<6 hex digits>``."""
        if _mode() == "record":
            raise SandboxError("record mode launches nothing, so there is nothing to restore; run "
                               "with MVM_SDK_MODE=live")
        if isinstance(snapshot, Snapshot):
            sandbox, label = snapshot.name, label or snapshot.label
        else:
            sandbox = snapshot
        if not label:
            raise ValueError("give the snapshot's label (a Snapshot from snapshot() carries it)")
        name = name or f"{sandbox[:55]}-{_random.token_hex(3)}"
        backend = _LiveBackend(_find_mvmctl(mvmctl), state_dir or os.environ.get("MVM_STATE_DIR"),
                               name, detach=True)
        j = backend.restore(sandbox, label, restore_timeout_seconds)
        workload_id = _output.field("mvmctl restore --format=json", j, "workload", str)
        return cls(backend, workload_id, name)

    def stop(self) -> None:
        """Stops the sandbox (record mode: writes the IR recorded so far). Idempotent."""
        self._backend.stop()

    def destroy(self) -> None:
        """Stops the sandbox and removes every trace of it."""
        self._backend.destroy()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
