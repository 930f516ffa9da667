"""Record mode against the shared fixture suite (tests/fixtures/sdk): each record.py must write
canonical IR that means the same as the fixture's expected.ir.json (written by hand from the IR
spec; compared as parsed JSON) once source locations are set aside, and the equivalent declarations
must still run as ordinary Python. The C++ suite (sdk_fixture_parity) checks the same files against
the compiler itself."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import mvm
from mvm import NetworkPolicy, Sandbox, SecretRef, Volume, _ir
from mvm._canonical import canonical_json

SDK = Path(__file__).resolve().parent.parent
FIXTURES = SDK.parent.parent / "tests" / "fixtures" / "sdk"


def run_script(path, cwd, out=None, extra_env=None):
    env = dict(os.environ, MVM_SDK_MODE="record", PYTHONPATH=str(SDK),
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("MVM_RECORD_OUT", None)
    if out is not None:
        env["MVM_RECORD_OUT"] = str(out)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


class FixtureSuiteTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="mvm-record-test-"))
        self.addCleanup(shutil.rmtree, self.tmp)

    def fixtures(self):
        names = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
        self.assertGreaterEqual(len(names), 4, f"the fixture suite went missing from {FIXTURES}")
        return names

    def test_record_scripts_write_the_expected_ir(self):
        for name in self.fixtures():
            with self.subTest(fixture=name):
                out = self.tmp / f"{name}.ir.json"
                proc = run_script(FIXTURES / name / "record.py", FIXTURES / name, out)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                text = out.read_text(encoding="utf-8")
                module = json.loads(text)
                self.assertEqual(text, canonical_json(module), "not written canonically")
                expected = json.loads((FIXTURES / name / "expected.ir.json").read_text(encoding="utf-8"))
                self.assertEqual(_ir.without_locations(module), expected)
                # Locations point at the script: `source` at Sandbox.create, `loc` at each command.
                workload = module["workloads"][0]
                self.assertEqual(workload["source"]["file"], "record.py")
                lines = (FIXTURES / name / "record.py").read_text(encoding="utf-8").splitlines()
                self.assertIn("Sandbox.create(", lines[workload["source"]["line"] - 1])
                for e in workload["entrypoints"]:
                    self.assertRegex(lines[e["loc"]["line"] - 1], r"commands\.(run|start)\(")

    def test_mvmctl_compiles_the_recorded_ir(self):
        mvmctl = os.environ.get("MVM_MVMCTL")
        if not mvmctl:
            if os.environ.get("CI", "") not in ("", "0", "false"):
                self.fail("MVM_MVMCTL is not set, and CI runs every test")
            self.skipTest("MVM_MVMCTL is not set (ctest sets it to the built mvmctl)")
        for name in self.fixtures():
            with self.subTest(fixture=name):
                out = self.tmp / f"{name}.ir.json"
                self.assertEqual(run_script(FIXTURES / name / "record.py", FIXTURES / name,
                                            out).returncode, 0)
                proc = subprocess.run([mvmctl, "compile", "--from-ir", str(out), "-o",
                                       str(self.tmp / "out"), "--emit", "ir"],
                                      capture_output=True, text=True, timeout=60)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                digest = subprocess.run([mvmctl, "ir", "digest", str(self.tmp / "out" /
                                                                     f"{name}.ir.json")],
                                        capture_output=True, text=True, timeout=60)
                expected = subprocess.run([mvmctl, "ir", "digest",
                                           str(FIXTURES / name / "expected.ir.json")],
                                          capture_output=True, text=True, timeout=60)
                self.assertEqual(digest.returncode, 0, digest.stderr)
                self.assertEqual(digest.stdout, expected.stdout)

    def test_declarations_run_as_ordinary_python(self):
        for name in self.fixtures():
            decl = FIXTURES / name / "decl.py"
            if not decl.exists():
                continue
            with self.subTest(fixture=name):
                code = ("import runpy, sys; g = runpy.run_path(sys.argv[1]); "
                        "ws = [v for v in g.values() if getattr(v, '__mvm__', {}).get('kind') "
                        "== 'workload']; print(ws[0].__mvm__['name'])")
                proc = subprocess.run([sys.executable, "-c", code, str(decl)],
                                      env=dict(os.environ, PYTHONPATH=str(SDK),
                                               PYTHONDONTWRITEBYTECODE="1"),
                                      capture_output=True, text=True, timeout=60)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(proc.stdout.strip(), name)


class RecordModeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="mvm-record-test-"))
        self.addCleanup(shutil.rmtree, self.tmp)

    def script(self, text):
        path = self.tmp / "script.py"
        path.write_text(text, encoding="utf-8")
        return path

    def test_without_record_out_the_module_goes_to_stdout_once(self):
        path = self.script(
            "from mvm import Sandbox\n"
            "a = Sandbox.create('template:busybox', workload_id='a')\n"
            "a.commands.run(['true'])\n"
            "a.stop()\n"
            "b = Sandbox.create('template:busybox', workload_id='b')\n"
            "b.commands.start(['sleep', '1'], timeout_seconds=3)\n")
        proc = run_script(path, self.tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        module = json.loads(proc.stdout)  # one JSON value: stop() did not print a copy
        self.assertEqual([w["id"] for w in module["workloads"]], ["a", "b"])
        self.assertEqual(module["workloads"][1]["entrypoints"][0],
                         {"name": "cmd-1", "command": ["sleep", "1"], "timeout_seconds": 3,
                          "loc": {"file": "script.py", "line": 6, "column": 1}})

    def test_stop_writes_the_file_before_exit(self):
        out = self.tmp / "out.ir.json"
        path = self.script(
            "import os, sys\n"
            "from mvm import Sandbox\n"
            "sb = Sandbox.create('template:busybox', workload_id='early')\n"
            "sb.commands.run(['true'])\n"
            "sb.stop()\n"
            "print(open(os.environ['MVM_RECORD_OUT']).read())\n"
            "os._exit(0)\n")  # no atexit: only stop() can have written it
        proc = run_script(path, self.tmp, out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["workloads"][0]["id"], "early")

    def test_recorded_results_say_so(self):
        out = self.tmp / "out.ir.json"
        path = self.script(
            "from mvm import Sandbox\n"
            "with Sandbox.create('template:busybox', workload_id='r') as sb:\n"
            "    r = sb.commands.run(['echo', 'x'])\n"
            "    assert (r.stdout, r.exit_code, r.recorded) == ('', 0, True), r\n"
            "    sb.files.write('/app/x', b'data')\n"
            "    assert sb.files.read('/app/x') == 'data'\n"
            "    assert [e.name for e in sb.files.list('/app')] == ['x']\n")
        proc = run_script(path, self.tmp, out)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_a_plaintext_secret_is_refused_without_showing_it(self):
        with self.assertRaises(TypeError) as caught:
            _ir.secrets({"API_KEY": "sk-live-abcdef123456"})
        self.assertIn("API_KEY", str(caught.exception))
        self.assertNotIn("sk-live", str(caught.exception))

    def test_volume_forms_lower_as_the_compiler_lowers_them(self):
        keys = SecretRef("datasets-keys")
        self.assertEqual(_ir.volumes([
            Volume.encrypted("notes", "/notes", size_mb=512),
            Volume.object("s3://datasets/run-1", "/datasets", endpoint="https://s3.example.com",
                          credentials=keys, mode="rw"),
        ]), [
            {"kind": "encrypted", "source": "notes", "target": "/notes", "size_mb": 512},
            {"kind": "object", "source": "s3://datasets/run-1", "target": "/datasets",
             "mode": "rw", "endpoint": "https://s3.example.com", "credentials": "datasets-keys"},
        ])
        with self.assertRaises(ValueError) as caught:
            _ir.volumes([Volume.object("s3://b1b", "/b", endpoint="https://e",
                                       credentials=SecretRef("k", hosts=["e"]))])
        self.assertIn("leave out hosts", str(caught.exception))

    def test_duplicate_workload_ids_are_refused(self):
        path = self.script(
            "from mvm import Sandbox\n"
            "Sandbox.create('template:busybox', workload_id='same')\n"
            "Sandbox.create('template:busybox', workload_id='same')\n")
        proc = run_script(path, self.tmp, self.tmp / "out.ir.json")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("workload id 'same' is already used", proc.stderr)

    def test_an_unknown_mode_is_an_error(self):
        path = self.script("from mvm import Sandbox\nSandbox.create('template:busybox')\n")
        proc = run_script(path, self.tmp, extra_env={"MVM_SDK_MODE": "replay"})
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("MVM_SDK_MODE='replay' is not a mode", proc.stderr)

    def test_types_are_checked_where_the_ir_could_not_hold_them(self):
        with self.assertRaises(TypeError):
            _ir.workload("template:busybox", "x", {"cpu": True})
        with self.assertRaises(TypeError):
            _ir.workload("template:busybox", "x", {"network": ["api.example.com"]})
        with self.assertRaises(ValueError):
            _ir.entrypoint("cmd-1", [], None)
        with self.assertRaises(TypeError):
            mvm.sandbox._argv_list("echo hi")

    def test_normalisation_matches_the_compiler(self):
        w = _ir.workload("oci:r.example/x@sha256:" + "ab" * 32, "n", {
            "network": NetworkPolicy.deny_by_default().allow_http("B.example").allow_https(
                "b.example", "A.example", "b.example"),
            "secrets": {"Z": SecretRef("z", hosts=["B.example", "b.example"]),
                        "A": SecretRef("a")},
        })
        self.assertEqual(w["image"], {"kind": "oci", "ref": "r.example/x@sha256:" + "ab" * 32,
                                      "digest": "sha256:" + "ab" * 32})
        self.assertEqual(w["network"]["rules"], [
            {"protocol": "https", "host": "a.example"},
            {"protocol": "http", "host": "b.example"},
            {"protocol": "https", "host": "b.example"}])
        self.assertEqual(w["secrets"], [{"env": "A", "name": "a"},
                                        {"env": "Z", "name": "z", "hosts": ["b.example"]}])


class LiveModeWithoutMvmctlTest(unittest.TestCase):
    def test_a_missing_mvmctl_is_a_sandbox_error_that_says_how_to_fix_it(self):
        with self.assertRaises(mvm.SandboxError) as caught:
            Sandbox.create("template:busybox", mvmctl="/nonexistent/mvmctl")
        self.assertIn("MVM_MVMCTL", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
