"""Runs a function-form workload: ``python3 -m mvm.run FILE FUNCTION [ARG...]``.

This is the entrypoint ``main`` of ``@workload(...) def f(): ...``: the sandbox has the declaring
file at ``/app/<file name>`` and this SDK on ``PYTHONPATH``, and runs
``python3 -m mvm.run /app/<file name> <function name>``.

FILE is loaded the way ``python3 FILE`` would run it, with two differences:

* it is imported as the module ``__mvm_main__``, not ``__main__``, so its
  ``if __name__ == "__main__":`` block (often a local way to call the function) does not run; the
  module is in ``sys.modules`` under that name, so pickling and dataclasses work as usual;
* FUNCTION is then called with no arguments.

``sys.path`` is what ``python3 FILE`` would give: FILE's directory first, where ``-m`` put the
working directory instead. So modules beside FILE import as they do when the file is run directly,
and whatever happens to be in the sandbox's working directory does not shadow anything. Nothing is
added when Python runs with ``-P`` / ``PYTHONSAFEPATH``, as for a script. ``sys.argv`` is
``[FILE, ARG...]``, as for a script.

Exit status: 0 when FUNCTION returns; the value when it returns an int in 0..255 (``bool`` is not
taken for a status); 1, with the traceback on stderr, when loading FILE or calling FUNCTION raises
(``SystemExit`` passes through, so ``sys.exit(n)`` works); 2 when FILE or FUNCTION cannot be found
or the arguments are wrong. Coroutine functions are run with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import sys
import traceback
from types import ModuleType, TracebackType
from typing import List, Optional

MODULE_NAME = "__mvm_main__"

_USAGE = "usage: python3 -m mvm.run FILE FUNCTION [ARG...]"


class _CannotStart(Exception):
    """FILE or FUNCTION is not there: a mismatch between the plan and the file, exit status 2."""


def _set_script_path(file: str) -> None:
    # Only replace the working directory that `-m` inserted; under -P nothing was inserted.
    if getattr(sys.flags, "safe_path", False):  # Python 3.11+
        return
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path[0] = os.path.dirname(os.path.abspath(file))


def _load(file: str) -> ModuleType:
    if not os.path.isfile(file):
        raise _CannotStart(f"no such file: {file}")
    spec = importlib.util.spec_from_file_location(MODULE_NAME, file)
    if spec is None or spec.loader is None:
        raise _CannotStart(f"cannot load {file} as Python source")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


def _user_traceback(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    # The outermost frames are this shim's, importlib's loader's and asyncio's runner's: not the
    # user's code, so not in their traceback.
    asyncio_dir = os.path.dirname(asyncio.__file__) + os.sep
    while tb is not None:
        code = tb.tb_frame.f_code
        if not (code in _OWN_CODE or code.co_filename.startswith("<frozen importlib") or
                code.co_filename.startswith(asyncio_dir)):
            break
        tb = tb.tb_next
    return tb


def _exit_status(result: object) -> int:
    if isinstance(result, int) and not isinstance(result, bool):
        if 0 <= result <= 255:
            return result
        # The kernel keeps only the low 8 bits, which would turn 256 into success.
        print(f"mvm.run: exit status {result} is outside 0..255; exiting with 1", file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print(_USAGE, file=sys.stderr)
        return 2
    file, function_name = args[0], args[1]
    sys.argv = [file, *args[2:]]
    _set_script_path(file)
    try:
        module = _load(file)
        function = getattr(module, function_name, None)
        if not callable(function):
            raise _CannotStart(f"{file} defines no function named {function_name!r}")
        if inspect.iscoroutinefunction(function):
            result = asyncio.run(function())
        else:
            result = function()
    except _CannotStart as e:
        print(f"mvm.run: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the user's code may raise anything; report it all
        traceback.print_exception(type(e), e, _user_traceback(e.__traceback__))
        return 1
    return _exit_status(result)


_OWN_CODE = {main.__code__, _load.__code__}

if __name__ == "__main__":
    sys.exit(main())
