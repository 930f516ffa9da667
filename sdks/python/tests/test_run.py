"""`python3 -m mvm.run FILE FUNCTION`, run as the sandbox runs it: a real interpreter in a
subprocess, with only the SDK on PYTHONPATH."""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

SDK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The interpreter the python-3.11 template has; another one where Debian's is absent.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class RunTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mvm_run_test_")
        self.dir = self._tmp.name
        # A working directory apart from the file, as in the sandbox (/app vs. elsewhere).
        self.cwd = os.path.join(self.dir, "cwd")
        os.mkdir(self.cwd)
        self.app = os.path.join(self.dir, "app")
        os.mkdir(self.app)

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, source, directory=None):
        path = os.path.join(directory or self.app, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(source))
        return path

    def run_shim(self, *args, python_flags=()):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": SDK_DIR,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        return subprocess.run([PYTHON, *python_flags, "-m", "mvm.run", *args], cwd=self.cwd,
                              env=env, capture_output=True, text=True, timeout=120)

    def test_calls_the_function_and_exits_0(self):
        path = self.write("tiny.py", """\
            from mvm import workload

            @workload("tiny", image="template:python-3.11", cpu=1, memory_mb=256)
            def tiny():
                print("hello from mvm")
            """)
        result = self.run_shim(path, "tiny")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "hello from mvm\n")
        self.assertEqual(result.stderr, "")

    def test_returned_int_is_the_exit_status(self):
        path = self.write("codes.py", """\
            def three():
                return 3

            def zero():
                return 0

            def text():
                return "not a status"

            def true():
                return True

            def huge():
                return 256
            """)
        self.assertEqual(self.run_shim(path, "three").returncode, 3)
        self.assertEqual(self.run_shim(path, "zero").returncode, 0)
        self.assertEqual(self.run_shim(path, "text").returncode, 0)
        self.assertEqual(self.run_shim(path, "true").returncode, 0, "a bool is not a status")
        huge = self.run_shim(path, "huge")
        self.assertEqual(huge.returncode, 1, "256 must not wrap around to success")
        self.assertIn("outside 0..255", huge.stderr)

    def test_exception_exits_1_with_the_users_traceback(self):
        path = self.write("boom.py", """\
            def helper():
                raise ValueError("boom")

            def main():
                helper()
            """)
        result = self.run_shim(path, "main")
        self.assertEqual(result.returncode, 1)
        self.assertIn("Traceback (most recent call last):", result.stderr)
        self.assertIn(f'File "{path}", line 5, in main', result.stderr)
        self.assertIn(f'File "{path}", line 2, in helper', result.stderr)
        self.assertIn("ValueError: boom", result.stderr)
        self.assertNotIn("run.py", result.stderr, "the shim's own frames are left out")

    def test_error_while_loading_the_file_exits_1(self):
        path = self.write("broken.py", """\
            import json
            raise RuntimeError("at import")
            """)
        result = self.run_shim(path, "main")
        self.assertEqual(result.returncode, 1)
        self.assertIn(f'File "{path}", line 2, in <module>', result.stderr)
        self.assertIn("RuntimeError: at import", result.stderr)
        self.assertNotIn("importlib", result.stderr)

        syntax = self.write("syntax.py", "def f(:\n    pass\n")
        result = self.run_shim(syntax, "f")
        self.assertEqual(result.returncode, 1)
        self.assertIn("SyntaxError", result.stderr)

    def test_sys_exit_passes_through(self):
        path = self.write("exits.py", """\
            import sys

            def main():
                sys.exit(7)
            """)
        self.assertEqual(self.run_shim(path, "main").returncode, 7)

    def test_module_is_mvm_main_and_main_block_does_not_run(self):
        path = self.write("named.py", """\
            import pickle
            import sys
            from dataclasses import dataclass

            @dataclass
            class Point:
                x: int

            def main():
                print(__name__)
                print(sys.modules[__name__] is sys.modules["__mvm_main__"])
                print(pickle.loads(pickle.dumps(Point(3))))

            if __name__ == "__main__":
                print("main block ran")
            """)
        result = self.run_shim(path, "main")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "__mvm_main__\nTrue\nPoint(x=3)\n")

    def test_sys_path_and_argv_are_a_scripts(self):
        self.write("sibling.py", "VALUE = 'from beside the file'\n")
        # A module in the working directory must not shadow anything: -m would have put it first.
        self.write("sibling.py", "VALUE = 'from the working directory'\n", directory=self.cwd)
        path = self.write("paths.py", """\
            import os
            import sys

            def main():
                import sibling
                print(sibling.VALUE)
                print(sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
                print(os.getcwd() in sys.path)
                print(sys.argv)
            """)
        result = self.run_shim(path, "main", "--flag", "value")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(), [
            "from beside the file", "True", "False", repr([path, "--flag", "value"])])

    @unittest.skipUnless(sys.version_info >= (3, 11), "-P is new in Python 3.11")
    def test_safe_path_adds_nothing(self):
        self.write("sibling.py", "VALUE = 1\n")
        path = self.write("safe.py", """\
            def main():
                try:
                    import sibling
                except ImportError:
                    print("not importable")
            """)
        result = self.run_shim(path, "main", python_flags=("-P",))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "not importable\n")

    def test_coroutine_function_is_awaited(self):
        path = self.write("coro.py", """\
            import asyncio

            async def main():
                await asyncio.sleep(0)
                print("awaited")
                return 4

            async def fails():
                raise KeyError("async")
            """)
        result = self.run_shim(path, "main")
        self.assertEqual((result.returncode, result.stdout), (4, "awaited\n"), result.stderr)
        failed = self.run_shim(path, "fails")
        self.assertEqual(failed.returncode, 1)
        self.assertIn("KeyError: 'async'", failed.stderr)
        self.assertNotIn("asyncio", failed.stderr)

    def test_cannot_start_exits_2(self):
        path = self.write("present.py", "NOT_CALLABLE = 1\ndef main():\n    pass\n")
        missing_function = self.run_shim(path, "absent")
        self.assertEqual(missing_function.returncode, 2)
        self.assertIn("defines no function named 'absent'", missing_function.stderr)
        self.assertEqual(self.run_shim(path, "NOT_CALLABLE").returncode, 2)
        missing_file = self.run_shim(os.path.join(self.app, "gone.py"), "main")
        self.assertEqual(missing_file.returncode, 2)
        self.assertIn("no such file", missing_file.stderr)
        usage = self.run_shim(path)
        self.assertEqual(usage.returncode, 2)
        self.assertIn("usage: python3 -m mvm.run FILE FUNCTION", usage.stderr)


if __name__ == "__main__":
    unittest.main()
