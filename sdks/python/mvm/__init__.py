"""The mvm Python SDK: declare sandboxed workloads in ordinary Python source.

``mvmctl`` reads these declarations statically and never imports the file, so at runtime everything
here is inert: the decorators attach a ``__mvm__`` metadata dict and return the decorated object
unchanged, and the helpers are plain immutable records. Nothing is validated here; ``mvmctl check``
is what reports mistakes, with file and line. docs/declarations.md describes the language and
docs/reference/options.md every option.

    from mvm import workload, entrypoint, NetworkPolicy, SecretRef, Volume

    @workload("tiny", image="template:python-3.11", memory_mb=256)
    def tiny():
        print("hello from mvm")

``Sandbox`` (in :mod:`mvm.sandbox`) is the runtime surface: it drives ``mvmctl`` in live mode and
records Workload IR in record mode (``MVM_SDK_MODE=record``); see docs/sdk.md.

Standard library only: this package is mounted read-only into sandboxes, where nothing else is
installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Tuple, TypeVar

__all__ = [
    "workload",
    "entrypoint",
    "service",
    "NetworkPolicy",
    "SecretRef",
    "Volume",
    "Image",
    "Service",
    "Sandbox",
    "CommandResult",
    "CommandHandle",
    "FileEntry",
    "Snapshot",
    "ServiceInfo",
    "PublishedPort",
    "SandboxError",
    "TimeoutError",
    "VerificationError",
    "VolumeFiles",
    "VolumeEntry",
]

__version__ = "0.1.0"

_T = TypeVar("_T")

#: The attribute the decorators set. Its value is a dict:
#: ``{"kind": "workload" | "entrypoint" | "service", "name": str | None, "options": {...}}``
#: where ``name`` is the workload id or the entrypoint/service name (``None`` when a workload was
#: declared without an id) and ``options`` holds exactly the keyword arguments that were given, so
#: a later reader can tell a default from a declared value.
METADATA_ATTRIBUTE = "__mvm__"


def _declare(kind: str, args: tuple, options: dict, name_option: str) -> Any:
    """The shared body of the decorators: handles the bare form (``@kind``) and the called forms
    (``@kind("name", k=v)``, ``@kind(name_option="name", k=v)``, ``@kind(k=v)``)."""
    if len(args) == 1 and not options and callable(args[0]) and not isinstance(args[0], str):
        # Bare: Python passed the decorated object itself.
        return _mark(args[0], kind, None, {})
    if len(args) > 1:
        raise TypeError(f"@{kind} takes at most one positional argument, got {len(args)}")
    name = args[0] if args else options.pop(name_option, None)

    def apply(target: _T) -> _T:
        return _mark(target, kind, name, options)

    return apply


def _mark(target: _T, kind: str, name: Optional[str], options: dict) -> _T:
    if name is None and kind != "workload":
        name = getattr(target, "__name__", None)  # an entrypoint's or service's default name
    setattr(target, METADATA_ATTRIBUTE, {"kind": kind, "name": name, "options": dict(options)})
    return target


def workload(*args: Any, **options: Any) -> Any:
    """Declares a workload on a class (whose methods carry ``@entrypoint`` / ``@service``) or on a
    function (which becomes the workload's ``main`` entrypoint, run by ``python3 -m mvm.run``).

        @workload("agent-tool", image="nix:./flake#agent-runtime", cpu=2, memory_mb=2048)
        class AgentTool: ...

    The id is the first positional argument or ``id=``. Returns the object unchanged."""
    return _declare("workload", args, options, "id")


def entrypoint(*args: Any, **options: Any) -> Any:
    """Declares a method as an entrypoint: a command run to completion.

        @entrypoint(command=["python", "/app/main.py"])
        @entrypoint("warmup", command=["python", "/app/warm.py"], timeout_seconds=5)

    The name is the first positional argument or ``name=``, else the method's name. Returns the
    method unchanged."""
    return _declare("entrypoint", args, options, "name")


def service(*args: Any, **options: Any) -> Any:
    """Declares a method as a service: a long-running process, usually listening on ``port``.

        @service("api", command=["python", "-m", "http.server", "8080"], port=8080,
                 restart="on-failure", max_restarts=10)

    ``mvmctl up`` starts it and publishes ``port`` on the host's 127.0.0.1; ``restart`` (``never``,
    ``on-failure``, the default, or ``always``) and ``max_restarts`` (default 10) say when the
    agent starts it again. The name is the first positional argument or ``name=``, else the
    method's name. Returns the method unchanged."""
    return _declare("service", args, options, "name")


@dataclass(frozen=True)
class NetworkPolicy:
    """An egress policy: deny everything, then allow listed hosts. Immutable; each ``allow_*``
    returns a new policy, so a shared base policy can be extended safely.

        NetworkPolicy.deny_by_default().allow_https("api.openai.com").allow_dns()
    """

    #: ``(protocol, host)`` pairs in declaration order; protocol is ``"https"`` or ``"http"``.
    rules: Tuple[Tuple[str, str], ...] = ()
    #: Whether DNS through mvm's pinning resolver is allowed.
    dns: bool = False

    @classmethod
    def deny_by_default(cls) -> "NetworkPolicy":
        """No egress at all: the start of every policy chain."""
        return cls()

    def allow_https(self, *hosts: str) -> "NetworkPolicy":
        """Also allows HTTPS (checked by SNI) to each host, exact or ``*.suffix``."""
        return self._allow("https", hosts)

    def allow_http(self, *hosts: str) -> "NetworkPolicy":
        """Also allows plain HTTP (checked by the Host header) to each host."""
        return self._allow("http", hosts)

    def allow_dns(self) -> "NetworkPolicy":
        """Also allows name resolution through mvm's pinning resolver."""
        return NetworkPolicy(self.rules, True)

    def _allow(self, protocol: str, hosts: Tuple[str, ...]) -> "NetworkPolicy":
        return NetworkPolicy(self.rules + tuple((protocol, host) for host in hosts), self.dns)


@dataclass(frozen=True)
class SecretRef:
    """A reference to a secret by name, and the hosts its value may be sent to. Holds no value:
    the value stays in the secret store and never enters plans, logs or the sandbox.

        SecretRef("openai-api-key", hosts=["api.openai.com"])
    """

    name: str
    hosts: Tuple[str, ...] = ()

    # Written out (dataclass keeps it) to make ``hosts`` keyword-only, as in declarations.
    def __init__(self, name: str, *, hosts: Iterable[str] = ()) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "hosts", tuple(hosts))


@dataclass(frozen=True)
class Volume:
    """A volume of the sandbox. Create with :meth:`local`, :meth:`memory`, :meth:`encrypted` or
    :meth:`object`.

    ``mode`` and ``size_mb`` are ``None`` when not given: the declaration holds only what was
    declared, and the plan applies the defaults (``"ro"``, 64 MiB)."""

    kind: str
    target: str
    source: Optional[str] = None
    mode: Optional[str] = None
    size_mb: Optional[int] = None
    endpoint: Optional[str] = None
    credentials: Optional[SecretRef] = None

    @staticmethod
    def local(source: str, target: str, mode: Optional[str] = None) -> "Volume":
        """A host directory (relative to the project) mounted at ``target``; ``mode`` is ``"ro"``
        (the default) or ``"rw"``."""
        return Volume(kind="local", target=target, source=source, mode=mode)

    @staticmethod
    def memory(target: str, *, size_mb: Optional[int] = None) -> "Volume":
        """A tmpfs of ``size_mb`` MiB (default 64) mounted at ``target``."""
        return Volume(kind="memory", target=target, size_mb=size_mb)

    @staticmethod
    def encrypted(name: str, target: str, *, size_mb: int) -> "Volume":
        """The encrypted store ``name`` (the same name is the same store in every run), of
        ``size_mb`` MiB, at ``target``: a gocryptfs store, mounted on the host and bound into a
        container or shared with a microVM over virtio-fs (docs/volumes.md)."""
        return Volume(kind="encrypted", target=target, source=name, size_mb=size_mb)

    @staticmethod
    def object(url: str, target: str, *, endpoint: str, credentials: SecretRef,
               mode: Optional[str] = None) -> "Volume":
        """The objects under ``s3://BUCKET/PREFIX`` of the S3 API at ``endpoint``, signed with the
        access keys of the secret ``credentials`` names, at ``target``; ``mode`` is ``"ro"`` (the
        default) or ``"rw"``. Mounted on the host with s3fs and bound into a container or shared
        with a microVM (no atomic rename, no hard links: docs/volumes.md); ``VolumeFiles.object``
        and ``mvmctl fs s3://BUCKET/PREFIX`` reach its files without a sandbox."""
        if not isinstance(credentials, SecretRef):
            # Never echo it: a string here is most likely the key itself.
            raise TypeError("Volume.object credentials must be SecretRef(name) naming a secret of "
                            f"the host store, never the keys themselves (got a "
                            f"{type(credentials).__name__})")
        return Volume(kind="object", target=target, source=url, mode=mode, endpoint=endpoint,
                      credentials=credentials)


@dataclass(frozen=True)
class Service:
    """A service of a sandbox, for ``Sandbox.create(services=[...])``: what ``@service`` declares
    on a method, with the same options.

        Service("api", ["python3", "-m", "http.server", "8080"], port=8080, restart="always")

    Options not given are ``None``: the declaration holds only what was declared, and the runtime
    applies the defaults (``on-failure``, at most 10 restarts)."""

    name: str
    command: Tuple[str, ...]
    port: Optional[int] = None
    restart: Optional[str] = None
    max_restarts: Optional[int] = None

    # Written out (dataclass keeps it) to make the options keyword-only, as in declarations.
    def __init__(self, name: str, command: Iterable[str], *, port: Optional[int] = None,
                 restart: Optional[str] = None, max_restarts: Optional[int] = None) -> None:
        if isinstance(command, (str, bytes)):
            raise TypeError("a Service command is a list, e.g. [\"httpd\", \"-f\"]; a string "
                            "would need a shell to split it")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "command", tuple(command))
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "restart", restart)
        object.__setattr__(self, "max_restarts", max_restarts)


@dataclass(frozen=True)
class Image:
    """A root filesystem mvm builds itself. Create with :meth:`debian`; pass it as ``image=``
    where a reference string (``"template:python-3.11"``) would go."""

    kind: str
    suite: str
    packages: Tuple[str, ...] = ()

    @staticmethod
    def debian(packages: Iterable[str], suite: str = "bookworm") -> "Image":
        """Debian ``suite`` (minbase) plus the binary ``packages`` and their dependencies, built
        with mmdebstrap and pinned by the resolved package set's digest (docs/packages.md)."""
        if isinstance(packages, (str, bytes)):
            raise TypeError("Image.debian packages must be a list of package names, such as "
                            f"[{packages!r}], not a string")
        return Image(kind="debian", suite=suite, packages=tuple(packages))


_RUNTIME = {"Sandbox": "mvm.sandbox", "CommandResult": "mvm.sandbox",
            "CommandHandle": "mvm.sandbox", "FileEntry": "mvm.sandbox", "Snapshot": "mvm.sandbox",
            "ServiceInfo": "mvm.sandbox", "PublishedPort": "mvm.sandbox",
            "SandboxError": "mvm.errors", "TimeoutError": "mvm.errors",
            "VerificationError": "mvm.errors", "VolumeFiles": "mvm.volume_files",
            "VolumeEntry": "mvm.volume_files"}


def __getattr__(name: str) -> Any:
    # The runtime surface is imported on first use: a sandbox running `python3 -m mvm.run` (or any
    # file that only declares) does not pay for subprocess, selectors and the rest.
    module = _RUNTIME.get(name)
    if module is None:
        raise AttributeError(f"module 'mvm' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
