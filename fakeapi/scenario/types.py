"""The building blocks of the scenario format: durations, counts, states and failure reasons."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """``30``, ``"30s"``, ``"1.5m"``, ``"250ms"``, ``"2h"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '30s' or '2m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError("a duration is a number of seconds or a string such as '30s' or '2m'")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a duration must be a finite, non-negative number of seconds")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def registered_api(name: str) -> str:
    """``name`` if an API of that name is registered (a misspelt one would match nothing)."""
    from fakeapi.providers.registry import REGISTRY  # the providers import the engine, which imports this

    names = [provider.name for provider in REGISTRY.providers()]
    if name not in names:
        raise ValueError(f"no API named {name!r}: the APIs are {', '.join(names)}")
    return name


ApiName = Annotated[str, AfterValidator(registered_api)]
CanonicalState = Literal["queued", "running", "succeeded", "failed"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed"})
Curve = Literal["linear", "ease_in", "ease_out", "ease_in_out"]


class Model(BaseModel):
    """A part of a scenario file: unknown keys refused, immutable once loaded."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def one_or_more(value: object) -> object:
    return value if isinstance(value, list) else [value]


Nth = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1), BeforeValidator(one_or_more)]

FailureReason = Literal[
    "generation_failed",
    "content_violation",
    "nsfw",
    "input_image_sensitive",
    "prohibited_content",
    "prompt_too_long",
    "invalid_prompt",
    "invalid_image_url",
    "image_too_large",
    "unsupported_format",
    "image_download_failed",
    "timeout",
    "model_unavailable",
    "insufficient_credits",
]
