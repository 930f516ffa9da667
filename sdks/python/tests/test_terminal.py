"""``commands.run(..., tty=True)``'s pseudo-terminal, with local commands: what the SDK opens for
``mvmctl exec -it`` (test_live.py runs it against a sandbox)."""

import subprocess
import unittest

from mvm.sandbox import Commands, _run_on_terminal


class TerminalTest(unittest.TestCase):
    def test_the_command_gets_a_terminal_of_the_size_asked_for_and_typed_input(self):
        # The terminal is raw (no echo, Enter not turned into a newline) until the command makes it
        # otherwise, as a sandbox's terminal would: the input may arrive before `stty`, so it is a
        # newline, and echo stays off so that no echo races the output.
        status, out = _run_on_terminal(
            ["sh", "-c", "stty sane -echo; stty size; test -t 0 && test -t 1 && test -t 2 && "
             "echo ttys; read line; echo got=$line; echo err >&2; exit 4"], 33, 101, b"hello\n",
            20)
        self.assertEqual(status, 4)
        # stdout and stderr both reach the terminal.
        self.assertEqual(out, b"33 101\r\nttys\r\ngot=hello\r\nerr\r\n")

    def test_the_terminal_starts_raw_as_mvmctl_leaves_it(self):
        status, out = _run_on_terminal(["sh", "-c", "stty -a"], 24, 80, None, 20)
        self.assertEqual(status, 0)
        self.assertIn(b"-icanon", out)
        self.assertIn(b"-echo ", out)

    def test_a_signal_death_is_128_plus_the_signal(self):
        status, _ = _run_on_terminal(["sh", "-c", "kill -INT $$"], 24, 80, None, 20)
        self.assertEqual(status, 130)

    def test_a_command_that_outlives_the_timeout_is_killed(self):
        with self.assertRaises(subprocess.TimeoutExpired):
            _run_on_terminal(["sleep", "30"], 24, 80, None, 0.5)

    def test_bad_sizes_and_input_without_a_terminal_are_refused(self):
        commands = Commands(backend=None)
        with self.assertRaisesRegex(ValueError, "rows=0: a terminal size is 1 to 65535"):
            commands.run(["true"], tty=True, rows=0)
        with self.assertRaisesRegex(ValueError, "cols=True"):
            commands.run(["true"], tty=True, cols=True)
        with self.assertRaisesRegex(TypeError, "give tty=True"):
            commands.run(["cat"], input="x")


if __name__ == "__main__":
    unittest.main()
