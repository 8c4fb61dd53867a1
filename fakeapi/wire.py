"""Wire helpers every provider shares: JSON in (errors in the fake's terms) and JSON out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic_core
from pydantic import BaseModel, ValidationError

from fakeapi.errors import ErrorKind, FakeApiError, FieldRule

M = TypeVar("M", bound=BaseModel)


def bearer_key(headers: Mapping[str, str]) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or ``None``."""
    scheme, _, key = headers.get("Authorization", "").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def load_json(raw: bytes) -> Any:
    """A request body parsed as JSON; malformed JSON is a ``malformed_body``."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FakeApiError(ErrorKind.MALFORMED_BODY, f"the request body is not valid JSON: {exc}") from None


def parse_body(model: type[M], data: Any, *prefix: str, missing: str | None = None) -> M:
    """Validate a JSON body; the first problem becomes an ``invalid_request`` naming its field.

    ``prefix`` is the path of ``data`` inside the body; ``missing``, a format with ``{field}``,
    words a missing field the API's own way.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        rule = first.get("ctx", {}).get("error")
        loc = (rule.field,) if isinstance(rule, FieldRule) else first["loc"]
        field = ".".join([*prefix, *(str(p) for p in loc)])
        if missing is not None and first["type"] == "missing":
            message = missing.format(field=field)
        else:
            reason = str(rule) if isinstance(rule, FieldRule) else first["msg"]
            message = f"{field}: {reason}" if field else reason
        raise FakeApiError(ErrorKind.INVALID_REQUEST, message, param=field or None) from None


def compact_json(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON, the way the real APIs send it (dataclasses and pydantic
    models too). One call into pydantic's serialiser: about five times as fast as ``json.dumps``."""
    return pydantic_core.to_json(data)


def json_number(value: float) -> float | int:
    """A money amount for JSON: whole numbers without ``.0``, others to six decimals."""
    rounded = round(value, 6)
    return int(rounded) if rounded.is_integer() else rounded
