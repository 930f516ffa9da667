"""RFC 8785 (JCS) canonical JSON for the values Workload IR holds, so the bytes this SDK writes
are the bytes ``mvmctl ir canon`` prints for the same module.

IR has no floats (every number is an int32), which leaves the parts of JCS that matter here:
object members sorted by the UTF-16 code units of their names, no insignificant whitespace, and
strings escaped the way ECMAScript's ``JSON.stringify`` does (the short escapes, ``\\u00xx`` for
other control characters, everything else literal UTF-8).
"""

from __future__ import annotations

from typing import Any, List

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                  "\t": "\\t"}


def _utf16_key(name: str) -> bytes:
    # Big-endian UTF-16 bytes compare in code-unit order, which is what JCS sorts by (it differs
    # from code-point order for characters above U+FFFF).
    return name.encode("utf-16-be", "surrogatepass")


def _string(text: str, out: List[str]) -> None:
    out.append('"')
    for ch in text:
        escaped = _SHORT_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append("\\u%04x" % ord(ch))
        elif "\ud800" <= ch <= "\udfff":
            # A lone surrogate cannot be written as UTF-8; JSON.stringify escapes it likewise.
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')


def _value(value: Any, out: List[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, str):
        _string(value, out)
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON object keys must be strings, got {key!r}")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            _string(key, out)
            out.append(":")
            _value(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _value(item, out)
        out.append("]")
    else:
        # Floats included: IR numbers are integers, and JCS float formatting is not needed.
        raise TypeError(f"cannot write {type(value).__name__} {value!r} as Workload IR JSON")


def canonical_json(value: Any) -> str:
    """``value`` (dicts, lists, str, int, bool, None) as RFC 8785 canonical JSON text."""
    out: List[str] = []
    _value(value, out)
    return "".join(out)
