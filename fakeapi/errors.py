"""Errors as data: the engine raises them, each provider renders them once in its own words."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

# Pydantic's words for "not a mapping" name Python's types or our model classes ("a valid dictionary or
# instance of GenerateBody"); the data came as JSON or YAML.
_NOT_AN_OBJECT = frozenset({"model_type", "dict_type", "dataclass_type"})


class ErrorKind(str, Enum):
    """What went wrong, independent of any API's wording."""

    UNAUTHORIZED = "unauthorized"
    MALFORMED_BODY = "malformed_body"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_MODEL = "unknown_model"
    NOT_FOUND = "not_found"
    ROUTE_NOT_FOUND = "route_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    PROMPT_REJECTED = "prompt_rejected"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_TASKS = "too_many_tasks"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"


class FakeApiError(Exception):
    """An error the fake answers with; ``param`` names the offending field where there is one."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        param: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        self.retry_after = retry_after


class FieldRule(ValueError):
    """Raised by a validator for a rule across fields; ``field`` is the one the error names."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class TaskStateError(Exception):
    """A control operation that the task's current state does not allow (e.g. completing it twice)."""


class ClockRefused(ValueError):
    """The clock cannot move as asked: backwards, past the last time it can show, or (a virtual
    clock) at a speed."""


class UnknownTask(KeyError):
    """A control operation or a lookup named a task id the fake never gave out (a ``KeyError``)."""


class ScenarioError(Exception):
    """A scenario file that cannot be loaded; the message names the file and the path inside it."""


class UsageError(Exception):
    """The fake was driven wrongly: a bad argument to a fixture method, an operation from the wrong
    place (a blocking clock shift on a running event loop). The message says what to do instead."""


class Problem(NamedTuple):
    """One pydantic error in the terms of the data it is about."""

    path: tuple[str | int, ...]
    """The keys and indexes of the data that lead to it (none: the data as a whole)."""
    message: str


def problem(error: ErrorDetails, data: Any = None) -> Problem:
    """``error`` as its path in ``data`` and a message without pydantic's words for Python.

    The path leaves out the tags pydantic adds to a location (union members such as ``int`` or
    ``list[str]``, validators such as ``function-after[...]``, tagged-union keys), keeping a key
    the data lacks only where the error is that it is missing. A ``FieldRule``'s path is the field
    it names (the validators of top-level models raise them). Without ``data`` the location is
    pydantic's, right for models with no unions. The message drops the ``Value error, `` and
    ``Assertion failed, `` before a validator's own words, and says ``an object`` where pydantic
    names a Python type or one of our classes.
    """
    cause = error.get("ctx", {}).get("error")
    loc = (cause.field,) if isinstance(cause, FieldRule) else error["loc"]
    if isinstance(cause, BaseException) and str(cause):
        message = str(cause)
    elif error["type"] in _NOT_AN_OBJECT:
        message = "Input should be an object"
    else:
        message = error["msg"]
    if data is None:
        return Problem(tuple(loc), message)
    absent_allowed = error["type"] == "missing" or isinstance(cause, FieldRule)
    return Problem(_data_path(data, loc, absent_allowed), message)


def _data_path(data: Any, loc: tuple[str | int, ...], absent_allowed: bool) -> tuple[str | int, ...]:
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif not (absent_allowed and index == len(loc) - 1):
            continue
        path.append(part)
    return tuple(path)


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as ``field: message`` parts joined by ``; `` (no URLs, no input echoed), for
    the admin API's and the fixture's models, which have no unions."""
    return "; ".join(
        f"{'.'.join(map(str, found.path)) or 'body'}: {found.message}" for found in map(problem, exc.errors())
    )
