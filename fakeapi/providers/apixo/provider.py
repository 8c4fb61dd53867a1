"""APIXO's generateTask / statusTask API, mounted at ``/apixo``.

Every answer is the ``{code, message, data}`` envelope with ``code`` mirroring the HTTP status;
times are Unix milliseconds and ``resultJson`` is a JSON *string*.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from pydantic import Field

from fakeapi.accounts import Account
from fakeapi.catalogue import ACCEPT_UNKNOWN_HINT, Kind, UnknownModel
from fakeapi.contract.lifecycle import FieldByState, Job, Lifecycle, terminal_words
from fakeapi.engine import ApiProfile, SubmitRequest, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.media import format_extension
from fakeapi.providers.apixo.catalogue import CATALOGUE, MODELS, price, undocumented_fields
from fakeapi.providers.apixo.wire import (
    BalanceAnswer,
    ErrorEnvelope,
    GenerateBody,
    StatusAnswer,
    SubmitAnswer,
)
from fakeapi.providers.base import (
    AccountRoute,
    AnyRoute,
    ErrorContext,
    Incoming,
    PollRoute,
    Provider,
    SubmitRoute,
    TaskRef,
)
from fakeapi.randomness import Randomness
from fakeapi.scenario.schema import ApiSettings, FailureSpec
from fakeapi.scenario.types import Duration, FailureReason
from fakeapi.webhooks import CallbackPolicy
from fakeapi.wire import check_duration, compact_json, parse_body

STATES = {"queued": "pending", "running": "processing", "succeeded": "success", "failed": "failed"}
DAY = 24 * 3600.0
# The one documented answer to a bad input (error-codes page).
MISSING = "Missing required field: {field}"
# An unlimited account still answers a number: this, less what the key has spent.
UNLIMITED_BALANCE = 1_000_000.0

# The two documented failCode generations: upper-snake (model pages, older error-codes page) and
# provider-style (newer errors page, whose list is cut short: reasons it does not cover keep the
# upper-snake code).
UPPER_SNAKE: dict[FailureReason, str] = {
    "generation_failed": "GENERATION_FAILED",
    "content_violation": "CONTENT_VIOLATION",
    "nsfw": "NSFW_DETECTED",
    "input_image_sensitive": "CONTENT_VIOLATION",
    "prohibited_content": "CONTENT_VIOLATION",
    "prompt_too_long": "PROMPT_TOO_LONG",
    "invalid_prompt": "INVALID_PROMPT",
    "invalid_image_url": "INVALID_IMAGE_URL",
    "image_too_large": "IMAGE_TOO_LARGE",
    "unsupported_format": "UNSUPPORTED_FORMAT",
    "image_download_failed": "IMAGE_DOWNLOAD_FAILED",
    "timeout": "PROCESSING_TIMEOUT",
    "model_unavailable": "MODEL_UNAVAILABLE",
    "insufficient_credits": "INSUFFICIENT_CREDITS",
}
PROVIDER_STYLE: dict[FailureReason, str] = {
    **UPPER_SNAKE,
    "content_violation": "SensitiveContentDetected",
    "nsfw": "NSFW",
    "input_image_sensitive": "InputImageSensitiveContentDetected",
    "prohibited_content": "ProhibitedContentDetected",
    "prompt_too_long": "PromptLengthExceeded",
}
DESCRIPTIONS: dict[FailureReason, str] = {
    "generation_failed": "Generation failed",
    "content_violation": "The request violates safety guidelines",
    "nsfw": "NSFW content detected",
    "input_image_sensitive": "The input image contains sensitive content",
    "prohibited_content": "Prohibited content detected",
    "prompt_too_long": "The prompt is too long",
    "invalid_prompt": "The prompt is invalid",
    "invalid_image_url": "The provided image URL could not be fetched",
    "image_too_large": "The image exceeds the 10 MB limit",
    "unsupported_format": "Unsupported image format; use JPEG, PNG or WebP",
    "image_download_failed": "The image could not be downloaded",
    "timeout": "Processing timed out",
    "model_unavailable": "The model is temporarily unavailable",
    "insufficient_credits": "Insufficient credits",
}


class ApixoSettings(ApiSettings):
    """APIXO's settings: its documented limits, and the choices its docs leave open."""

    rpm: int | None = Field(default=60, gt=0, description="requests per minute per key")
    max_concurrent: int | None = Field(default=10, gt=0, description="unfinished tasks per key")
    result_ttl: Duration | None = Field(default=DAY, description="how long result URLs stay valid")
    fail_codes: Literal["upper_snake", "provider"] = Field(
        default="upper_snake",
        description="failCode vocabulary: CONTENT_VIOLATION style (model pages) or SensitiveContent style",
    )
    balance_error: Literal[402, 400] = Field(
        default=402, description="402 'Insufficient balance' (errors page) or 400 'Insufficient credits'"
    )


def _settings(settings: ApiSettings) -> ApixoSettings:
    return settings if isinstance(settings, ApixoSettings) else ApixoSettings()


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _envelope(data: Any, code: int = 200, message: str = "success") -> bytes:
    return compact_json({"code": code, "message": message, "data": data})


def _fail_code(error: FailureSpec, vocabulary: str) -> str:
    if error.code is not None:
        return error.code
    return (PROVIDER_STYLE if vocabulary == "provider" else UPPER_SNAKE)[error.reason]


def task_data(view: TaskView, fail_codes: str = "upper_snake") -> dict[str, Any]:
    """The statusTask ``data`` object, fields in the order of the model pages."""
    data: dict[str, Any] = {"taskId": view.id, "state": STATES[view.state]}
    if view.state == "succeeded":
        data["resultJson"] = json.dumps({"resultUrls": list(view.outputs)}, separators=(",", ":"))
    elif view.error is not None:
        data["failCode"] = _fail_code(view.error, fail_codes)
        data["failMsg"] = view.error.text(DESCRIPTIONS)
    data["createTime"] = _ms(view.created_at)
    if view.finished_at is not None:
        data["completeTime"] = _ms(view.finished_at)
        # The failed example (webhook page) has completeTime but no costTime.
        if view.state == "succeeded":
            data["costTime"] = _ms(view.finished_at) - _ms(view.created_at)
    return data


def _make_id(random: Randomness, now: float, kind: Kind) -> str:
    # The docs show task_abc123xyz789-like ids only; we use 16 lowercase hex characters.
    return "task_" + random.token(16, "0123456789abcdef")


def _render_task(view: TaskView, settings: ApiSettings) -> bytes:
    return _envelope(task_data(view, _settings(settings).fail_codes))


PROFILE = ApiProfile(
    name="apixo",
    make_id=_make_id,
    catalogue=CATALOGUE,
    # Documented: one POST at the end, 200 within 30 s or up to 3 retries with growing delays;
    # only "1st retry: 30 s" survives in the docs, the later delays are ours.
    callbacks=CallbackPolicy(on="terminal", timeout=30.0, retry_delays=(30.0, 120.0, 300.0), accept="200"),
    render_callback=_render_task,
    settings=ApixoSettings,
    price=price,
)


def parse_generate(request: Incoming) -> SubmitRequest:
    model = request.params["model"]
    spec = MODELS.get(model)
    body = parse_body(GenerateBody, request.json(), missing=MISSING)
    params, outputs = dict(body.input), 1
    if spec is None:
        check_duration(params.get("duration"), "input.duration")
    else:
        parsed = parse_body(spec.input, body.input, "input", missing=MISSING)
        params, outputs = parsed.model_dump(exclude_none=True), parsed.outputs
        for name in undocumented_fields(parsed):
            request.note(f"input.{name} is not a documented field of {model}")
    for name in sorted(body.model_extra or {}):
        request.note(f"{name} is not a documented field of generateTask")
    if body.request_type == "async" and body.callback_url is not None:
        request.note("callback_url is ignored unless request_type is callback")
    prompt = params.get("prompt")
    return SubmitRequest(
        api=PROFILE.name,
        key=request.key,
        model=model,
        prompt=prompt if isinstance(prompt, str) else "",
        params={**params, "provider": body.provider, "request_type": body.request_type},
        callback_url=body.callback_url if body.request_type == "callback" else None,
        outputs=outputs,
        ext=format_extension(params.get("output_format")),
        headers=request.headers,
    )


def parse_status(request: Incoming) -> TaskRef:
    task_id = request.query.get("taskId")
    if not task_id:
        raise FakeApiError(ErrorKind.INVALID_REQUEST, "Missing required query parameter: taskId")
    return TaskRef(task_id, model=request.params["model"])


def render_balance(account: Account, request: Incoming) -> bytes:
    available = account.available
    remaining = UNLIMITED_BALANCE - account.spent - account.held if available is None else available
    return _envelope(round(remaining, 6))


class ErrorRow(NamedTuple):
    """What the API answers for one kind of error."""

    status: int
    message: str


ERRORS: dict[ErrorKind, ErrorRow] = {
    ErrorKind.UNAUTHORIZED: ErrorRow(401, "Invalid or missing API key"),
    ErrorKind.MALFORMED_BODY: ErrorRow(400, "Invalid request"),
    ErrorKind.INVALID_REQUEST: ErrorRow(400, "Invalid request"),
    ErrorKind.UNKNOWN_MODEL: ErrorRow(404, "Model not found"),
    ErrorKind.NOT_FOUND: ErrorRow(404, "Task not found"),
    ErrorKind.ROUTE_NOT_FOUND: ErrorRow(404, "Not found"),
    ErrorKind.METHOD_NOT_ALLOWED: ErrorRow(405, "Method not allowed"),
    ErrorKind.PAYLOAD_TOO_LARGE: ErrorRow(413, "Request entity too large"),
    ErrorKind.INSUFFICIENT_CREDITS: ErrorRow(402, "Insufficient balance"),
    ErrorKind.PROMPT_REJECTED: ErrorRow(400, "Invalid request"),
    ErrorKind.RATE_LIMITED: ErrorRow(429, "Rate limit exceeded"),
    ErrorKind.TOO_MANY_TASKS: ErrorRow(429, "Concurrent task limit exceeded"),
    ErrorKind.SERVER_ERROR: ErrorRow(500, "Internal server error"),
    ErrorKind.UNAVAILABLE: ErrorRow(503, "Service unavailable"),
}


def _body(input: dict[str, Any], callback_url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"input": {**input, "prompt": "a red fox in the snow"}}
    return body if callback_url is None else body | {"request_type": "callback", "callback_url": callback_url}


def _result_urls(answer: Any) -> list[str]:
    urls = json.loads(answer["data"]["resultJson"])["resultUrls"]
    return list(urls) if isinstance(urls, list) else []


TERMINAL = terminal_words(STATES)
FAILED = frozenset({"failed"})
LIFECYCLE = Lifecycle(
    task_id="data.taskId",
    status="data.state",
    words=STATES,
    fields=(
        FieldByState("data.resultJson", only=frozenset({"success"}), required=frozenset({"success"})),
        FieldByState("data.costTime", only=frozenset({"success"})),
        FieldByState("data.completeTime", only=TERMINAL, required=TERMINAL),
        FieldByState("data.failCode", only=FAILED, required=FAILED),
        FieldByState("data.failMsg", only=FAILED, required=FAILED),
    ),
    timestamps={"data.createTime": "ms", "data.completeTime": "ms"},
    # The docs show task_abc123xyz789, task_12345678.
    id_pattern=r"^task_[A-Za-z0-9]+$",
    # The async-workflow page: poll every 3-5 s, with backoff.
    poll_every=3.0,
    # The cheapest published price (nano-banana, $0.03 an image), and the shortest, lowest-resolution
    # video of a model whose page publishes none.
    jobs=(
        Job(
            "image",
            "/api/v1/generateTask/{model}",
            ("nano-banana",),
            lambda model, url: _body({"mode": "text-to-image"}, url),
        ),
        Job(
            "video",
            "/api/v1/generateTask/{model}",
            ("vidu-q3",),
            lambda model, url: _body({"mode": "text-to-video", "duration": 1, "resolution": "540p"}, url),
        ),
    ),
    result_urls=_result_urls,
    unknown_id="task_0000000000000000",
)


class ApixoApi(Provider):
    """The APIXO provider."""

    profile = PROFILE
    mount = "/apixo"
    hosts = ("api.apixo.ai",)
    errors = ERRORS
    error_model = ErrorEnvelope
    callback_model = StatusAnswer
    lifecycle = LIFECYCLE

    def routes(self) -> Sequence[AnyRoute]:
        return [
            SubmitRoute(
                method="POST",
                path="/api/v1/generateTask/{model}",
                body="json",
                request=GenerateBody,
                answer=SubmitAnswer,
                model_param="model",
                parse=parse_generate,
                render=lambda outcome: _envelope({"taskId": outcome.view.id}),
            ),
            PollRoute(
                method="GET",
                path="/api/v1/statusTask/{model}",
                answer=StatusAnswer,
                model_param="model",
                query=("taskId",),
                parse=parse_status,
                render=_render_task,
            ),
            AccountRoute(
                method="GET",
                path="/api/v1/apikeys/current-balance",
                answer=BalanceAnswer,
                render=render_balance,
            ),
        ]

    def render_error(self, error: FakeApiError, context: ErrorContext) -> tuple[int, bytes]:
        status, message = ERRORS[error.kind]
        if isinstance(error, UnknownModel):
            message = f"{message}; {ACCEPT_UNKNOWN_HINT}"
        data: Any = None
        if error.kind in (ErrorKind.INVALID_REQUEST, ErrorKind.MALFORMED_BODY):
            data = {"error": error.message}
        elif (
            error.kind is ErrorKind.INSUFFICIENT_CREDITS and _settings(context.settings).balance_error == 400
        ):
            # A model page (gpt-image-1) shows this older answer instead of 402.
            status, message = 400, "Insufficient credits"
        if error.kind is ErrorKind.UNAUTHORIZED:
            # The authentication page's answer has no data member.
            return status, compact_json({"code": status, "message": message})
        return status, _envelope(data, status, message)
