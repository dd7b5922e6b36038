"""What a JSON request body may be, checked before any route's parser sees it.

Python's JSON decoder recurses once per level of nesting, so a 60 KB body of 10,000
nested objects ends in RecursionError wherever it is parsed (a 500). The depth is
therefore measured first without parsing: brackets are counted outside strings, in one
pass and no recursion. Only a body within the depth is parsed, once, to find what a
parser would otherwise take silently or report badly: a key given twice (the last one
would win), an integer longer than Python converts (its generic "error parsing the body"),
and NaN or Infinity, which are not JSON.

A body that is not JSON at all passes: the route that reads it says so, in its own words.
"""

from __future__ import annotations

import json
import re
import sys
from itertools import accumulate
from typing import Any

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
"""A JSON string, escapes included (unrolled, so it never backtracks)."""
_BRACKETS = {"{": 1, "[": 1, "}": -1, "]": -1}
_NOT_BRACKETS = re.compile(r"[^{}\[\]]+")


class JsonBodyError(ValueError):
    """Raised when a JSON body is one the API refuses to parse or to take as given."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of objects and arrays in `text`, without parsing it."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    return max(accumulate(_BRACKETS[c] for c in brackets), default=0)


def check_json_body(body: bytes, *, max_depth: int) -> None:
    """Raise JsonBodyError if `body`, read as JSON, nests deeper than `max_depth` or holds a
    duplicate key, an integer with too many digits, or NaN/Infinity."""
    try:
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError:
        return  # not JSON: every parser refuses it before it could recurse
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JsonBodyError(
            f"body: JSON nested {depth} levels deep; at most {max_depth} (CHUNKWISE_MAX_JSON_DEPTH)"
        )
    try:
        json.loads(
            text,
            object_pairs_hook=_without_duplicates,
            parse_int=_int_of_few_digits,
            parse_constant=_no_constant,
        )
    except JsonBodyError:
        raise
    except ValueError:
        return  # not JSON: the route reports it


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise JsonBodyError(f"body: the key {json.dumps(key)} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def _int_of_few_digits(digits: str) -> int:
    most = sys.get_int_max_str_digits()
    length = len(digits.lstrip("-"))
    if most and length > most:
        raise JsonBodyError(
            f"body: a number has {length:,} digits, too long to read; at most {most:,}"
        )
    return int(digits)


def _no_constant(name: str) -> Any:
    raise JsonBodyError(f"body: {name} is not a JSON number")
