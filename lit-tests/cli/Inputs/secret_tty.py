"""Drives `mvmctl secret set` on a pseudo-terminal: it prompts on stderr, does not echo the value,
and leaves echo on afterwards, also when Ctrl-C ends it at the prompt.

usage: secret_tty.py MVMCTL STATE_DIR
Prints what the terminal showed (with the value, were it echoed) and the terminal's echo flag after.
"""

import os
import pty
import select
import signal
import sys
import termios
import time

VALUE = b"sk-tty-8c41d2"


def read_until(fd, needle, timeout=20.0):
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def run(mvmctl, state, keys):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(mvmctl, [mvmctl, "secret", "set", "tty-key", "--state-dir", state])
    shown = read_until(fd, b"value for tty-key: ")
    os.write(fd, keys)
    # The child's output up to its exit; the pty reports EIO once the child is gone.
    shown += read_until(fd, b"\x00", timeout=5.0)
    # A child still waiting for input would hang the test: it gets 10 s, then SIGKILL (exit -9).
    deadline = time.monotonic() + 10.0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.05)
    echo = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
    os.close(fd)
    return shown, status, echo


def main():
    mvmctl, state = sys.argv[1], sys.argv[2]
    shown, status, echo = run(mvmctl, state, VALUE + b"\n")
    text = shown.decode(errors="replace").replace("\r", "")
    print("typed:", " | ".join(line.strip() for line in text.split("\n") if line.strip()))
    print("typed: exit", os.waitstatus_to_exitcode(status), "echo", "on" if echo else "off")
    print("typed: value shown" if VALUE in shown else "typed: value not shown")
    shown, status, echo = run(mvmctl, state, b"sk-half\x03")
    print("interrupted: exit", os.waitstatus_to_exitcode(status), "echo", "on" if echo else "off")
    print("interrupted: value shown" if b"sk-half" in shown else "interrupted: value not shown")


main()
