"""Bounds a deployment sets on a kind's parameters, declared by the kind itself.

Bounds are settings, which workloads may not import. So a kind declares each bound as a
`Limit` with a default, settings expose every registered kind's limits by name, and the
engine hands the deployment's values to validation as pydantic context.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import AfterValidator, BaseModel, ValidationInfo


@dataclass(frozen=True)
class Limit:
    """A bound a deployment may set on a kind's parameters, declared by the kind.

    Settings expose every registered kind's limits: `CHUNKWISE_<NAME>` (upper case)
    overrides the default, and the engine hands the values in as validation context.
    """

    name: str
    default: int
    description: str
    minimum: int = 1
    """The smallest value a deployment may set."""


LIMIT_NAME = re.compile(r"[a-z][a-z0-9_]*")
"""A limit's name is the tail of a variable name: CHUNKWISE_<NAME> upper-cased."""


def check_limit(limit: Any) -> None:
    """Raise ValueError unless `limit` is a Limit a deployment can set: a snake_case name,
    integer bounds, and a default no lower than its minimum."""
    if not isinstance(limit, Limit):
        raise ValueError(f"workload limit {limit!r} is not a Limit")
    if not LIMIT_NAME.fullmatch(limit.name):
        raise ValueError(f"workload limit name {limit.name!r} is not snake_case")
    bounds = (limit.default, limit.minimum)
    if not all(type(bound) is int for bound in bounds) or limit.default < limit.minimum:
        raise ValueError(
            f"workload limit {limit.name!r}: default {limit.default!r} is not an integer "
            f"at or above its minimum {limit.minimum!r}"
        )


def bounded_by(limit: Limit) -> AfterValidator:
    """Field metadata that holds an int field to the deployment's value of `limit`:
    `n: Annotated[int, bounded_by(MAX_N)]`."""

    def check(value: int, info: ValidationInfo) -> int:
        return within_limit(value, info, limit)

    _LIMIT_OF_CHECK[check] = limit
    return AfterValidator(check)


_LIMIT_OF_CHECK: dict[Callable[..., Any], Limit] = {}
"""Each `bounded_by` validator's Limit, so a model's bounded fields can be named."""


def bounded_fields(model: type[BaseModel]) -> dict[str, Limit]:
    """The model's fields that a Limit bounds, by field name: where a parameter schema
    shows the deployment's maximum, which validation checks but no schema could state."""
    return {
        name: _LIMIT_OF_CHECK[meta.func]
        for name, field in model.model_fields.items()
        for meta in field.metadata
        if isinstance(meta, AfterValidator) and meta.func in _LIMIT_OF_CHECK
    }


def within_limit(value: int, info: ValidationInfo, limit: Limit) -> int:
    """Check `value` against the deployment's bound, passed as pydantic context.

    Bounds are settings, which workloads may not import; the engine hands them in as the
    validation context under the limit's name. Without one, the declared default holds.
    """
    bound = int((info.context or {}).get(limit.name, limit.default))
    if value > bound:
        raise ValueError(f"Input should be less than or equal to {bound}")
    return value
