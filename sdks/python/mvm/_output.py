"""Reading what ``mvmctl ... --format=json`` prints. Its answers carry bytes from inside the sandbox
(file names, command output) and come from a process the SDK did not write, so nothing here trusts
their shape: every way one can be wrong (not JSON, not UTF-8, a missing field, a field of the wrong
type) is a ``SandboxError`` that says what was wrong, never a bare ``ValueError``, ``KeyError`` or
``TypeError``. The text forms mvmctl prints for people are never parsed."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, List, Optional, Tuple

from mvm.errors import SandboxError

#: The ``type`` values of a listing entry.
FILE_TYPES = ("file", "dir", "symlink", "other")

_MISSING = object()
_KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


def _excerpt(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 200 else text[:200] + "…"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_object(what: str, data: Any) -> Dict[str, Any]:
    """``data`` (bytes or str) as one JSON object, or a ``SandboxError`` naming ``what`` printed
    it."""
    try:
        text = bytes(data).decode("utf-8") if isinstance(data, (bytes, bytearray)) else str(data)
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError included
        raise SandboxError(f"{what} printed {_excerpt(data)}, which is not the JSON it promises "
                           f"({e})") from None
    if not isinstance(value, dict):
        raise SandboxError(f"{what} printed JSON that is not an object: {_excerpt(data)}")
    return value


def field(what: str, obj: Dict[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    """``obj[key]``, which must be a ``kind`` (``int`` excludes ``bool``); ``default`` when it is
    absent (or null) and a default is given."""
    value = obj.get(key)
    if value is None:
        if default is not _MISSING:
            return default
        raise SandboxError(f"{what} printed an answer without `{key}`: {_excerpt(obj)}")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SandboxError(f"{what} printed an answer whose `{key}` is {_excerpt(value)}, not "
                           f"{_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def _bytes_field(what: str, entry: Dict[str, Any], key: str) -> Optional[str]:
    """``entry[key]`` as the SDK gives names: when mvmctl sent ``<key>_base64`` (bytes that are not
    UTF-8), those bytes decoded with ``surrogateescape``, as ``os.fsdecode`` would, so
    ``os.fsencode`` gives them back exactly."""
    text = field(what, entry, key, str, default=None)
    encoded = field(what, entry, key + "_base64", str, default=None)
    if encoded is None:
        return text
    if text is None:
        raise SandboxError(f"{what} printed an entry with `{key}_base64` but no `{key}`")
    try:
        raw = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (ValueError, binascii.Error) as e:
        raise SandboxError(f"{what} printed an entry whose `{key}_base64` is not base64: "
                           f"{_excerpt(encoded)} ({e})") from None
    return raw.decode("utf-8", "surrogateescape")


def listing(what: str, data: Any) -> List[Tuple[str, str, int, int]]:
    """The entries of ``mvmctl fs NAME ls PATH --format=json`` as (name, type, mode, size)."""
    doc = parse_object(what, data)
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise SandboxError(f"{what} printed JSON without an `entries` list: {_excerpt(data)}")
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise SandboxError(f"{what} printed an entry that is not an object: {_excerpt(entry)}")
        name = _bytes_field(what, entry, "name")
        if name is None:
            raise SandboxError(f"{what} printed an entry without `name`: {_excerpt(entry)}")
        if name in ("", ".", "..") or "/" in name or "\0" in name:
            raise SandboxError(f"{what} printed {_excerpt(name)}, which is not a file name")
        kind = field(what, entry, "type", str)
        if kind not in FILE_TYPES:
            raise SandboxError(f"{what} printed an entry of type {_excerpt(kind)}; expected one of "
                               f"{', '.join(FILE_TYPES)}")
        mode = field(what, entry, "mode", int)
        size = field(what, entry, "size", int)
        if not 0 <= mode <= 0o7777 or size < 0:
            raise SandboxError(f"{what} printed an entry with mode {mode} and size {size}, which "
                               "no file has")
        out.append((name, kind, mode, size))
    return out


def port_number(what: str, value: Any) -> int:
    """A TCP port, 1-65535."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise SandboxError(f"{what}: {_excerpt(value)} is not a TCP port (1-65535)")
    return value


def ports(what: str, entry: Dict[str, Any]) -> List[Tuple[int, int, str]]:
    """A ``ps`` entry's ``ports`` as (guest, host, address)."""
    items = field(what, entry, "ports", list, default=[])
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise SandboxError(f"{what} printed a port that is not an object: {_excerpt(item)}")
        out.append((port_number(what, field(what, item, "guest", int)),
                    port_number(what, field(what, item, "host", int)),
                    field(what, item, "address", str)))
    return out


#: The ``phase`` values of a service (``unknown``: its agent could not be asked).
SERVICE_PHASES = ("running", "backoff", "exited", "failed", "unknown")


def services(what: str, entry: Dict[str, Any]) -> List[Tuple[str, str, str, int, int, Any, Any]]:
    """A ``ps`` entry's ``services`` as (name, restart, phase, restarts, pid, exit_code, signal)."""
    items = field(what, entry, "services", list, default=[])
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise SandboxError(f"{what} printed a service that is not an object: {_excerpt(item)}")
        phase = field(what, item, "phase", str, default="unknown")
        if phase not in SERVICE_PHASES:
            raise SandboxError(f"{what} printed a service in phase {_excerpt(phase)}; expected one "
                               f"of {', '.join(SERVICE_PHASES)}")
        restarts = field(what, item, "restarts", int, default=0)
        pid = field(what, item, "pid", int, default=0)
        if restarts < 0 or pid < 0:
            raise SandboxError(f"{what} printed a service with {restarts} restarts and pid {pid}")
        out.append((field(what, item, "name", str), field(what, item, "restart", str), phase,
                    restarts, pid, field(what, item, "exit_code", int, default=None),
                    field(what, item, "signal", int, default=None)))
    return out


def volume_entry(what: str, entry: Any, root: bool = False) -> Tuple[str, str, int]:
    """One entry of ``mvmctl fs s3://…|encrypted:NAME ls|stat --format=json`` as (name, type,
    size): volumes keep no modes. ``root``: the volume's root, which has no name."""
    if not isinstance(entry, dict):
        raise SandboxError(f"{what} printed an entry that is not an object: {_excerpt(entry)}")
    name = field(what, entry, "name", str)
    if (name, root) == ("", True):
        pass
    elif name in ("", ".", "..") or "/" in name or "\0" in name:
        raise SandboxError(f"{what} printed {_excerpt(name)}, which is not a file name")
    kind = field(what, entry, "type", str)
    if kind not in ("file", "dir", "other"):
        raise SandboxError(f"{what} printed an entry of type {_excerpt(kind)}; expected file, dir "
                           "or other")
    size = field(what, entry, "size", int)
    if size < 0:
        raise SandboxError(f"{what} printed an entry of size {size}, which no file has")
    return name, kind, size


def volume_listing(what: str, data: Any) -> List[Tuple[str, str, int]]:
    """The entries of ``mvmctl fs s3://…|encrypted:NAME ls PATH --format=json``."""
    entries = parse_object(what, data).get("entries")
    if not isinstance(entries, list):
        raise SandboxError(f"{what} printed JSON without an `entries` list: {_excerpt(data)}")
    return [volume_entry(what, e) for e in entries]
