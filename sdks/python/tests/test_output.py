"""What the SDK makes of mvmctl's answers, with a fake mvmctl that prints whatever a test gives it:
every answer of the wrong shape is a ``SandboxError`` (issue 24 item 6), never a bare
``ValueError``/``KeyError``/``TypeError``, and ``files.list`` reads only ``fs ls --format=json``.
No root and no sandbox needed."""

import json
import os
import stat
import tempfile
import unittest

import mvm
from mvm import Sandbox, SandboxError, TimeoutError

# `up` answers like `mvmctl up --detach --format=json`; every other command records its argv and
# prints the file $MVM_FAKE_STDOUT names, then exits with $MVM_FAKE_STATUS (default 0).
FAKE_MVMCTL = """#!/bin/sh
case "$1" in
  up) if [ -n "$MVM_FAKE_UP_ARGV" ]; then printf '%s\\n' "$@" > "$MVM_FAKE_UP_ARGV"; fi
      if [ -n "$MVM_FAKE_UP" ]; then cat "$MVM_FAKE_UP"; else echo '{"audit_id":"up-audit"}'; fi ;;
  stop|destroy) ;;
  *) printf '%s\\n' "$@" > "$MVM_FAKE_ARGV"; cat "$MVM_FAKE_STDOUT"; exit "${MVM_FAKE_STATUS:-0}" ;;
esac
"""

# What `fs ls` would print for a directory holding a file named "real\nd0755 0 injected-dir" if the
# SDK still read the text listing as it was before: one file that parses as two entries.
FORGED_TEXT = b"-0644          0 real\nd0755          0 injected-dir\n"

MALFORMED_LISTINGS = {
    "nothing": b"",
    "cut short": b'{"entries": [{"name": "a", "type": "file"',
    "the text listing": FORGED_TEXT,
    "a name that ends the old parser": b"-0644          0 zz\nboom\n",
    "not UTF-8": b'{"entries": [{"name": "\xff", "type": "file", "mode": 420, "size": 0}]}',
    "NaN": b'{"entries": [{"name": "a", "type": "file", "mode": 420, "size": NaN}]}',
    "too deep": b"[" * 100000,
    "an array": b"[]",
    "null": b"null",
    "no entries": b"{}",
    "entries not a list": b'{"entries": {"name": "a"}}',
    "an entry not an object": b'{"entries": ["a"]}',
    "no name": b'{"entries": [{"type": "file", "mode": 420, "size": 0}]}',
    "a number for a name": b'{"entries": [{"name": 7, "type": "file", "mode": 420, "size": 0}]}',
    "no type": b'{"entries": [{"name": "a", "mode": 420, "size": 0}]}',
    "an unknown type": b'{"entries": [{"name": "a", "type": "fifo", "mode": 420, "size": 0}]}',
    "a string mode": b'{"entries": [{"name": "a", "type": "file", "mode": "0644", "size": 0}]}',
    "a boolean size": b'{"entries": [{"name": "a", "type": "file", "mode": 420, "size": true}]}',
    "a fractional size": b'{"entries": [{"name": "a", "type": "file", "mode": 420, "size": 1.5}]}',
    "a negative size": b'{"entries": [{"name": "a", "type": "file", "mode": 420, "size": -1}]}',
    "a mode past 07777": b'{"entries": [{"name": "a", "type": "file", "mode": 65536, "size": 0}]}',
    "bad base64": b'{"entries": [{"name": "a", "name_base64": "!!", "type": "file", "mode": 420, '
                  b'"size": 0}]}',
    "a path for a name": b'{"entries": [{"name": "../x", "type": "file", "mode": 420, "size": 0}]}',
}


class FakeMvmctlTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mvm-sdk-fake-")
        self.dir = self._tmp.name
        self.mvmctl = os.path.join(self.dir, "mvmctl")
        with open(self.mvmctl, "w") as f:
            f.write(FAKE_MVMCTL)
        os.chmod(self.mvmctl, stat.S_IRWXU)
        self.stdout = os.path.join(self.dir, "stdout")
        self.argv = os.path.join(self.dir, "argv")
        self._env = dict(os.environ)
        os.environ.update(MVM_FAKE_STDOUT=self.stdout, MVM_FAKE_ARGV=self.argv, MVM_SDK_MODE="live")
        os.environ.pop("MVM_FAKE_UP", None)
        os.environ.pop("MVM_FAKE_UP_ARGV", None)
        os.environ.pop("MVM_FAKE_STATUS", None)

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self._env)
        self._tmp.cleanup()

    def answer(self, data: bytes) -> None:
        with open(self.stdout, "wb") as f:
            f.write(data)

    def sandbox(self) -> Sandbox:
        return Sandbox.create("template:busybox", name="fake", detach=True, mvmctl=self.mvmctl,
                              state_dir=self.dir)

    def assert_sandbox_error(self, call, what):
        try:
            call()
        except SandboxError as e:
            return e
        except Exception as e:  # noqa: BLE001 - the point: nothing but SandboxError
            self.fail(f"{what}: {type(e).__name__}: {e}, not a SandboxError")
        self.fail(f"{what}: no error")

    def test_list_reads_the_json_listing_exactly(self):
        sb = self.sandbox()
        self.answer(json.dumps({"entries": [
            {"name": "real\nd0755 0 injected-dir", "type": "file", "mode": 0o644, "size": 0},
            {"name": "zz\nboom", "type": "file", "mode": 0o600, "size": 12},
            {"name": "evil\x1b]0;x\x07", "type": "dir", "mode": 0o755, "size": 4096},
            {"name": "\ufffd\ufffdlatin1-\ufffd", "name_base64": "//5sYXRpbjEt6Q==", "type": "other",
             "mode": 0, "size": 0},
            {"name": "link", "type": "symlink", "mode": 0o777, "size": 4, "link_target": "a\nb"},
        ]}).encode())
        entries = sb.files.list("/tmp")
        with open(self.argv) as f:
            self.assertEqual(f.read().split("\n")[:5], ["fs", "--state-dir", self.dir, "fake", "ls"])
        with open(self.argv) as f:
            self.assertIn("--format=json", f.read().split("\n"))
        self.assertEqual([(e.name, e.type, e.mode, e.size) for e in entries], [
            ("real\nd0755 0 injected-dir", "file", 0o644, 0),
            ("zz\nboom", "file", 0o600, 12),
            ("evil\x1b]0;x\x07", "dir", 0o755, 4096),
            ("\udcff\udcfelatin1-\udce9", "other", 0, 0),
            ("link", "symlink", 0o777, 4),
        ])
        self.assertEqual(os.fsencode(entries[3].name), b"\xff\xfelatin1-\xe9")

    def test_every_malformed_listing_is_a_sandbox_error(self):
        sb = self.sandbox()
        for what, data in MALFORMED_LISTINGS.items():
            with self.subTest(what):
                self.answer(data)
                e = self.assert_sandbox_error(lambda: sb.files.list("/tmp"), what)
                self.assertIn("mvmctl fs ls /tmp --format=json", str(e))

    def test_malformed_exec_and_snapshot_answers_are_sandbox_errors(self):
        sb = self.sandbox()
        cases = {
            "exec not JSON": (lambda: sb.commands.run(["true"]), b"{"),
            "exec an array": (lambda: sb.commands.run(["true"]), b"[1]"),
            "exec stdout a number": (lambda: sb.commands.run(["true"]),
                                     b'{"stdout": 1, "stderr": "", "exit_code": 0}'),
            "exec exit_code a string": (lambda: sb.commands.run(["true"]),
                                        b'{"stdout": "", "stderr": "", "exit_code": "0"}'),
            "exec timed_out a string": (lambda: sb.commands.run(["true"]),
                                        b'{"exit_code": 0, "timed_out": "no"}'),
            "start then wait": (lambda: sb.commands.start(["true"]).wait(), b"null"),
            "snapshot not JSON": (sb.snapshot, b"snapshot taken\n"),
            "snapshot without a path": (sb.snapshot, b'{"sha256": "00"}'),
            "snapshot a list": (sb.snapshot, b"[]"),
        }
        for what, (call, data) in cases.items():
            with self.subTest(what):
                self.answer(data)
                self.assert_sandbox_error(call, what)

    def ps_answer(self, entry: dict) -> None:
        self.answer(json.dumps({"sandboxes": [
            {"name": "other", "status": "running", "ports": [{"guest": 1, "host": 2,
                                                              "address": "127.0.0.1"}]},
            dict({"name": "fake", "status": "running"}, **entry)]}).encode())

    def test_services_and_ports_are_read_from_ps_json(self):
        sb = self.sandbox()
        self.ps_answer({
            "ports": [{"guest": 8080, "host": 18080, "address": "127.0.0.1"},
                      {"guest": 9000, "host": 41234, "address": "127.0.0.1"}],
            "services": [
                {"name": "http", "restart": "on-failure", "phase": "running", "restarts": 1,
                 "pid": 12},
                {"name": "once", "restart": "never", "phase": "exited", "restarts": 0, "pid": 0,
                 "exit_code": 3, "signal": 0},
                {"name": "paused", "restart": "always", "phase": "unknown"}]})
        self.assertEqual([(p.guest, p.host, p.address) for p in sb.ports()],
                         [(8080, 18080, "127.0.0.1"), (9000, 41234, "127.0.0.1")])
        with open(self.argv) as f:
            self.assertEqual(f.read().split("\n")[:4], ["ps", "--state-dir", self.dir,
                                                         "--format=json"])
        services = sb.services.list()
        self.assertEqual([(s.name, s.restart, s.phase, s.restarts, s.pid, s.exit_code)
                          for s in services],
                         [("http", "on-failure", "running", 1, 12, None),
                          ("once", "never", "exited", 0, 0, 3),
                          ("paused", "always", "unknown", 0, 0, None)])
        # Without services or ports: empty lists, not errors.
        self.ps_answer({})
        self.assertEqual(sb.ports(), [])
        self.assertEqual(sb.services.list(), [])

    def test_malformed_services_and_ports_are_sandbox_errors(self):
        sb = self.sandbox()
        cases = {
            "ports not a list": {"ports": {"guest": 1}},
            "a port not an object": {"ports": [8080]},
            "a port past 65535": {"ports": [{"guest": 8080, "host": 70000, "address": "x"}]},
            "a port without its address": {"ports": [{"guest": 8080, "host": 1}]},
            "a string port": {"ports": [{"guest": "8080", "host": 1, "address": "x"}]},
            "a service without a name": {"services": [{"restart": "never", "phase": "running"}]},
            "an unknown phase": {"services": [{"name": "a", "restart": "never", "phase": "odd"}]},
            "negative restarts": {"services": [{"name": "a", "restart": "never",
                                                "phase": "running", "restarts": -1}]},
        }
        for what, entry in cases.items():
            with self.subTest(what):
                self.ps_answer(entry)
                call = sb.ports if "port" in what else sb.services.list
                self.assert_sandbox_error(call, what)
        self.answer(b'{"sandboxes": []}')
        e = self.assert_sandbox_error(sb.ports, "gone")
        self.assertIn("no longer exists", str(e))

    def test_a_service_log_is_logs_with_the_service_named(self):
        sb = self.sandbox()
        self.answer(b"ticking\nrestarted (pid 7)\n")
        self.assertEqual(sb.services.logs("ticker"), "ticking\nrestarted (pid 7)\n")
        with open(self.argv) as f:
            self.assertEqual(f.read().split("\n")[:6],
                             ["logs", "--state-dir", self.dir, "fake", "--service", "ticker"])
        with self.assertRaises(ValueError):
            sb.services.logs("--raw")
        os.environ["MVM_FAKE_STATUS"] = "3"
        self.answer(b"")
        self.assert_sandbox_error(lambda: sb.services.logs("nope"), "unknown service")

    def test_publish_and_services_reach_up(self):
        up_argv = os.path.join(self.dir, "up-argv")
        os.environ["MVM_FAKE_UP_ARGV"] = up_argv
        Sandbox.create("template:busybox", name="fake", detach=True, mvmctl=self.mvmctl,
                       state_dir=self.dir, ports=[9000], publish={8080: 18080},
                       services=[mvm.Service("http", ["httpd", "-f"], port=8080)])
        with open(up_argv) as f:
            argv = f.read().split("\n")
        self.assertEqual(argv[argv.index("--publish") + 1], "8080:18080")
        with self.assertRaises(SandboxError):
            Sandbox.create("template:busybox", name="fake", detach=True, mvmctl=self.mvmctl,
                           state_dir=self.dir, publish={8080: 0})

    def test_a_well_formed_exec_answer_is_read(self):
        sb = self.sandbox()
        self.answer(b'{"stdout": "a\\n", "stderr": "", "exit_code": 3, "timed_out": false, '
                    b'"audit_id": "x"}')
        r = sb.commands.run(["true"])
        self.assertEqual((r.stdout, r.exit_code, r.audit_id), ("a\n", 3, "x"))
        self.answer(b'{"stdout": "", "stderr": "", "exit_code": 124, "timed_out": true}')
        with self.assertRaises(TimeoutError):
            sb.commands.run(["sleep", "9"])

    def test_a_malformed_up_answer_is_a_sandbox_error(self):
        up = os.path.join(self.dir, "up")
        os.environ["MVM_FAKE_UP"] = up
        for what, data in {"not JSON": b"up\n", "a list": b"[]\n", "null": b"null\n",
                           "audit_id a number": b'{"audit_id": 1}\n'}.items():
            with self.subTest(what):
                with open(up, "wb") as f:
                    f.write(data)
                self.assert_sandbox_error(self.sandbox, what)


if __name__ == "__main__":
    unittest.main()
