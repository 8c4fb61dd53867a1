"""Errors as data: the engine raises them, each provider renders them once in its own words."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


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


class ScenarioError(Exception):
    """A scenario file that cannot be loaded; the message names the file and the path inside it."""


class UsageError(Exception):
    """The fake was driven wrongly: a bad argument to a fixture method, an operation from the wrong
    place (a blocking clock shift on a running event loop). The message says what to do instead."""


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as ``field: message`` parts joined by ``; `` (no URLs, no input echoed)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
