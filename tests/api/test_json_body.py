"""The JSON body check (`api/json_body.py`) as a pure function: depth without parsing, then
duplicate keys, over-long integers and non-JSON constants."""

from __future__ import annotations

import time
from contextlib import nullcontext

import pytest

from chunkwise.api.json_body import JsonBodyError, check_json_body, nesting_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "}}}}", "b": [[{}]]}', 4),  # brackets in strings do not count
        (r'["\\", [1]]', 2),  # an escaped backslash ends before the quote
        (r'"\"[" [[]]', 2),  # an escaped quote does not end the string
        ("[" * 100 + "]" * 100, 100),
    ],
)
def test_the_depth_is_counted_outside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_a_body_within_the_depth_passes() -> None:
    check_json_body(b'{"kind": "sum_range", "params": {"n": 100}}', max_depth=2)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[[[1]]]", "body: JSON nested 3 levels deep; at most 2"),
        (b'{"a": 1, "b": {"c": 1, "c": 2}}', 'body: the key "c" appears twice'),
        (b'{"a": -' + b"1" * 4301 + b"}", "body: a number has 4,301 digits"),
        (b'{"a": NaN}', "body: NaN is not a JSON number"),
        (b"[-Infinity]", "body: -Infinity is not a JSON number"),
    ],
)
def test_what_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(JsonBodyError, match=message):
        check_json_body(body, max_depth=2)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"username=a%40b.co&password=x", b"\xff\xfe\xfd", "[1]".encode("utf-16")],
)
def test_a_body_that_is_not_json_or_not_utf8_is_left_to_the_route(body: bytes) -> None:
    check_json_body(body, max_depth=2)


def test_4300_digits_are_read() -> None:
    check_json_body(b"[" + b"9" * 4300 + b"]", max_depth=2)


@pytest.mark.parametrize(
    "body",
    [
        b'"' * 65536,
        b'"' + b"\\" * 65534 + b'"',
        b'"\\"' * 21_000,
        b"[" * 65536,
        b"[" + b"1," * 32_000 + b"1]",
    ],
)
def test_a_hostile_64_kib_body_is_checked_quickly(body: bytes) -> None:
    started = time.perf_counter()
    refused = body.startswith(b"[[")
    with pytest.raises(JsonBodyError) if refused else nullcontext():
        check_json_body(body, max_depth=32)
    assert time.perf_counter() - started < 1.0  # linear: milliseconds, with room to spare
