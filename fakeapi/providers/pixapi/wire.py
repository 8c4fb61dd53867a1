"""Pixapi's wire models: every body it receives or sends, as pydantic models.

Each is built on first use (``defer_build``): a request model at the first request that sends it,
the answer models only where answers are checked (tests, ``contract verify``, OpenAPI documents),
so none of them adds to ``fakeapi serve``'s start-up.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fakeapi.errors import FieldRule
from fakeapi.wire import MAX_DURATION

SIZE_PATTERN = r"^(\d{1,5}[xX]\d{1,5}|[124][kK]|auto)$"
SIZE = re.compile(SIZE_PATTERN)
# The sizes the docs name, in their words (no error text for a bad size is published).
SIZE_RULE = "must be auto, 1K, 2K, 4K or WIDTHxHEIGHT, e.g. 1024x1024, 1536x1024 or 2048x2048"


class ImageBody(BaseModel):
    """``images/generations`` and, from its form fields, ``images/edits``."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=32000)
    n: int = Field(default=1, ge=1, le=10)
    size: str = Field(default="auto", json_schema_extra={"pattern": SIZE_PATTERN})
    quality: Literal["low", "medium", "high", "auto"] | None = None
    response_format: Literal["url", "b64_json"] = "url"
    # OpenAI's field for its GPT Image models (Pixapi's pages do not list it; the fake notes it).
    output_format: Literal["png", "jpeg", "webp"] | None = None

    @field_validator("size")
    @classmethod
    def _documented_size(cls, value: str) -> str:
        # fullmatch: "$" alone also matches before a final newline ("1024x1024\n").
        if SIZE.fullmatch(value) is None:
            raise FieldRule("size", SIZE_RULE)
        return value


class VideoBody(BaseModel):
    """``async/videos/generations``."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=32000)
    duration: int | float | None = Field(default=None, gt=0, le=MAX_DURATION)
    size: str | None = None
    input_image: str | None = Field(default=None, pattern=r"^(https?://|data:image/)")


class LegacyBody(BaseModel):
    """The legacy Nano Banana-style ``images/generate`` and ``images/edit`` JSON bodies."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=32000)
    num: int = Field(default=1, ge=1, le=10)
    image_size: str | None = Field(default=None, description="an aspect ratio such as 1:1, or WxH")
    image: str | list[str] | None = None


# -- answers -------------------------------------------------------------------------------------

PixStatus = Literal["submitted", "processing", "completed", "failed"]
ErrorType = Literal[
    "invalid_request_error",
    "unauthorized",
    "insufficient_credits",
    "model_not_found",
    "not_found",
    "prompt_rejected",
    "rate_limited",
    "internal_error",
    "model_unavailable",
]
_ANSWER = ConfigDict(extra="forbid", strict=True, defer_build=True)


class SubmitAnswer(BaseModel):
    """``POST /v1/async/{images/generations,images/edits,videos/generations}`` 200 (note ``created_at``)."""

    model_config = _ANSWER

    status: Literal["submitted"]
    id: str
    progress: Literal[0]
    created_at: int
    model: str


class UrlItem(BaseModel):
    """One output: ``{url}``."""

    model_config = _ANSWER

    url: str


class B64Item(BaseModel):
    """One output with ``response_format: b64_json``: ``{b64_json}`` (a base64 image; PNG by default)."""

    model_config = _ANSWER

    b64_json: str


class TaskResult(BaseModel):
    """A completed task's ``result``."""

    model_config = _ANSWER

    type: Literal["image", "video"]
    data: list[UrlItem]


class TaskError(BaseModel):
    """A failed task's ``error``: the HTTP error the same problem gets at submit (numeric form)."""

    model_config = _ANSWER

    code: int
    message: str
    type: ErrorType


class Task(BaseModel):
    """``GET /v1/tasks/{id}`` 200 (note ``created``, not ``created_at``).

    ``credits_cost`` and ``result`` only when completed, ``error`` only when failed, ``completed``
    once terminal.
    """

    model_config = _ANSWER

    id: str
    status: PixStatus
    credits_cost: int | float | None = None
    model: str
    progress: int = Field(ge=0, le=100)
    result: TaskResult | None = None
    error: TaskError | None = None
    created: int
    completed: int | None = None


class SyncImagesAnswer(BaseModel):
    """``POST /v1/images/generations`` and ``/v1/images/edits`` 200: ``{created, data: [...]}``."""

    model_config = _ANSWER

    created: int
    data: list[UrlItem | B64Item]


class LegacyData(BaseModel):
    """``data`` of a legacy answer: one URL, or a list when more than one image was made."""

    model_config = _ANSWER

    url: str | list[str]


class LegacyAnswer(BaseModel):
    """``POST /v1/images/generate`` and ``/v1/images/edit`` 200: ``{code: 0, message: "ok", data: {url}}``."""

    model_config = _ANSWER

    code: Literal[0]
    message: Literal["ok"]
    data: LegacyData


class NumericErrorBody(BaseModel):
    """The default ``error``: ``code`` is the HTTP status, ``type`` the error's name."""

    model_config = _ANSWER

    code: int
    message: str
    type: ErrorType


class StringErrorBody(BaseModel):
    """The ``error`` with scenario option ``apis.pixapi.error_codes: string``: the name as ``code``."""

    model_config = _ANSWER

    code: ErrorType
    message: str


class ErrorEnvelope(BaseModel):
    """Every error answer (400, 401, 402, 404, 405, 413, 422, 429, 500, 503): ``{"error": {...}}``."""

    model_config = _ANSWER

    error: NumericErrorBody | StringErrorBody
