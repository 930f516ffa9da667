"""Live mode against real sandboxes: needs root and the built mvmctl (ctest sets MVM_MVMCTL and a
state directory of this suite's own, MVM_SDK_TEST_STATE). Uses the busybox template, which
builds in about a second."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path

import mvm
from mvm import NetworkPolicy, Sandbox, SandboxError, SecretRef, TimeoutError, VerificationError
from tests.prerequisite import missing

SDK = Path(__file__).resolve().parent.parent
MVMCTL = os.environ.get("MVM_MVMCTL")
STATE = None


def setUpModule():
    global STATE
    if not MVMCTL:
        missing("MVM_MVMCTL is not set (ctest sets it to the built mvmctl)")
    if os.geteuid() != 0:
        missing("live sandboxes need root")
    STATE = os.environ.get("MVM_SDK_TEST_STATE") or tempfile.mkdtemp(prefix="mvm-sdk-live-")
    os.makedirs(STATE, exist_ok=True)
    # The template cache every sandbox test of the run shares (ctest sets it), so busybox is built
    # once per run, not once per state directory. A state directory with a cache keeps its own.
    shared = os.environ.get("MVM_TEST_ROOTFS_CACHE")
    if shared:
        os.makedirs(shared, exist_ok=True)
        if not os.path.lexists(os.path.join(STATE, "rootfs")):
            os.symlink(shared, os.path.join(STATE, "rootfs"), target_is_directory=True)


def ps():
    out = subprocess.run([MVMCTL, "ps", "--state-dir", STATE, "--format=json"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return {s["name"]: s for s in json.loads(out)["sandboxes"]}


def running(name):
    s = ps().get(name)
    return s is not None and s["status"] == "running"


def wait_until(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def create(**options):
    return Sandbox.create("template:busybox", state_dir=STATE, mvmctl=MVMCTL,
                          timeout_seconds=300, **options)


def child_script(body):
    """A Python process that uses the SDK, prints the sandbox name and then does `body`."""
    return [sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from mvm import Sandbox
        sb = Sandbox.create("template:busybox", workload_id="py-child", state_dir={STATE!r},
                            mvmctl={MVMCTL!r}, timeout_seconds=300{body[0]})
        print(sb.name, flush=True)
        {body[1]}
        """)]


class LiveTest(unittest.TestCase):
    def test_a_sandbox_runs_commands_and_files(self):
        with create(workload_id="py-live") as sb:
            self.assertTrue(running(sb.name))
            self.assertTrue(sb.audit_id)

            r = sb.commands.run(["echo", "hello from the python sdk"])
            self.assertEqual((r.stdout, r.stderr, r.exit_code), ("hello from the python sdk\n", "", 0))
            self.assertTrue(r.audit_id)
            self.assertFalse(r.recorded)

            r = sb.commands.run(["sh", "-c", "echo oops >&2; exit 3"])
            self.assertEqual((r.stdout, r.stderr, r.exit_code), ("", "oops\n", 3))

            content = "line one\nsnow ☃\n"
            sb.files.write("/tmp/note.txt", content)
            self.assertEqual(sb.files.read("/tmp/note.txt"), content)
            self.assertEqual(sb.commands.run(["cat", "/tmp/note.txt"]).stdout, content)
            entries = {e.name: e for e in sb.files.list("/tmp")}
            self.assertEqual(entries["note.txt"].type, "file")
            self.assertEqual(entries["note.txt"].size, len(content.encode()))
            sb.files.remove("/tmp/note.txt")
            self.assertNotIn("note.txt", {e.name for e in sb.files.list("/tmp")})
            with self.assertRaises(SandboxError) as caught:
                sb.files.read("/tmp/note.txt")
            self.assertIn("/tmp/note.txt", str(caught.exception))

            handle = sb.commands.start(["sh", "-c", "sleep 1; echo later"])
            self.assertEqual(handle.wait().stdout, "later\n")

            with self.assertRaises(TimeoutError) as caught:
                sb.commands.run(["sleep", "30"], timeout_seconds=1)
            self.assertTrue(caught.exception.audit_id)
            self.assertEqual(caught.exception.exit_code, 124)
            self.assertIsInstance(caught.exception, SandboxError)

            # On a terminal: mvmctl exec -it through the SDK's pseudo-terminal, its size passed on,
            # typed input echoed by the sandbox's terminal, stdout and stderr merged.
            r = sb.commands.run(["sh", "-c", "stty size; test -t 0 && test -t 2 && echo ttys; "
                                 "read l; echo got=$l; echo err >&2; exit 6"],
                                tty=True, rows=31, cols=97, input="typed\r")
            self.assertEqual(r.exit_code, 6, r.stdout)
            # (The echo comes when the input arrives, so lines are checked one by one.)
            for line in ("31 97", "ttys", "got=typed", "err"):
                self.assertIn(line + "\r\n", r.stdout)
            self.assertEqual(r.stderr, "")
            self.assertIn("hello from the python sdk", sb.logs())
            name = sb.name
        # Leaving the block stopped it, and its attached `up` cleaned everything away.
        self.assertTrue(wait_until(lambda: not running(name)), ps().get(name))

    def test_services_ports_and_a_service_log(self):
        serve = ("mkdir -p /tmp/www && echo served > /tmp/www/index.html && "
                 "exec httpd -f -p 127.0.0.1:8080 -h /tmp/www")
        with create(workload_id="py-svc", ports=[9000], services=[
                mvm.Service("http", ["sh", "-c", serve], port=8080),
                mvm.Service("ticker", ["sh", "-c", "echo ticking; exec sleep 1000"],
                            restart="always", max_restarts=3)]) as sb:
            ports = {p.guest: p for p in sb.ports()}
            self.assertEqual(sorted(ports), [8080, 9000])
            self.assertEqual(ports[8080].address, "127.0.0.1")
            self.assertNotEqual(ports[8080].host, 8080)
            self.assertTrue(wait_until(lambda: "ticking" in sb.services.logs("ticker")))
            services = {s.name: s for s in sb.services.list()}
            self.assertEqual(sorted(services), ["http", "ticker"])
            self.assertEqual(services["ticker"].restart, "always")
            self.assertEqual((services["ticker"].phase, services["ticker"].restarts),
                             ("running", 0))
            self.assertGreater(services["ticker"].pid, 0)
            body = b""

            def fetch():
                nonlocal body
                import urllib.request
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{ports[8080].host}/",
                                                  timeout=5).read()
                except OSError:
                    return False
                return body == b"served\n"
            self.assertTrue(wait_until(fetch), body)
            # Killed, the ticker is started again, and the count says so.
            sb.commands.run(["sh", "-c", "kill -9 $(pidof sleep)"])
            self.assertTrue(wait_until(
                lambda: {s.name: s for s in sb.services.list()}["ticker"].restarts == 1))
            with self.assertRaises(SandboxError) as caught:
                sb.services.logs("nope")
            self.assertIn("nope", str(caught.exception))

    def test_files_list_gives_hostile_names_exactly(self):
        # Issue 24 item 6: names a workload chose to forge an entry of the text listing, to break
        # its parser, to hold an escape sequence, and to be no UTF-8 at all.
        with create(workload_id="py-names") as sb:
            r = sb.commands.run(["sh", "-c", "set -e; mkdir /tmp/names; cd /tmp/names; "
                                 "touch \"$(printf 'real\\nd0755 0 injected-dir')\" "
                                 "\"$(printf 'zz\\nboom')\" \"$(printf 'evil\\033]0;x\\007')\" "
                                 "\"$(printf '\\377latin1-\\351')\""])
            self.assertEqual(r.exit_code, 0, r.stderr)
            entries = sb.files.list("/tmp/names")
            self.assertEqual(sorted(os.fsencode(e.name) for e in entries),
                             sorted([b"real\nd0755 0 injected-dir", b"zz\nboom",
                                     b"evil\x1b]0;x\x07", b"\xfflatin1-\xe9"]))
            self.assertEqual({e.type for e in entries}, {"file"})
            # The name as given (surrogateescape) leads back to the same file.
            latin1 = next(e.name for e in entries if e.name.endswith("\udce9"))
            sb.files.write("/tmp/names/" + latin1, b"found")
            self.assertEqual(sb.files.read_bytes("/tmp/names/" + latin1), b"found")

    def test_the_sandbox_dies_with_its_parent(self):
        child = subprocess.Popen(child_script(("", "time.sleep(600)")), stdout=subprocess.PIPE,
                                 text=True, env=dict(os.environ, PYTHONPATH=str(SDK)))
        try:
            name = child.stdout.readline().strip()
            self.assertTrue(name.startswith("py-child-"), name)
            self.assertTrue(running(name))
        finally:
            child.send_signal(signal.SIGKILL)  # no atexit, no context manager: only the kernel
            child.wait()
            child.stdout.close()
        self.assertTrue(wait_until(lambda: not running(name)),
                        f"{name} outlived the process that created it: {ps().get(name)}")

    def test_a_detached_sandbox_outlives_its_parent(self):
        proc = subprocess.run(child_script((", detach=True", "")), capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(SDK)), timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        name = proc.stdout.strip()
        try:
            time.sleep(0.5)
            self.assertTrue(running(name), ps().get(name))
            out = subprocess.run([MVMCTL, "exec", "--state-dir", STATE, name, "--", "echo", "still"],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.stdout, "still\n", out.stderr)
        finally:
            subprocess.run([MVMCTL, "destroy", "--state-dir", STATE, name], capture_output=True,
                           timeout=60)

    def test_a_refused_plan_is_a_verification_error_with_its_audit_id(self):
        # A secret the store does not hold is refused at admission.
        with self.assertRaises(VerificationError) as caught:
            create(workload_id="py-refused",
                   network=NetworkPolicy.deny_by_default().allow_https("api.example.com"),
                   secrets={"API_KEY": SecretRef("py-missing-key", hosts=["api.example.com"])})
        error = caught.exception
        self.assertIn("refused", str(error))
        self.assertIn("`py-missing-key`", str(error))
        self.assertRegex(error.audit_id or "", r"^[0-9]+-[0-9a-f]{12}$")
        self.assertEqual(str(error).count("(audit id"), 1, str(error))
        with open(os.path.join(STATE, "audit.jsonl"), encoding="utf-8") as log:
            records = [json.loads(line) for line in log]
        seq = int(error.audit_id.split("-")[0])
        record = next(r for r in records if r["seq"] == seq)
        self.assertEqual((record["event"], record["reason"]), ("refuse", "missing"))
        self.assertTrue(record["hash"].startswith("sha256:" + error.audit_id.split("-")[1]))

    def test_a_secret_reaches_the_sandbox_as_a_token_only(self):
        value = "sk-py-live-" + os.urandom(12).hex()
        subprocess.run([MVMCTL, "secret", "set", "--state-dir", STATE, "py-live-key"],
                       input=value + "\n", capture_output=True, text=True, check=True,
                       timeout=30)
        with create(workload_id="py-secret",
                    network=NetworkPolicy.deny_by_default().allow_https("api.example.com"),
                    secrets={"API_KEY": SecretRef("py-live-key",
                                                  hosts=["api.example.com"])}) as sb:
            shown = sb.commands.run(["sh", "-c", "echo $API_KEY; cat /proc/1/environ"]).stdout
        self.assertRegex(shown, r"^mvmtok-[a-z2-7]{32}\n")
        self.assertNotIn(value, shown)

    def test_a_workload_the_compiler_refuses_names_the_problem(self):
        with self.assertRaises(SandboxError) as caught:
            create(workload_id="py-bad", cpu=999)
        self.assertNotIsInstance(caught.exception, VerificationError)
        self.assertEqual(caught.exception.exit_code, 1)
        self.assertIn("outside the range 1..64 [out-of-range]", str(caught.exception))
        self.assertIn("test_live.py", str(caught.exception))

    def test_snapshot(self):
        with create(workload_id="py-snap") as sb:
            snap = sb.snapshot()
            self.assertTrue(os.path.exists(snap.path), snap)
            self.assertRegex(snap.sha256, r"^[0-9a-f]{64}$")

    def test_pause_resume_state_and_restore(self):
        with create(workload_id="py-pause") as sb:
            self.assertEqual(sb.state, "running")
            sb.files.write("/tmp/kept.txt", "kept\n")
            sb.pause()
            self.assertEqual(sb.state, "paused")
            started = time.monotonic()
            with self.assertRaises(SandboxError) as caught:
                sb.commands.run(["true"])
            self.assertLess(time.monotonic() - started, 10)
            self.assertIn(f"sandbox `{sb.name}` is paused", str(caught.exception))
            sb.resume()
            self.assertEqual(sb.state, "running")
            self.assertEqual(sb.commands.run(["cat", "/tmp/kept.txt"]).stdout, "kept\n")

            snap = sb.snapshot()
            self.assertTrue(snap.label)
            restored = Sandbox.restore(snap, state_dir=STATE, mvmctl=MVMCTL)
            try:
                self.assertEqual(restored.workload_id, "py-pause")
                self.assertTrue(restored.audit_id)
                self.assertEqual(restored.state, "running")
                self.assertEqual(restored.files.read("/tmp/kept.txt"), "kept\n")
            finally:
                restored.destroy()
            self.assertEqual(restored.state, "destroyed")

            # A changed tar is refused before anything starts.
            with open(snap.path, "r+b") as f:
                f.seek(600)
                f.write(b"!")
            with self.assertRaises(VerificationError) as caught:
                Sandbox.restore(sb.name, snap.label, name=f"{sb.name}-bad", state_dir=STATE,
                                mvmctl=MVMCTL)
            self.assertEqual(caught.exception.exit_code, 4)
            self.assertNotIn(f"{sb.name}-bad", ps())

    def test_fork_copies_a_microvm_with_its_memory_and_its_own_identity(self):
        if shutil.which("qemu-system-x86_64") is None:
            missing("qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")
        with create(workload_id="py-fork", backend="qemu-microvm") as sb:
            # A shell holding a value in memory only, and a file in the guest's tmpfs.
            sb.commands.run(["sh", "-c", "echo 41 > /tmp/n; setsid sh -c 'v=$(cat /tmp/n); "
                             "while :; do echo $((v+1)) > /tmp/m; sleep 0.2; done' "
                             "</dev/null >/dev/null 2>&1 &"])
            for _ in range(100):
                if sb.commands.run(["sh", "-c", "cat /tmp/m 2>/dev/null"]).stdout:
                    break
                time.sleep(0.1)
            forks = sb.fork(2)
            try:
                self.assertEqual(len(forks), 2)
                names = [f.commands.run(["hostname"]).stdout.strip() for f in forks]
                self.assertEqual(names, [f.name for f in forks])
                for f in forks:
                    self.assertEqual(f.state, "running")
                    self.assertEqual(f.files.read("/tmp/m"), "42\n")
                urandom = ["sh", "-c", "head -c 16 /dev/urandom | od -An -tx1"]
                self.assertNotEqual(forks[0].commands.run(urandom).stdout,
                                    forks[1].commands.run(urandom).stdout)
            finally:
                for f in forks:
                    f.destroy()
            # The snapshot the copies came from is gone again.
            out = subprocess.run([MVMCTL, "snapshot", "ls", "--state-dir", STATE,
                                  "--format=json"], capture_output=True, text=True).stdout
            self.assertNotIn("fork-", out)


if __name__ == "__main__":
    unittest.main()
