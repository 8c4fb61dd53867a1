"""APIXO's wire models: every body it receives or sends, as pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fakeapi.errors import FieldRule


class GenerateBody(BaseModel):
    """``POST /api/v1/generateTask/{model}``; ``input`` is checked by the model's own fields."""

    model_config = ConfigDict(extra="allow", strict=True)

    request_type: Literal["async", "callback"] = "async"
    callback_url: str | None = Field(default=None, pattern=r"^https?://")
    provider: str = Field(default="auto", min_length=1)
    input: dict[str, Any]

    @model_validator(mode="after")
    def _callback_url_with_callback(self) -> GenerateBody:
        if self.request_type == "callback" and self.callback_url is None:
            raise FieldRule("callback_url", "required when request_type is callback")
        return self


class ErrorEnvelope(BaseModel):
    """Placeholder until the full wire models land."""

    code: int
