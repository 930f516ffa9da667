#!/usr/bin/env python3
"""Wall time of `mvmctl build app.py` for a `template:busybox` workload on this host against the same
build sent to a Nix remote builder over SSH (`--builders ssh-ng://…`), offline.

The remote builder is set up as tests/integration/nix/remote_builder_integration.cc sets it up: a
network namespace ("builder", 192.0.2.1) joined by a veth pair to a second one ("client",
192.0.2.2; TEST-NET-1 only, nothing added to the host's namespace), Debian's sshd in the builder
namespace authorizing one generated ed25519 key, its host key pinned in the machine's 8th field, a
Nix store of its own (`?remote-store=DIR`) and a nix.conf of its own (no substituters, sandboxed).
Every build runs in the client namespace, local ones too, so both kinds run under the same
conditions. Each of --runs rounds, in fresh directories:

- local, empty store: `mvmctl build` into an empty local store;
- local, output in the store: the same again (evaluation and hashing only);
- remote, empty stores: `--builders` into an empty local store and an empty builder store (the
  input, the host's busybox, is copied to the builder, built there, the output copied back);
- remote, output on the builder: an empty local store again, the builder's store kept (Nix copies
  the output back without building).

The readiness boundary is the `mvmctl build` process, start to exit. Both ends are this machine
(loopback-speed veth, the same disk): the remote rows measure Nix's remote-build protocol and SSH,
not a network.

    python3 bench/nix_remote_builder_bench.py --mvmctl build/bin/mvmctl [--runs 5] [--out FILE]

Needs root, nix (nix-bin), sshd (openssh-server), ssh and ssh-keygen (openssh-client), ip
(iproute2) and nsenter (util-linux). Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import loadavg, publish_seconds, timed  # noqa: E402

WORKLOAD = '''from mvm import entrypoint, workload


@workload("nix-bench", image="template:busybox", timeout_seconds=30)
class NixBench:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
'''

BUILDER, CLIENT = "192.0.2.1", "192.0.2.2"


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def run(argv: list[str], input_text: str | None = None) -> None:
    proc = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        sys.exit(f"nix_remote_builder_bench: `{' '.join(argv)}` failed: {proc.stderr.strip()}")


class BuilderHost:
    """The two namespaces, keys and sshd; close() takes them down."""

    def __init__(self, work: str) -> None:
        self.work = work
        pid = os.getpid()
        self.client, self.builder = f"mvmrb{pid}c", f"mvmrb{pid}b"
        self.sshd: subprocess.Popen | None = None

    def start(self) -> None:
        run(["ip", "-batch", "-"],
            f"netns add {self.client}\nnetns add {self.builder}\n"
            f"link add {self.client} netns {self.client} type veth peer name {self.builder} "
            f"netns {self.builder}\n")
        for ns, address in ((self.client, CLIENT), (self.builder, BUILDER)):
            run(["ip", "-netns", ns, "-batch", "-"],
                f"link set lo up\naddress add {address}/24 dev {ns}\nlink set {ns} up\n")
        for key in ("client_key", "host_key"):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f",
                 os.path.join(self.work, key)])
        shutil.copy(os.path.join(self.work, "client_key.pub"),
                    os.path.join(self.work, "authorized_keys"))
        conf = os.path.join(self.work, "nix-conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "nix.conf"), "w") as f:
            f.write("substituters =\nsandbox = true\nsandbox-fallback = false\n"
                    "build-users-group =\n")
        config = os.path.join(self.work, "sshd_config")
        with open(config, "w") as f:
            f.write(f"ListenAddress {BUILDER}:22\nHostKey {self.work}/host_key\n"
                    f"AuthorizedKeysFile {self.work}/authorized_keys\n"
                    "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n"
                    f"SetEnv NIX_CONF_DIR={conf}\n")
        # sshd's privilege separation directory, which Debian's service would make.
        os.makedirs("/run/sshd", exist_ok=True)
        log_path = os.path.join(self.work, "sshd.log")
        with open(log_path, "w") as log:
            # sshd re-execs itself, so it is named by its absolute path.
            self.sshd = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{self.builder}", shutil.which("sshd"), "-D", "-e",
                 "-f", config], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while "Server listening" not in read(log_path):
            if self.sshd.poll() is not None or time.monotonic() > deadline:
                sys.exit("nix_remote_builder_bench: sshd did not start: " + read(log_path))
            time.sleep(0.01)

    def machine(self, remote_store: str) -> str:
        with open(os.path.join(self.work, "host_key.pub")) as f:
            key = " ".join(f.read().split()[:2])
        return (f"ssh-ng://root@{BUILDER}?remote-store={remote_store} x86_64-linux "
                f"{self.work}/client_key 1 1 - - {base64.b64encode(key.encode()).decode()}")

    def in_client(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.client}", *argv]

    def close(self) -> None:
        if self.sshd is not None:
            self.sshd.send_signal(signal.SIGTERM)
            try:
                self.sshd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
                self.sshd.wait(timeout=5)
        for ns in (self.client, self.builder):
            if os.path.exists(f"/run/netns/{ns}"):
                subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def remove_tree(path: str) -> None:
    """A directory with a Nix store in it (read-only directories) removed."""
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            full = os.path.join(root, d)
            if not os.path.islink(full):
                os.chmod(full, 0o755)
    shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mvmctl", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default="", help="write the Markdown report here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("nix_remote_builder_bench: needs root (network namespaces, Nix's sandbox)")
    for tool, package in (("nix", "nix-bin"), ("sshd", "openssh-server"),
                          ("ssh-keygen", "openssh-client"), ("ip", "iproute2"),
                          ("nsenter", "util-linux")):
        if not shutil.which(tool):
            sys.exit(f"nix_remote_builder_bench: `{tool}` is not on PATH (apt-get install "
                     f"{package})")
    mvmctl = os.path.abspath(args.mvmctl)
    load_start = loadavg()
    nix_version = subprocess.run(["nix", "--version"], capture_output=True,
                                 text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="mvm-nix-remote-bench-")
    # In a directory of its own: the project files shipped with it are that directory.
    os.makedirs(os.path.join(work, "src"))
    source = os.path.join(work, "src", "app.py")
    with open(source, "w") as f:
        f.write(WORKLOAD)
    host = BuilderHost(work)
    labels = ["local, empty store", "local, output in the store", "remote, empty stores",
              "remote, output on the builder"]
    samples: dict[str, list[float]] = {label: [] for label in labels}
    try:
        host.start()
        for i in range(args.runs):
            state, remote = os.path.join(work, f"state{i}"), os.path.join(work, f"remote{i}")
            build = [mvmctl, "build", source, "-o", os.path.join(work, "out")]
            local = host.in_client([*build, "--state-dir", state])
            for label in labels[:2]:
                samples[label].append(timed(local)[0])
            remove_tree(state)
            sent = host.in_client([*build, "--state-dir", state, "--builders",
                                   host.machine(remote)])
            samples[labels[2]].append(timed(sent)[0])
            remove_tree(state)
            samples[labels[3]].append(timed(sent)[0])
            remove_tree(state)
            remove_tree(remote)
    finally:
        host.close()
        remove_tree(work)

    publish_seconds(
        args.out, mvmctl, load_start, "mvmctl build through a Nix remote builder",
        "bench/nix_remote_builder_bench.py",
        f"{nix_version} on both ends; workload image `template:busybox`; {args.runs} rounds in "
        "fresh state directories. Remote: `--builders 'ssh-ng://root@192.0.2.1?remote-store=DIR "
        "x86_64-linux KEY 1 1 - - HOSTKEY'` to Debian's sshd in a network namespace on the same "
        "machine (veth, same disk). Readiness boundary: the `mvmctl build app.py` process, start "
        "to exit. Times in s.",
        "build", samples, {"nix": nix_version})


if __name__ == "__main__":
    main()
