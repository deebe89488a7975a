"""What Nextcloud's answers owe to PHP: ``json_encode``, ``XMLWriter``, number formatting, the
string-to-number casts and ``parse_str``.

The stand-in keeps its data as Python values shaped like PHP arrays (a ``dict`` is an
associative array, a ``list`` a packed one); these helpers turn them into the exact bytes
Nextcloud 27 sends, which is what the replay of the recorded exchanges compares.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import unquote, unquote_plus

Php = Any  # None | bool | int | float | str | list[Php] | dict[str, Php]

_NUMERIC = re.compile(r"^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$")
_LEADING_NUMBER = re.compile(r"^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_LEADING_INT = re.compile(r"^[ \t\n\r\v\f]*[+-]?\d+")


def is_numeric(value: str) -> bool:
    return bool(_NUMERIC.match(value))


def float_cast(value: str) -> float:
    """PHP's ``(float)$string``: the leading number, 0 when there is none."""
    match = _LEADING_NUMBER.match(value)
    return float(match.group(0)) if match else 0.0


def int_cast(value: Php) -> int:
    """PHP's ``settype($value, 'int')`` as the app framework applies it to parameters."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        if is_numeric(value):
            number = float(value.strip())
            return int(number) if math.isfinite(number) else 0
        match = _LEADING_INT.match(value)
        return int(match.group(0)) if match else 0
    if isinstance(value, list | dict):
        return 1 if value else 0
    return 0


def php_empty(value: Php) -> bool:
    return value in (None, False, 0, 0.0, "", "0", [], {})


def php_round(value: float, places: int = 0) -> float:
    """PHP rounds half away from zero, after a pre-rounding that the shortest repr mimics."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def float_to_string(value: float) -> str:
    """``(string)$float`` with PHP's default ``precision`` of 14."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = f"{value:.14G}"
    if "E" in text:
        mantissa, exponent = text.split("E")
        if "." not in mantissa:
            mantissa += ".0"
        sign = exponent[0]
        return f"{mantissa}E{sign}{int(exponent[1:])}"
    return text


def to_string(value: Php) -> str:
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    if isinstance(value, float):
        return float_to_string(value)
    return str(value)


# ---- sizes (OC_Helper::computerFileSize / humanFileSize) -------------------------------------

_UNITS = {
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "p": 1024**5,
    "pb": 1024**5,
}
_UNIT_SUFFIX = re.compile(r"([kmgtp]?b?)$", re.IGNORECASE)


def computer_file_size(text: str) -> float | None:
    """Bytes for ``5 GB``, ``512MB``, ``1073741824``…; ``None`` where PHP returns false."""
    lowered = text.lower()
    if is_numeric(lowered):
        return float(lowered.strip())
    number = float_cast(lowered)
    match = _UNIT_SUFFIX.search(lowered)
    unit = match.group(1) if match else ""
    if not unit or unit not in _UNITS:
        return None
    return php_round(number * _UNITS[unit])


def human_file_size(size: float) -> str:
    if size < 0:
        return "?"
    if size < 1024:
        return f"{to_string(size)} B"
    size = php_round(size / 1024, 0)
    if size < 1024:
        return f"{to_string(size)} KB"
    for unit in ("MB", "GB", "TB"):
        size = php_round(size / 1024, 1)
        if size < 1024:
            return f"{to_string(size)} {unit}"
    size = php_round(size / 1024, 1)
    return f"{to_string(size)} PB"


# ---- e-mail (FILTER_VALIDATE_EMAIL, close enough for the API's answers) ------------------------

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def is_email(value: str) -> bool:
    if value.count("@") != 1 or len(value) > 320:
        return False
    local, domain = value.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        return False
    labels = domain.split(".")
    return bool(domain) and len(domain) <= 253 and all(_LABEL.match(label) for label in labels)


# ---- request parameters (parse_str, urldecode) -----------------------------------------------


def urldecode(value: str) -> str:
    return unquote_plus(value)


def rawurldecode(value: str) -> str:
    return unquote(value)


def _set_nested(target: dict[str, Php], base: str, subkeys: list[str], value: str) -> None:
    if not subkeys:
        target[base] = value
        return
    current = target.get(base)
    if not isinstance(current, dict):
        current = {}
        target[base] = current
    key = subkeys[0]
    if key == "":
        key = str(sum(1 for existing in current if existing.isdigit()))
        while key in current:
            key = str(int(key) + 1)
    _set_nested(current, key, subkeys[1:], value)


def _packed(value: Php) -> Php:
    """Arrays whose keys are 0..n-1 in order are PHP lists: keep them as Python lists."""
    if isinstance(value, dict):
        converted = {key: _packed(item) for key, item in value.items()}
        if list(converted) == [str(index) for index in range(len(converted))]:
            return list(converted.values())
        return converted
    return value


def parse_str(query: str) -> dict[str, Php]:
    """``parse_str``: ``a[]=1&a[]=2`` is a list, the last of repeated plain keys wins, and
    dots and spaces in names become underscores."""
    result: dict[str, Php] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key = urldecode(raw_key).lstrip(" ")
        value = urldecode(raw_value)
        if not key:
            continue
        bracket = key.find("[")
        if bracket > 0 and "]" in key[bracket:]:
            base = key[:bracket]
            subkeys = re.findall(r"\[([^\]]*)\]", key[bracket:])
        else:
            base, subkeys = key, []
        base = base.replace(".", "_").replace(" ", "_")
        _set_nested(result, base, subkeys, value)
    return {key: _packed(value) for key, value in result.items()}


# ---- json_encode ------------------------------------------------------------------------------


def _json_float(value: float) -> str:
    if value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{exponent[0]}{int(exponent[1:])}"
    return text


def _is_list(value: dict[str, Php]) -> bool:
    return [str(key) for key in value] == [str(index) for index in range(len(value))]


def _json(value: Php, indent: int | None, depth: int) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True).replace("/", "\\/")
    if isinstance(value, dict) and (not value or _is_list(value)):
        value = list(value.values())
    if isinstance(value, list):
        items = [_json(item, indent, depth + 1) for item in value]
        return _wrap("[", "]", items, indent, depth)
    if isinstance(value, dict):
        colon = ": " if indent is not None else ":"
        items = [
            f"{_json(str(key), indent, depth + 1)}{colon}{_json(item, indent, depth + 1)}"
            for key, item in value.items()
        ]
        return _wrap("{", "}", items, indent, depth)
    raise TypeError(f"not a PHP value: {type(value).__name__}")


def _wrap(opening: str, closing: str, items: list[str], indent: int | None, depth: int) -> str:
    if indent is None:
        return opening + ",".join(items) + closing
    if not items:
        return opening + closing
    inner = "\n" + " " * (indent * (depth + 1))
    return opening + inner + ("," + inner).join(items) + "\n" + " " * (indent * depth) + closing


def json_encode(value: Php, *, hex_tag: bool = False, pretty: bool = False) -> str:
    """``json_encode`` with PHP's defaults (``/`` escaped, non-ASCII as ``\\uXXXX``, no zero
    fraction on floats); ``hex_tag`` is the ``JSON_HEX_TAG`` flag Nextcloud's responses use."""
    text = _json(value, 4 if pretty else None, 0)
    if hex_tag:
        text = text.replace("<", "\\u003C").replace(">", "\\u003E")
    return text


# ---- XMLWriter as OCS responses use it --------------------------------------------------------

_XML_NAME = re.compile(r"^[A-Za-z_:\u00c0-\uffff][A-Za-z0-9_:.\-\u00b7\u00c0-\uffff]*$")


class XmlNameError(ValueError):
    """PHP refuses to start an element whose name is not an XML name: the request fails."""


def _xml_text(value: str) -> str:
    # libxml2's xmlEncodeSpecialChars, which XMLWriter applies to element content.
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
    )


def _xml_scalar(value: Php) -> str | None:
    if value is None:
        return None
    if value is True:
        return "1"
    if value is False:
        return "0"
    return to_string(value)


def _xml(value: dict[str, Php] | list[Php], depth: int, out: list[str]) -> None:
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in pairs:
        name = "element" if isinstance(key, int) or is_numeric(key) else key
        if not _XML_NAME.match(name):
            raise XmlNameError(name)
        pad = " " * depth
        if isinstance(item, dict | list):
            if not item:
                out.append(f"{pad}<{name}/>\n")
                continue
            out.append(f"{pad}<{name}>\n")
            _xml(item, depth + 1, out)
            out.append(f"{pad}</{name}>\n")
            continue
        text = _xml_scalar(item)
        if text is None:
            out.append(f"{pad}<{name}/>\n")
        else:
            out.append(f"{pad}<{name}>{_xml_text(text)}</{name}>\n")


def xml_document(value: dict[str, Php]) -> str:
    out = ['<?xml version="1.0"?>\n']
    _xml(value, 0, out)
    return "".join(out)
