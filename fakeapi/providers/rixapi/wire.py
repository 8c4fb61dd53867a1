"""RixAPI's wire models: every body it receives or sends, as pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SubmitBody(BaseModel):
    """``POST /v1/task/submit``. Unknown top-level fields are accepted, as the real API does."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    input: dict[str, Any]
    callback_url: str | None = None

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("callback_url must be an http(s) URL")
        return value


class TokenDetails(BaseModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    cached_tokens: int | None = None


class UsageOut(BaseModel):
    type: Literal["tokens", "duration"]
    input_tokens: int | None = None
    input_token_details: TokenDetails | None = None
    output_tokens: int | None = None
    output_token_details: TokenDetails | None = None
    total_tokens: int | None = None
    seconds: float | None = None


class TaskOut(BaseModel):
    """The task object: the submit answer, the query answer and the callback body."""

    id: str
    status: str
    created_at: int
    completed_at: int | None = None
    outputs: list[str] | None = None
    usage: UsageOut | None = None
    error: str | None = None


class ErrorEnvelope(BaseModel):
    """Every error answer: ``{"error": {...}}`` (placeholder until the full wire models land)."""

    error: dict[str, Any]
