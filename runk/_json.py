"""JSON loads/dumps on CPython's _json accelerator, without importing json (re, enum: ~10 ms).

Runs in the parent on hot paths (state, list, create). Falls back to the json module where _json
is missing. A unit test holds both to json's results on a corpus.

loads() refuses a document nested deeper than MAX_DEPTH with a ValueError (never a
RecursionError): the runtime-spec's deepest field (linux.seccomp.syscalls[].args[].op) is 6 levels
down, and every recursive consumer of a loaded document (the generated validator, copy() below
at one frame a level, the seccomp canonicaliser) stays far inside Python's 1000 frames at 128.
copy() is copy.deepcopy for a loaded document (dicts, lists, scalars): `copy` imports
weakref, types and _collections_abc and looks for Jython's org.python.core on sys.path, about
1 ms that exec paid for its process copy.
"""

from __future__ import annotations

MAX_DEPTH = 128

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import TypeVar

    T = TypeVar("T")


def _check_depth(obj: object) -> None:
    """ValueError if obj nests lists/objects deeper than MAX_DEPTH (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(obj, 1)]
    while stack:
        o, depth = stack.pop()
        if isinstance(o, dict):
            children: Iterable[object] = o.values()
        elif isinstance(o, list):
            children = o
        else:
            continue
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


def copy(obj: T) -> T:
    """A deep copy of a loaded JSON document: new dicts and lists, the same scalars (immutable)."""
    if isinstance(obj, dict):
        return {k: copy(v) for k, v in obj.items()}  # type: ignore[return-value]
    if isinstance(obj, list):
        return [copy(v) for v in obj]  # type: ignore[return-value]
    return obj


try:
    import _json

    _scanner = None

    class _Ctx:
        # the attributes _json.make_scanner reads from a JSONDecoder
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
        memo: dict[str, str] = {}  # noqa: RUF012 -- the attribute _json reads, cleared after each scan

    def loads(s: str | bytes) -> object:
        global _scanner
        if isinstance(s, (bytes, bytearray)):
            s = s.decode("utf-8")
        if _scanner is None:
            # typeshed types the context as a scanner; _json reads only the attributes _Ctx has
            _scanner = _json.make_scanner(_Ctx())  # type: ignore[arg-type]
        s = s.strip(" \t\n\r")
        if s.startswith("\ufeff"):
            raise ValueError("unexpected UTF-8 BOM")
        try:
            obj, end = _scanner(s, 0)
        except RecursionError:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
        except StopIteration as e:
            raise ValueError(f"invalid character at offset {e.value}") from None
        except SystemError:
            # errors inside a string (unterminated, bad escape, control character) are raised
            # as json.decoder.JSONDecodeError, which _json finds only once json is imported;
            # without it the scanner fails with a SystemError. An error path can afford json.
            import json

            json.loads(s)
            raise ValueError("invalid JSON") from None
        finally:
            _Ctx.memo.clear()
        if end != len(s):
            raise ValueError(f"invalid character after top-level value at offset {end}")
        _check_depth(obj)
        return obj

    def _default(o: object) -> object:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys,
    #  allow_nan): the C encoder json.encoder builds for the same options
    _encoder = _json.make_encoder({}, _default, _json.encode_basestring_ascii, None, ":", ",", False, False, True)
    _encoder_sp = _json.make_encoder({}, _default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)

    def dumps(obj: object, compact: bool = True) -> str:
        """Compact (separators ',' ':') or json.dumps' default spacing."""
        return "".join((_encoder if compact else _encoder_sp)(obj, 0))

    def encode_string(s: str) -> str:
        return _json.encode_basestring_ascii(s)

except ImportError:  # pragma: no cover - non-CPython
    import json as _std

    def loads(s: str | bytes) -> object:
        try:
            obj = _std.loads(s)
        except RecursionError:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
        _check_depth(obj)
        return obj

    def dumps(obj: object, compact: bool = True) -> str:
        return _std.dumps(obj, separators=(",", ":") if compact else None)

    def encode_string(s: str) -> str:
        return _std.dumps(s)
