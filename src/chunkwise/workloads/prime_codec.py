"""The compact JSON form of a run of ascending primes, and pure helpers to read it back.

A prime_list partial is a JSON object::

    {"count": 5761455, "first": 2, "last": 99999989,
     "encoding": "delta-leb128-base64", "data": "AgECAgQCBAIE..."}

`data` is standard base64 (RFC 4648, padded) of a byte string of unsigned LEB128
varints: the first varint is the first prime itself, each later one the gap to the
previous prime. LEB128 keeps 7 bits per byte, low bits first, and sets the high bit on
every byte but a number's last. Prime gaps stay below 128 up to 1.9e6 and below 256 up
to 3.9e11, so a prime costs about one byte: 1.33 base64 characters against ~9 for a
JSON number. `first`, `last` and `count` are stored beside the data so that a reader
can skip a whole partial, or report a summary, without decoding it. An empty run is
`{"count": 0, "first": null, "last": null, ...,"data": ""}`.

Reading never needs a whole list of Python ints: `iter_prime_blocks` decodes a partial
a block of base64 text at a time into numpy arrays. Paging through a job's result, which
skips whole partials by their counts, is the API's (`chunkwise.api.item_pages`): it
knows the counts without reading the partials.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]
UInt64Array = npt.NDArray[np.uint64]

ENCODING = "delta-leb128-base64"
MAX_VARINT_BYTES = 10
"""A uint64 needs at most ten 7-bit groups."""
DECODE_BLOCK_CHARS = 4 * 16_384
"""Base64 characters decoded at a time (a multiple of 4: blocks decode independently)."""


class PrimeCodecError(ValueError):
    """Raised when a prime_list partial is not a well-formed encoded run of primes."""


def _encode_varints(values: UInt64Array) -> bytes:
    """The unsigned LEB128 encoding of `values`, concatenated."""
    if values.size == 0:
        return b""
    if int(values.max()) < 0x80:  # the common case: every gap fits one byte
        return values.astype(np.uint8).tobytes()
    groups = np.ones(values.size, dtype=np.int64)
    for k in range(1, MAX_VARINT_BYTES):
        groups += (values >> np.uint64(7 * k)) > 0
    starts = np.cumsum(groups) - groups
    out = np.empty(int(groups.sum()), dtype=np.uint8)
    for k in range(int(groups.max())):
        has = groups > k
        seven = (values[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (groups[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + k] = (seven | more).astype(np.uint8)
    return out.tobytes()


def _decode_varints(raw: UInt8Array) -> UInt64Array:
    """The values of a byte string of complete LEB128 varints."""
    ends = np.flatnonzero(raw < 0x80)
    if ends.size == raw.size:
        return raw.astype(np.uint64)
    if ends.size == 0 or ends[-1] != raw.size - 1:
        raise PrimeCodecError("data ends inside a varint")
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if int(lengths.max()) > MAX_VARINT_BYTES:
        raise PrimeCodecError("a varint is longer than 10 bytes")
    position = np.arange(raw.size) - np.repeat(starts, lengths)
    parts = (raw & 0x7F).astype(np.uint64) << (7 * position).astype(np.uint64)
    result: UInt64Array = np.add.reduceat(parts, starts)
    return result


def encode_primes(primes: Int64Array) -> dict[str, Any]:
    """The partial holding `primes` (ascending, non-negative)."""
    count = int(primes.size)
    if count == 0:
        return {"count": 0, "first": None, "last": None, "encoding": ENCODING, "data": ""}
    deltas = primes.astype(np.uint64)
    deltas[1:] -= deltas[:-1].copy()
    return {
        "count": count,
        "first": int(primes[0]),
        "last": int(primes[-1]),
        "encoding": ENCODING,
        "data": base64.b64encode(_encode_varints(deltas)).decode("ascii"),
    }


def _data_of(partial: Mapping[str, Any]) -> str:
    if partial.get("encoding") != ENCODING or not isinstance(partial.get("data"), str):
        raise PrimeCodecError(f"not a {ENCODING} partial")
    data: str = partial["data"]
    return data


def iter_prime_blocks(partial: Mapping[str, Any]) -> Iterator[Int64Array]:
    """The primes of one partial, ascending, as int64 arrays of up to ~65,000 at a time.

    Memory stays bounded by the block, whatever the partial's size.
    """
    data = _data_of(partial)
    carry = np.zeros(0, dtype=np.uint8)
    previous = 0
    for at in range(0, len(data), DECODE_BLOCK_CHARS):
        try:
            piece = base64.b64decode(data[at : at + DECODE_BLOCK_CHARS], validate=True)
        except binascii.Error as exc:
            raise PrimeCodecError(f"data is not base64: {exc}") from None
        raw = np.concatenate((carry, np.frombuffer(piece, dtype=np.uint8)))
        terminators = np.flatnonzero(raw < 0x80)
        complete = int(terminators[-1]) + 1 if terminators.size else 0
        carry = raw[complete:]
        if complete:
            primes = np.cumsum(_decode_varints(raw[:complete])).astype(np.int64) + previous
            previous = int(primes[-1])
            yield primes
    if carry.size:
        raise PrimeCodecError("data ends inside a varint")


def decode_primes(partial: Mapping[str, Any]) -> Int64Array:
    """All primes of one partial as one int64 array (its `count` is checked)."""
    blocks = list(iter_prime_blocks(partial))
    primes = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)
    if primes.size != partial.get("count"):
        raise PrimeCodecError(f"data holds {primes.size} primes, count says {partial.get('count')}")
    return primes
