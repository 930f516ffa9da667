"""``VolumeFiles``: the files of an API-only volume, reached without a sandbox (docs/volumes.md).

Two kinds: an object volume (``s3://BUCKET/PREFIX`` at an S3 endpoint, its keys the host secret a
``SecretRef`` names) and the API-only encrypted store ``NAME`` (files sealed one by one under the
state dir, its key the host secret ``volume-NAME``). Every call runs ``mvmctl fs`` on the volume
(``mvmctl fs s3://… VERB PATH --endpoint … --credentials …`` or ``mvmctl fs encrypted:NAME VERB
PATH``), which audits it. Content travels on mvmctl's stdin and stdout, never its command line, and
no secret value passes through here: only the secret's name.

    files = VolumeFiles.object("s3://datasets/run-1", endpoint="https://s3.example.com",
                               credentials=SecretRef("datasets-keys"))
    files.write("in/a.csv", b"x,y\\n")
    files.list("in")            # [VolumeEntry(name='a.csv', type='file', size=4)]
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import List, Optional, Union

from mvm import SecretRef, _output
from mvm.errors import SandboxError, TimeoutError

__all__ = ["VolumeFiles", "VolumeEntry"]


@dataclass(frozen=True)
class VolumeEntry:
    name: str
    #: ``"file"``, ``"dir"`` or ``"other"``
    type: str
    size: int


class VolumeFiles:
    """Files of one API-only volume. Paths are relative to the volume's root (``""`` or ``"/"``
    is the root); the volume refuses ``..``, absolute paths and symlinks."""

    def __init__(self, address: str, extra: List[str], *, state_dir: Optional[str] = None,
                 mvmctl: Optional[str] = None, timeout_seconds: float = 600) -> None:
        from mvm.sandbox import _find_mvmctl  # the runtime surface, imported on first use

        self._address = address
        self._extra = extra
        self._state_dir = state_dir
        self._mvmctl = _find_mvmctl(mvmctl)
        self._timeout = timeout_seconds

    @classmethod
    def object(cls, url: str, *, endpoint: str, credentials: SecretRef, region: Optional[str] = None,
               state_dir: Optional[str] = None, mvmctl: Optional[str] = None) -> "VolumeFiles":
        """The objects under ``url`` (``s3://BUCKET/PREFIX``) at ``endpoint``, signed with the keys
        of the host secret ``credentials`` names (``ACCESS_KEY_ID:SECRET_ACCESS_KEY``)."""
        if not isinstance(url, str) or not url.startswith("s3://"):
            raise ValueError(f"an object volume's URL is s3://BUCKET/PREFIX, got {url!r}")
        if not isinstance(credentials, SecretRef):
            # Never echo it: a string here is most likely the keys themselves.
            raise TypeError("VolumeFiles.object credentials must be SecretRef(name) naming a secret "
                            "of the host store, never the keys themselves (got a "
                            f"{type(credentials).__name__})")
        extra = ["--endpoint", endpoint, "--credentials", credentials.name]
        if region:
            extra += ["--region", region]
        return cls(url, extra, state_dir=state_dir, mvmctl=mvmctl)

    @classmethod
    def encrypted(cls, name: str, *, state_dir: Optional[str] = None,
                  mvmctl: Optional[str] = None) -> "VolumeFiles":
        """The API-only encrypted store ``name`` (made on first write). It is not the store a
        ``Volume.encrypted`` declaration mounts: each format refuses a name the other holds."""
        if not isinstance(name, str) or not name or name.startswith("-"):
            raise ValueError(f"an encrypted store's name is letters, digits, '.', '_' and '-', "
                             f"got {name!r}")
        return cls("encrypted:" + name, [], state_dir=state_dir, mvmctl=mvmctl)

    # -- operations

    def write(self, path: str, content: Union[str, bytes]) -> None:
        """Replaces ``path`` with ``content`` (str as UTF-8), whole or not at all."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        self._run(f"writing {path}", "write", _path(path), input=data)

    def read_bytes(self, path: str) -> bytes:
        return self._run(f"reading {path}", "read", _path(path))

    def read(self, path: str) -> str:
        """The file's content as text (UTF-8; undecodable bytes replaced)."""
        return self.read_bytes(path).decode("utf-8", "replace")

    def list(self, path: str = "/") -> List[VolumeEntry]:
        out = self._run(f"listing {path}", "ls", _path(path), "--format=json")
        return [VolumeEntry(*e) for e in _output.volume_listing("mvmctl fs ls --format=json", out)]

    def stat(self, path: str) -> VolumeEntry:
        out = self._run(f"looking up {path}", "stat", _path(path), "--format=json")
        what = "mvmctl fs stat --format=json"
        return VolumeEntry(*_output.volume_entry(what, _output.parse_object(what, out),
                                                 root=_path(path) in ("/", ".")))

    def remove(self, path: str, *, recursive: bool = False) -> None:
        self._run(f"removing {path}", "rm", _path(path), *(["-r"] if recursive else []))

    def rename(self, source: str, destination: str) -> None:
        """Renames ``source`` to ``destination``, replacing it. Not atomic on every backend
        (docs/volumes.md): an object volume copies, then deletes."""
        self._run(f"renaming {source}", "mv", _path(source), _path(destination))

    def _run(self, what: str, verb: str, *rest: str, input: Optional[bytes] = None) -> bytes:
        argv = [self._mvmctl, "fs"]
        if self._state_dir:
            argv += ["--state-dir", self._state_dir]
        argv += [self._address, verb, *rest, *self._extra]
        try:
            proc = subprocess.run(argv, input=input, capture_output=True,
                                  stdin=None if input is not None else subprocess.DEVNULL,
                                  timeout=self._timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{what} in volume {self._address}: mvmctl did not answer within "
                               f"{self._timeout:g} s") from None
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", "replace")
            lines = [line for line in stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines else f"mvmctl exited with status {proc.returncode}"
            raise SandboxError(f"{what} in volume {self._address} failed: {reason}",
                               exit_code=proc.returncode, stderr=stderr)
        return proc.stdout


def _path(path: str) -> str:
    if not isinstance(path, str):
        raise TypeError(f"a volume path must be a string, got {path!r}")
    if path.startswith("-"):
        raise ValueError(f"volume path {path!r} starts with '-'; write it as ./{path}")
    return path or "/"
