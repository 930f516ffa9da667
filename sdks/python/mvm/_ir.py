"""Workload IR (docs/architecture/ir.md) from ``Sandbox.create`` options, the way the compiler lowers
the equivalent ``@workload`` declaration, so record mode and a static compile agree byte for byte
once ``source`` is set aside.

Values are checked for type only (a wrong type could not be written as IR at all); ranges, ids and
image references are the compiler's to check, with its diagnostics, when the IR is compiled.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Mapping, Optional, Sequence

from mvm import Image, NetworkPolicy, SecretRef, Service, Volume

SCHEMA_VERSION = "mvm.ir/v1"

#: Largest IR number: every IR number is an int32.
_INT32_MAX = 2**31 - 1


def _int(value: Any, what: str) -> int:
    # bool is an int in Python, but `cpu=True` is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}")
    if not -_INT32_MAX - 1 <= value <= _INT32_MAX:
        raise ValueError(f"{what} = {value} does not fit a 32-bit IR integer")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__} {value!r}")
    return value


def _str_list(value: Any, what: str) -> List[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{what} must be a list of strings, got {type(value).__name__}")
    return [_str(item, f"{what}[{i}]") for i, item in enumerate(value)]


def _str_map(value: Any, what: str) -> Dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping of strings to strings, got "
                        f"{type(value).__name__}")
    return {_str(k, f"a key of {what}"): _str(v, f"{what}[{k!r}]") for k, v in value.items()}


def _set(out: Dict[str, Any], key: str, value: Any) -> None:
    # Proto3 leaves a plain (non-optional) field out of JSON when it holds its default, so "" and
    # 0 are absent, exactly as the compiler writes them.
    if value not in ("", 0) or isinstance(value, bool):
        out[key] = value


def image(text: Any) -> Dict[str, Any]:
    """``nix:…`` / ``oci:…`` / ``template:…`` split as the frontend splits it; an
    :class:`Image` (``Image.debian(...)``) as the frontend lowers it."""
    if isinstance(text, Image):
        built: Dict[str, Any] = {}
        _set(built, "kind", text.kind)
        _set(built, "ref", _str(text.suite, "Image.debian suite"))
        packages = _str_list(list(text.packages), "Image.debian packages")
        if packages:
            built["packages"] = packages
        return built
    text = _str(text, "image")
    kind, colon, ref = text.partition(":")
    out: Dict[str, str] = {}
    if not colon:
        _set(out, "ref", text)  # the compiler reports the missing kind
        return out
    _set(out, "kind", kind)
    _set(out, "ref", ref)
    if kind == "oci" and "@" in ref:
        _set(out, "digest", ref[ref.index("@") + 1:])
    return out


def _lower_host(host: str) -> str:
    # ASCII only, like the compiler's normalize pass: hosts are ASCII (IDNA) names.
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in host)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def network(policy: Any) -> Dict[str, Any]:
    if not isinstance(policy, NetworkPolicy):
        raise TypeError("network must be a NetworkPolicy chain such as "
                        "NetworkPolicy.deny_by_default().allow_https(\"api.example.com\"), got "
                        f"{type(policy).__name__}")
    rules: Dict[tuple, Dict[str, str]] = {}
    for protocol, host in policy.rules:
        host = _lower_host(_str(host, f"the host of an allow_{protocol} rule"))
        rules.setdefault((_utf8(host), _utf8(protocol)), {"protocol": protocol, "host": host})
    out: Dict[str, Any] = {"default": "deny"}
    if policy.dns:
        out["dns"] = True
    if rules:
        out["rules"] = [rules[k] for k in sorted(rules)]
    return out


def secrets(value: Any) -> List[Dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise TypeError("secrets must be a mapping of environment names to SecretRef(...)")
    out = []
    for env, ref in value.items():
        _str(env, "a secret's environment name")
        if not isinstance(ref, SecretRef):
            # Never echo the value: it may be the secret itself.
            raise TypeError(f"secrets[{env!r}] must be SecretRef(name, hosts=[...]), not a "
                            f"{type(ref).__name__} (the value is not shown); secret values "
                            "stay in the secret store and never enter a plan")
        secret: Dict[str, Any] = {}
        _set(secret, "env", env)
        _set(secret, "name", _str(ref.name, f"secrets[{env!r}].name"))
        hosts = sorted({_lower_host(h) for h in _str_list(list(ref.hosts),
                                                            f"secrets[{env!r}].hosts")},
                       key=_utf8)
        if hosts:
            secret["hosts"] = hosts
        out.append(secret)
    out.sort(key=lambda s: _utf8(s.get("env", "")))
    return out


def volumes(value: Any) -> List[Dict[str, Any]]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError("volumes must be a list of Volume.local(...), Volume.memory(...), "
                        "Volume.encrypted(...) or Volume.object(...)")
    out = []
    for i, vol in enumerate(value):
        if not isinstance(vol, Volume):
            raise TypeError(f"volumes[{i}] must be Volume.local(...), Volume.memory(...), "
                            f"Volume.encrypted(...) or Volume.object(...), got {type(vol).__name__}")
        item: Dict[str, Any] = {}
        _set(item, "kind", vol.kind)
        if vol.source is not None:
            _set(item, "source", _str(vol.source, f"volumes[{i}].source"))
        _set(item, "target", _str(vol.target, f"volumes[{i}].target"))
        if vol.mode is not None:
            _set(item, "mode", _str(vol.mode, f"volumes[{i}].mode"))
        if vol.size_mb is not None:
            item["size_mb"] = _int(vol.size_mb, f"volumes[{i}].size_mb")
        if vol.endpoint is not None:
            _set(item, "endpoint", _str(vol.endpoint, f"volumes[{i}].endpoint"))
        if vol.credentials is not None:
            if not isinstance(vol.credentials, SecretRef):
                raise TypeError(f"volumes[{i}].credentials must be SecretRef(name), never the keys")
            if vol.credentials.hosts:
                raise ValueError(f"volumes[{i}].credentials names hosts; an object volume's "
                                 "credentials only sign requests to its endpoint, so leave out hosts")
            _set(item, "credentials", _str(vol.credentials.name, f"volumes[{i}].credentials.name"))
        out.append(item)
    return out


def services(value: Any) -> List[Dict[str, Any]]:
    """``services=[Service(...)]`` as the frontend lowers ``@service`` methods, in the given
    order."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError("services must be a list of Service(name, command, ...)")
    out = []
    for i, svc in enumerate(value):
        if not isinstance(svc, Service):
            raise TypeError(f"services[{i}] must be Service(name, command, ...), got "
                            f"{type(svc).__name__}")
        item: Dict[str, Any] = {}
        _set(item, "name", _str(svc.name, f"services[{i}].name"))
        command = _str_list(list(svc.command), f"services[{i}].command")
        if not command:
            raise ValueError(f"services[{i}] ({svc.name!r}) has an empty command: give the "
                             "program and its arguments as a list")
        item["command"] = command
        # `port` and `max_restarts` are proto3 optional: a declared 0 is written, as the frontend
        # writes it.
        if svc.port is not None:
            item["port"] = _int(svc.port, f"services[{i}].port")
        if svc.restart is not None:
            _set(item, "restart", _str(svc.restart, f"services[{i}].restart"))
        if svc.max_restarts is not None:
            item["max_restarts"] = _int(svc.max_restarts, f"services[{i}].max_restarts")
        out.append(item)
    return out


def workload(image_ref: str, workload_id: str, options: Mapping[str, Any]) -> Dict[str, Any]:
    """The workload of ``Sandbox.create(image_ref, workload_id=…, **options)``, without entrypoints,
    files or source (the recorder adds those as they happen)."""
    w: Dict[str, Any] = {"id": _str(workload_id, "workload_id")}
    img = image(image_ref)
    if img:
        w["image"] = img
    resources = {k: _int(options[k], k) for k in ("cpu", "memory_mb", "disk_mb")
                 if options.get(k) is not None}
    if resources:
        w["resources"] = resources
    if options.get("timeout_seconds") is not None:
        w["timeout_seconds"] = _int(options["timeout_seconds"], "timeout_seconds")
    if options.get("isolation") is not None:
        _set(w, "isolation", _str(options["isolation"], "isolation"))
    if options.get("network") is not None:
        w["network"] = network(options["network"])
    if options.get("secrets"):
        w["secrets"] = secrets(options["secrets"])
    if options.get("volumes"):
        w["volumes"] = volumes(options["volumes"])
    for key in ("env", "labels"):
        if options.get(key):
            w[key] = _str_map(options[key], key)
    if options.get("ports"):
        ports = options["ports"]
        if isinstance(ports, (str, bytes)) or not isinstance(ports, Sequence):
            raise TypeError("ports must be a list of integers")
        w["ports"] = [_int(p, f"ports[{i}]") for i, p in enumerate(ports)]
    if options.get("services"):
        w["services"] = services(options["services"])
    if options.get("files") is not None:
        # The patterns only: the compiler resolves them against the project when it makes the plan.
        w["file_set"] = {"patterns": _str_list(options["files"], "files")}
    return w


def entrypoint(name: str, argv: Any, timeout_seconds: Optional[int]) -> Dict[str, Any]:
    command = _str_list(argv, "the command")
    if not command:
        raise ValueError("the command is empty: give the program and its arguments as a list, "
                         "e.g. [\"python3\", \"/app/main.py\"]")
    e: Dict[str, Any] = {"name": name, "command": command}
    if timeout_seconds is not None:
        e["timeout_seconds"] = _int(timeout_seconds, "timeout_seconds")
    return e


def file_entry(path: str, content: bytes) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    _set(out, "path", path)
    out["sha256"] = hashlib.sha256(content).hexdigest()
    _set(out, "size", _int(len(content), f"the size of {path}"))
    return out


def module(workloads: List[Dict[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    if workloads:
        out["workloads"] = workloads
    return out


def without_locations(value: Any) -> Any:
    """A copy of an IR module without its source locations (each workload's ``source`` and the
    ``loc`` of its parts): what the IR digest covers. Goes by position, not by name: a volume's
    ``source`` is a host path, and ``env`` may well have a variable called ``loc``."""
    out = {k: v for k, v in value.items() if k != "workloads"}
    workloads = [_workload_without_locations(w) for w in value.get("workloads", [])]
    if workloads:
        out["workloads"] = workloads
    return out


def _no_loc(part: Any) -> Any:
    return {k: v for k, v in part.items() if k != "loc"} if isinstance(part, dict) else part


def _workload_without_locations(w: Dict[str, Any]) -> Dict[str, Any]:
    w = {k: v for k, v in w.items() if k != "source"}
    if isinstance(w.get("network"), dict):
        net = _no_loc(w["network"])
        if isinstance(net.get("rules"), list):
            net["rules"] = [_no_loc(r) for r in net["rules"]]
        w["network"] = net
    for key in ("secrets", "volumes", "entrypoints", "services"):
        if isinstance(w.get(key), list):
            w[key] = [_no_loc(item) for item in w[key]]
    return w
