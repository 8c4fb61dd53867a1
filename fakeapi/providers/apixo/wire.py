"""APIXO's wire models: every body it receives or sends, as pydantic models.

Each is built on first use (``defer_build``): a request model at the first request that sends it,
the answer models only where answers are checked (tests, ``contract verify``, OpenAPI documents),
so none of them adds to ``fakeapi serve``'s start-up.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fakeapi.errors import FieldRule


class GenerateBody(BaseModel):
    """``POST /api/v1/generateTask/{model}``; ``input`` is checked by the model's own fields."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    request_type: Literal["async", "callback"] = "async"
    callback_url: str | None = Field(default=None, pattern=r"^https?://")
    provider: str = Field(default="auto", min_length=1)
    input: dict[str, Any]

    @model_validator(mode="after")
    def _callback_url_with_callback(self) -> GenerateBody:
        if self.request_type == "callback" and self.callback_url is None:
            raise FieldRule("callback_url", "required when request_type is callback")
        return self


# -- answers -------------------------------------------------------------------------------------

ApixoState = Literal["pending", "processing", "success", "failed"]


class SubmitData(BaseModel):
    """``data`` of a generateTask answer."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    taskId: str


class SubmitAnswer(BaseModel):
    """``POST /api/v1/generateTask/{model}`` 200: ``{code: 200, message: "success", data: {taskId}}``."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    code: Literal[200]
    message: Literal["success"]
    data: SubmitData


class TaskData(BaseModel):
    """``data`` of a statusTask answer (and of the callback body). Times are Unix milliseconds.

    ``resultJson`` (a JSON *string* ``{"resultUrls": [...]}``) and ``costTime`` only on ``success``;
    ``failCode``/``failMsg`` only on ``failed``; ``completeTime`` once terminal.
    """

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    taskId: str
    state: ApixoState
    resultJson: str | None = None
    failCode: str | None = None
    failMsg: str | None = None
    createTime: int
    completeTime: int | None = None
    costTime: int | None = None


class StatusAnswer(BaseModel):
    """``GET /api/v1/statusTask/{model}?taskId=`` 200 (also when the task failed) and the callback body."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    code: Literal[200]
    message: Literal["success"]
    data: TaskData


class BalanceAnswer(BaseModel):
    """``GET /api/v1/apikeys/current-balance`` 200: ``data`` is the balance in USD."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    code: Literal[200]
    message: Literal["success"]
    data: float


class ErrorData(BaseModel):
    """``data`` of a 400 answer: what was wrong with the request."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    error: str


class ErrorEnvelope(BaseModel):
    """Every error answer: ``code`` mirrors the HTTP status; ``data`` is null, or ``{"error": ...}``
    on a 400 bad request; the 401 answer (authentication page) has no ``data`` key at all."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    code: Literal[400, 401, 402, 404, 405, 413, 429, 500, 503]
    message: str
    data: ErrorData | None = None
