"""Wire helpers every provider shares: JSON in (errors in the fake's terms) and JSON out."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic_core
from pydantic import BaseModel, ValidationError

from fakeapi.errors import ErrorKind, FakeApiError, problem

M = TypeVar("M", bound=BaseModel)
# The longest output a request may ask for, in seconds: no API documents a bound, and billing an
# unbounded one overflows (1e308 seconds of video); an hour is far beyond any model's.
MAX_DURATION = 3600.0
# Only a number with an exponent or 309 digits can overflow a float: the body is searched for one
# before its values are, which keeps the common body's check to one regex scan.
_MAYBE_HUGE = re.compile(rb"[0-9][eE]|[0-9]{309}")


def bearer_key(headers: Mapping[str, str]) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or ``None`` (none, or bytes that are
    no UTF-8 text: aiohttp hands those on as surrogates, which no JSON answer could show)."""
    scheme, _, key = headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if not key or scheme.lower() != "bearer":
        return None
    return key if key.isascii() or _is_text(key) else None


def _is_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def load_json(raw: bytes) -> Any:
    """A request body parsed as JSON; anything that is not plain JSON is a ``malformed_body``.

    pydantic's parser, not ``json.loads``: four times as fast, and it refuses what ``json`` lets
    through to crash later: nesting deeper than 200 levels (``json`` raises ``RecursionError``),
    integers of more than 4,300 digits, ``NaN``/``Infinity`` and lone surrogates (which cannot be
    encoded again). A number too large for a float (``1e400``) is refused too.
    """
    try:
        data = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise FakeApiError(ErrorKind.MALFORMED_BODY, f"the request body is not valid JSON: {exc}") from None
    if _MAYBE_HUGE.search(raw) and not _finite(data):
        raise FakeApiError(
            ErrorKind.MALFORMED_BODY, "the request body is not valid JSON: a number is out of range"
        )
    return data


def _finite(data: Any) -> bool:
    """Whether no float in ``data`` is infinite (the parser refuses NaN and infinity literals)."""
    if isinstance(data, float):
        return math.isfinite(data)
    if isinstance(data, dict):
        return all(_finite(v) for v in data.values())
    if isinstance(data, list):
        return all(_finite(v) for v in data)
    return True


def parse_body(model: type[M], data: Any, *prefix: str, missing: str | None = None) -> M:
    """Validate a JSON body; the first problem becomes an ``invalid_request`` naming its field.

    ``prefix`` is the path of ``data`` inside the body; ``missing``, a format with ``{field}``,
    words a missing field the API's own way.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first, found = errors[0], problem(errors[0], data)
        # A union's members each report the value: the one that went deepest into it says the most.
        for error in errors[1:]:
            deeper = problem(error, data)
            if len(deeper.path) > len(found.path) and deeper.path[: len(found.path)] == found.path:
                first, found = error, deeper
        field = ".".join([*prefix, *map(str, found.path)])
        if missing is not None and first["type"] == "missing":
            message = missing.format(field=field)
        else:
            message = f"{field or 'body'}: {found.message}"
        raise FakeApiError(ErrorKind.INVALID_REQUEST, message, param=field or None) from None


def compact_json(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON, the way the real APIs send it (dataclasses and pydantic
    models too). One call into pydantic's serialiser: about five times as fast as ``json.dumps``."""
    return pydantic_core.to_json(data)


def json_number(value: float) -> float | int:
    """A money amount for JSON: whole numbers without ``.0``, others to six decimals."""
    rounded = round(value, 6)
    return int(rounded) if rounded.is_integer() else rounded


def check_duration(value: object, field: str) -> None:
    """Refuse a ``duration`` (a number or a numeric string, as documented examples send it) longer
    than ``MAX_DURATION`` as an ``invalid_request`` on ``field``; other odd values are the
    caller's to judge (billing falls back to a default for them)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return
    try:
        seconds = float(value)
    except ValueError:
        return
    if MAX_DURATION < seconds < math.inf:
        raise FakeApiError(
            ErrorKind.INVALID_REQUEST, f"{field}: must be at most {MAX_DURATION:.0f} seconds", param=field
        )
