"""FoxAPI's wire models: every body it receives or sends, as pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fakeapi.errors import FieldRule


class GenerationBody(BaseModel):
    """An image, video or audio submit: ``model`` and the model's own fields, flat."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    # Same-template sites document a 2,048-character limit on callback URLs.
    callback_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    prompt: str | None = Field(default=None, min_length=1)
    num_outputs: int | None = Field(default=None, ge=1, le=10)
    image_urls: list[str] | None = None
    duration: int | float | None = Field(default=None, gt=0)


class Message(BaseModel):
    """One chat message; ``content`` is text or a list of content blocks."""

    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]]


class LlmBody(GenerationBody):
    """An LLM submit: ``prompt`` or ``messages``, optionally answered at once with ``sync``."""

    messages: list[Message] | None = Field(default=None, min_length=1)
    system_prompt: str | None = None
    sync: bool = False
    stream: bool = False
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> LlmBody:
        if self.prompt is None and self.messages is None:
            raise FieldRule("messages", "either prompt or messages is required")
        return self


class ErrorEnvelope(BaseModel):
    """Placeholder until the full wire models land."""

    error: dict[str, Any]
