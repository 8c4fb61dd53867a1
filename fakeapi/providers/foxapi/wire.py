"""FoxAPI's wire models: every body it receives or sends, as pydantic models.

Each is built on first use (``defer_build``): a request model at the first request that sends it,
the answer models only where answers are checked (tests, ``contract verify``, OpenAPI documents),
so none of them adds to ``fakeapi serve``'s start-up.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fakeapi.errors import FieldRule
from fakeapi.wire import MAX_DURATION


class GenerationBody(BaseModel):
    """An image, video or audio submit: ``model`` and the model's own fields, flat."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    model: str = Field(min_length=1)
    # Same-template sites document a 2,048-character limit on callback URLs.
    callback_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    prompt: str | None = Field(default=None, min_length=1)
    num_outputs: int | None = Field(default=None, ge=1, le=10)
    image_urls: list[str] | None = None
    duration: int | float | None = Field(default=None, gt=0, le=MAX_DURATION)
    # Echoed into results (a character's name, a transcript's language, a video's seed): only short
    # text and 64-bit integers are.
    name: str | None = Field(default=None, min_length=1, max_length=256)
    language_code: str | None = Field(default=None, min_length=1, max_length=35)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)


class ImageBody(GenerationBody):
    """An image submit: ``output_format`` is one of the words the image pages list (grok-imagine-image's
    page names them)."""

    output_format: Literal["jpg", "jpeg", "png", "webp"] | None = None


class Message(BaseModel):
    """One chat message; ``content`` is text or a list of content blocks."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

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


# -- answers -------------------------------------------------------------------------------------

FoxStatus = Literal["pending", "processing", "completed", "failed"]
FoxType = Literal["image", "video", "audio", "llm"]
_ANSWER = ConfigDict(extra="forbid", strict=True, defer_build=True)


class UrlResult(BaseModel):
    """``results[i]`` of an image, video or audio task: ``{url}``; some models add ``content_type``
    (also the preview entries of ``minimax-voice-clone``: ``{url, content_type}``)."""

    model_config = _ANSWER

    url: str
    content_type: str | None = None


class UrlSeedResult(BaseModel):
    """``results[i]`` of a ``seedance-2.0*`` video: ``{url, seed}``."""

    model_config = _ANSWER

    url: str
    seed: int


class VoiceResult(BaseModel):
    """``results[0]`` of ``kling-video-create-voice`` and ``minimax-voice-clone``: ``{voice_id}``."""

    model_config = _ANSWER

    voice_id: str


class CharacterResult(BaseModel):
    """``results[0]`` of ``sora-2-character``: ``{character_id, name}``."""

    model_config = _ANSWER

    character_id: str
    name: str


class ProfileResult(BaseModel):
    """``results[0]`` of ``phota-create-profile``: ``{result_type: "profile", profile_id}``."""

    model_config = _ANSWER

    result_type: Literal["profile"]
    profile_id: str


class TranscriptWord(BaseModel):
    """One entry of a transcript's ``words``: a word or the spacing after it, in seconds."""

    model_config = _ANSWER

    text: str
    start: float
    end: float
    type: Literal["word", "spacing"]


class TranscriptResult(BaseModel):
    """``results[0]`` of ``scribe-v2`` / ``paraformer-v2``."""

    model_config = _ANSWER

    text: str
    language_code: str
    language_probability: float
    words: list[TranscriptWord]


class PbrMapResult(BaseModel):
    """A ``patina-pbr-maps`` / ``patina-material`` map.

    ``{url, content_type, result_type: "pbr_map", map_type}``.
    """

    model_config = _ANSWER

    url: str
    content_type: str
    result_type: Literal["pbr_map"]
    map_type: Literal["albedo", "normal", "roughness", "metallic", "height"]


class TextureResult(BaseModel):
    """A ``patina-material`` texture: ``{url, content_type, result_type: "texture"}``."""

    model_config = _ANSWER

    url: str
    content_type: str
    result_type: Literal["texture"]


class ChatMessage(BaseModel):
    """``choices[i].message`` of a chat completion."""

    model_config = _ANSWER

    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    model_config = _ANSWER

    index: int
    message: ChatMessage
    finish_reason: Literal["stop", "length"]


class ChatUsage(BaseModel):
    model_config = _ANSWER

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """An OpenAI ``chat.completion``: ``POST /v1/llm/generations`` 200 with ``sync: true`` (and no
    ``stream``), and ``results[0]`` of a completed LLM task."""

    model_config = _ANSWER

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage


Result = (
    UrlResult
    | UrlSeedResult
    | VoiceResult
    | CharacterResult
    | ProfileResult
    | TranscriptResult
    | PbrMapResult
    | TextureResult
    | ChatCompletion
)


class TaskError(BaseModel):
    """A failed task's ``error``."""

    model_config = _ANSWER

    code: str
    message: str
    type: Literal["task_error"]


class TaskInfo(BaseModel):
    """``task_info`` of a submit answer; ``estimated_time`` in seconds, null when the end is not known."""

    model_config = _ANSWER

    can_cancel: bool
    estimated_time: int | None


class TaskUsage(BaseModel):
    """``usage`` of the task object: the task's price and the key's group."""

    model_config = _ANSWER

    credits_reserved: int | float
    user_group: str


class StreamLink(BaseModel):
    """``stream`` of an LLM task submitted with ``stream: true``: where its event stream is served."""

    model_config = _ANSWER

    url: str


class Task(BaseModel):
    """The task object: the submit answer of ``POST /v1/{images,videos,audios,llm}/generations`` 200
    (with ``task_info``), ``GET /v1/tasks/{task_id}`` 200 and the callback body (without it).

    ``results`` is null until completed; ``error`` is null unless failed; ``stream`` only on LLM
    tasks, null unless submitted with ``stream: true``.
    """

    model_config = _ANSWER

    id: str
    object: Literal[
        "image.generation.task", "video.generation.task", "audio.generation.task", "llm.generation.task"
    ]
    type: FoxType
    model: str
    status: FoxStatus
    progress: int = Field(ge=0, le=100)
    created: int
    stream: StreamLink | None = None
    results: list[Result] | None
    error: TaskError | None
    task_info: TaskInfo | None = None
    usage: TaskUsage


class ChunkDelta(BaseModel):
    """``choices[i].delta`` of a chunk: the role first, then pieces of the content, then nothing."""

    model_config = _ANSWER

    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    model_config = _ANSWER

    index: int
    delta: ChunkDelta
    finish_reason: Literal["stop", "length"] | None


class ChatCompletionChunk(BaseModel):
    """An event of an LLM task's stream (``GET`` its ``stream.url``, ``text/event-stream``): each
    ``data:`` is an OpenAI ``chat.completion.chunk``, the last one with ``usage``; then ``[DONE]``."""

    model_config = _ANSWER

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: ChatUsage | None = None


Capability = Literal["text", "vision", "video", "audio", "file"]


class LlmModel(BaseModel):
    """A model of ``GET /v1/configs/llm_generations_models``: its id and what content it reads."""

    model_config = _ANSWER

    id: str
    capabilities: list[Capability]


class LlmModels(BaseModel):
    """``GET /v1/configs/llm_generations_models`` 200: the LLMs ``POST /v1/llm/generations`` takes."""

    model_config = _ANSWER

    object: Literal["list"]
    data: list[LlmModel]


class ErrorBody(BaseModel):
    """The ``error`` object; ``code`` only on submission-stage 422s."""

    model_config = _ANSWER

    code: str | None = None
    message: str
    type: Literal[
        "invalid_request_error",
        "authentication_error",
        "insufficient_quota",
        "not_found",
        "rate_limit_error",
        "server_error",
        "service_unavailable_error",
    ]


class ErrorEnvelope(BaseModel):
    """Every error answer (400, 401, 402, 404, 405, 413, 422, 429, 500, 503): ``{"error": {...}}``."""

    model_config = _ANSWER

    error: ErrorBody
