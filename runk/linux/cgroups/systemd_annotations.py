"""Extra properties of a container's systemd unit from its config's annotations, as runc reads
them: "org.systemd.property.NAME" = a value in GVariant text form ("uint64 123456789", "true",
"'text'", "@as ['a', 'b']", "[1, 2]").

Runs in the parent (create and restore with --systemd-cgroup); pure (imports runk.errors).
runc's rules: NAME is three ASCII letters at least;
a NAME ending in "Sec" after a lower-case letter (TimeoutStopSec) is sent as "...USec" with the
number in microseconds; the properties follow the driver's own, so systemd takes them last.
"""

from __future__ import annotations

from runk.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Prop = tuple[str, tuple[str, Any]]

PREFIX = "org.systemd.property."
_INTS = {  # signature: (min, max)
    "y": (0, (1 << 8) - 1),
    "n": (-(1 << 15), (1 << 15) - 1),
    "q": (0, (1 << 16) - 1),
    "i": (-(1 << 31), (1 << 31) - 1),
    "u": (0, (1 << 32) - 1),
    "x": (-(1 << 63), (1 << 63) - 1),
    "t": (0, (1 << 64) - 1),
}
_KEYWORDS = {
    "boolean": "b",
    "byte": "y",
    "int16": "n",
    "uint16": "q",
    "int32": "i",
    "uint32": "u",
    "int64": "x",
    "uint64": "t",
    "double": "d",
    "string": "s",
    "objectpath": "o",
    "signature": "g",
}
_FIELD = "annotations"


class _Bad(ValueError):
    pass


def name_problem(name: str) -> str | None:
    """Why runc refuses a property name (three ASCII letters at least), None if it does not."""
    if len(name) < 3:
        return "too short"
    if not all(c.isascii() and c.isalpha() for c in name):
        return "contains non-alphabetic character"
    return None


def unit_properties(annotations: dict[str, str] | None) -> list[Prop]:
    """The org.systemd.property.* annotations as unit properties (sorted by name: the order of
    a map in runc is random); ConfigError naming the annotation for a bad name or value."""
    out: list[Prop] = []
    for key in sorted(annotations or {}):
        if not key.startswith(PREFIX):
            continue
        name, text = key[len(PREFIX) :], str((annotations or {})[key])
        problem = name_problem(name)
        if problem:
            raise ConfigError(_FIELD, f"annotation {key} name incorrect: {problem}")
        try:
            sig, value = parse_value(text)
            if name.endswith("Sec") and "a" <= name[-4] <= "z":
                name, sig, value = name[:-3] + "USec", "t", _sec_to_usec(sig, value)
        except _Bad as e:
            raise ConfigError(_FIELD, f"annotation {key}={text} value parse error: {e}") from None
        out.append((name, (sig, value)))
    return out


def _sec_to_usec(sig: str, value: Any) -> int:
    if sig in _INTS:
        usec = int(value) * 1000000
    elif sig == "d":
        usec = int(float(value) * 1000000)
    else:
        raise _Bad("not a number")
    if not 0 <= usec < 1 << 64:
        raise _Bad("out of range")
    return usec


def parse_value(text: str) -> tuple[str, Any]:
    """A GVariant text value → (D-Bus signature, value): a type keyword or "@SIG" before it, or
    a bare literal (an integer is an int32, a number with a point a double)."""
    text = text.strip()
    want = ""
    if text.startswith("@"):
        want, _, text = text[1:].partition(" ")
        if not want or any(c not in "abynqiuxtdsog" for c in want) or want.count("a") > 1 or "a" in want[1:]:
            raise _Bad(f"unsupported type @{want}")
    else:
        word, _, rest = text.partition(" ")
        if word in _KEYWORDS:
            want, text = _KEYWORDS[word], rest
    text = text.strip()
    if text.startswith("["):
        if want and not want.startswith("a"):
            raise _Bad(f"an array is not of type {want}")
        items = _split_array(text)
        elem = want[1:] if want else ""
        parsed = [_scalar(item, elem) for item in items]
        if not elem:
            if not parsed:
                raise _Bad("an empty array needs a type (@as [])")
            sigs = {s for s, _ in parsed}
            if len(sigs) != 1:
                raise _Bad("array elements of different types")
            elem = sigs.pop()
        return "a" + elem, [v for _, v in parsed]
    if want.startswith("a"):
        raise _Bad(f"expected an array for type {want}")
    return _scalar(text, want)


def _split_array(text: str) -> list[str]:
    if not text.endswith("]"):
        raise _Bad("unterminated array")
    inner = text[1:-1].strip()
    if not inner:
        return []
    items, cur, quote = [], "", ""
    for c in inner:
        if quote:
            cur += c
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
            cur += c
        elif c == ",":
            items.append(cur.strip())
            cur = ""
        else:
            cur += c
    if quote:
        raise _Bad("unterminated string")
    items.append(cur.strip())
    return items


def _scalar(text: str, want: str) -> tuple[str, Any]:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        if want not in ("", "s", "o", "g"):
            raise _Bad(f"a string is not of type {want}")
        body = text[1:-1]
        if text[0] in body.replace("\\" + text[0], ""):
            raise _Bad("unterminated string")
        return want or "s", body.replace("\\" + text[0], text[0]).replace("\\\\", "\\")
    if text in ("true", "false"):
        if want not in ("", "b"):
            raise _Bad(f"a boolean is not of type {want}")
        return "b", text == "true"
    if want in ("s", "o", "g", "b"):
        raise _Bad(f"{text!r} is not of type {want}")
    is_float = want == "d" or (not want and any(c in text for c in ".eE") and not text.startswith("0x"))
    try:
        if is_float:
            return "d", float(text)
        num = int(text, 0)
    except ValueError:
        raise _Bad(f"{text!r} is not a number") from None
    sig = want or "i"
    lo, hi = _INTS[sig]
    if not lo <= num <= hi:
        raise _Bad(f"{text} is out of range for type {sig}")
    return sig, num
