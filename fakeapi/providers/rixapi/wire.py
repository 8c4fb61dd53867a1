"""RixAPI's wire models: every body it receives or sends, as pydantic models.

Each is built on first use (``defer_build``): a request model at the first request that sends it,
the answer models only where answers are checked (tests, ``contract verify``, OpenAPI documents),
so none of them adds to ``fakeapi serve``'s start-up.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SubmitBody(BaseModel):
    """``POST /v1/task/submit``. Unknown top-level fields are accepted, as the real API does."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    model: str = Field(min_length=1)
    input: dict[str, Any]
    callback_url: str | None = None

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value


RixStatus = Literal["queued", "in_progress", "completed", "failed"]


class TokenDetails(BaseModel):
    """``usage.input_token_details`` / ``usage.output_token_details``: zero-valued keys are left out."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    cached_tokens: int | None = None


class UsageOut(BaseModel):
    """A terminal task's ``usage``: ``type: tokens`` (token counts) or ``type: duration`` (``seconds``)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    type: Literal["tokens", "duration"]
    input_tokens: int | None = None
    input_token_details: TokenDetails | None = None
    output_tokens: int | None = None
    output_token_details: TokenDetails | None = None
    total_tokens: int | None = None
    seconds: float | None = None


class Task(BaseModel):
    """The task object: ``POST /v1/task/submit`` 200, ``GET /v1/task/{task_id}`` 200 and the callback body.

    ``completed_at`` only once terminal, ``outputs`` only when completed, ``usage`` only when
    terminal and the model reports it, ``error`` (a string) only when failed.
    """

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    id: str
    status: RixStatus
    created_at: int
    completed_at: int | None = None
    outputs: list[str] | None = None
    usage: UsageOut | None = None
    error: str | None = None


class Subscription(BaseModel):
    """``GET /v1/dashboard/billing/subscription`` 200, new-api's OpenAI-compatible shape: each limit is
    the key's whole quota (what remains plus what it used) in USD, ``100000000`` when unlimited;
    ``access_until`` ``0`` means the key never expires."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    object: Literal["billing_subscription"]
    has_payment_method: bool
    soft_limit_usd: float
    hard_limit_usd: float
    system_hard_limit_usd: float
    access_until: int


class BillingUsage(BaseModel):
    """``GET /v1/dashboard/billing/usage`` 200: ``total_usage`` is what the key used, in US cents."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    object: Literal["list"]
    total_usage: float


class ErrorBody(BaseModel):
    """The new-api family's ``error`` object; the message ends with ``(request id: ...)``.

    ``param`` (always ``""``) appears only in the 403 ``insufficient_user_quota`` answer.
    """

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    message: str
    type: Literal["rix_api_error"]
    param: str | None = None
    code: str


class ErrorEnvelope(BaseModel):
    """Every error answer (400, 401, 403, 404, 413, 429, 500, 503): ``{"error": {...}}``."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    error: ErrorBody
