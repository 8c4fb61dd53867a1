"""Pixapi's wire models: every body it receives or sends, as pydantic models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SIZE_PATTERN = r"^(\d{1,5}[xX]\d{1,5}|[124][kK]|auto)$"


class ImageBody(BaseModel):
    """``images/generations`` and, from its form fields, ``images/edits``."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=32000)
    n: int = Field(default=1, ge=1, le=10)
    size: str = Field(default="auto", pattern=SIZE_PATTERN)
    quality: Literal["low", "medium", "high", "auto"] | None = None
    response_format: Literal["url", "b64_json"] = "url"


class VideoBody(BaseModel):
    """``async/videos/generations``."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=32000)
    duration: int | float | None = Field(default=None, gt=0)
    size: str | None = None
    input_image: str | None = Field(default=None, pattern=r"^(https?://|data:image/)")


class LegacyBody(BaseModel):
    """The legacy Nano Banana-style ``images/generate`` and ``images/edit`` JSON bodies."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=32000)
    num: int = Field(default=1, ge=1, le=10)
    image_size: str | None = Field(default=None, description="an aspect ratio such as 1:1, or WxH")
    image: str | list[str] | None = None


class ErrorEnvelope(BaseModel):
    """Placeholder until the full wire models land."""

    error: dict[str, object]
