"""APIXO's generateTask / statusTask API, mounted at ``/apixo``.

Every answer is the ``{code, message, data}`` envelope with ``code`` mirroring the HTTP status;
times are Unix milliseconds and ``resultJson`` is a JSON *string*.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from fakeapi.accounts import Caps
from fakeapi.catalogue import Kind
from fakeapi.engine import ApiProfile, SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.http import (
    Route,
    authorize,
    compact_json,
    json_response,
    note,
    parse_body,
    read_json,
)
from fakeapi.providers.apixo.catalogue import CATALOGUE, MODELS, undocumented_fields
from fakeapi.providers.apixo.wire import GenerateBody
from fakeapi.randomness import Randomness
from fakeapi.scenario import FailureReason, FailureSpec, Scenario
from fakeapi.webhooks import CallbackPolicy

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
    elif view.state == "failed" and view.error is not None:
        data["failCode"] = _fail_code(view.error, fail_codes)
        explicit = "message" in view.error.model_fields_set
        data["failMsg"] = view.error.message if explicit else DESCRIPTIONS[view.error.reason]
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


def _render(view: TaskView, scenario: Scenario) -> bytes:
    return _envelope(task_data(view, scenario.apis.apixo.fail_codes))


PROFILE = ApiProfile(
    name="apixo",
    make_id=_make_id,
    catalogue=CATALOGUE,
    # Documented: one POST at the end, 200 within 30 s or up to 3 retries with growing delays;
    # only "1st retry: 30 s" survives in the docs, the later delays are ours.
    callbacks=CallbackPolicy(on="terminal", timeout=30.0, retry_delays=(30.0, 120.0, 300.0), accept="200"),
    render_callback=_render,
    caps=Caps(rpm=60, max_concurrent=10),
    result_ttl=DAY,
)


class ApixoApi:
    """The APIXO provider."""

    profile = PROFILE
    mount = "/apixo"

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/api/v1/generateTask/{model}", self.generate),
            Route("GET", "/api/v1/statusTask/{model}", self.status),
            Route("GET", "/api/v1/apikeys/current-balance", self.balance),
        ]

    async def generate(self, request: web.Request) -> web.Response:
        engine, key, _ = authorize(request, PROFILE.name)
        model = request.match_info["model"]
        engine.check_model(PROFILE.name, model)
        spec = MODELS.get(model)
        body = parse_body(GenerateBody, await read_json(request), missing=MISSING)
        params, outputs = dict(body.input), 1
        if spec is not None:
            parsed = parse_body(spec.input, body.input, "input", missing=MISSING)
            params, outputs = parsed.model_dump(exclude_none=True), parsed.outputs
            for name in undocumented_fields(parsed):
                note(request, f"input.{name} is not a documented field of {model}")
        for name in sorted(body.model_extra or {}):
            note(request, f"{name} is not a documented field of generateTask")
        if body.request_type == "async" and body.callback_url is not None:
            note(request, "callback_url is ignored unless request_type is callback")
        prompt = params.get("prompt")
        view = engine.submit(
            SubmitRequest(
                api=PROFILE.name,
                key=key,
                model=model,
                prompt=prompt if isinstance(prompt, str) else "",
                params={**params, "provider": body.provider, "request_type": body.request_type},
                callback_url=body.callback_url if body.request_type == "callback" else None,
                outputs=outputs,
                headers=request.headers,
            )
        )
        return json_response(_envelope({"taskId": view.id}))

    async def status(self, request: web.Request) -> web.Response:
        engine, key, _ = authorize(request, PROFILE.name)
        model = request.match_info["model"]
        engine.check_model(PROFILE.name, model)
        task_id = request.query.get("taskId")
        if not task_id:
            raise FakeApiError(ErrorKind.INVALID_REQUEST, "Missing required query parameter: taskId")
        view = engine.query(PROFILE.name, task_id, key, model=model)
        return json_response(_envelope(task_data(view, engine.scenario.apis.apixo.fail_codes)))

    async def balance(self, request: web.Request) -> web.Response:
        _, _, account = authorize(request, PROFILE.name)
        available = account.available
        remaining = UNLIMITED_BALANCE - account.spent - account.held if available is None else available
        return json_response(_envelope(round(remaining, 6)))

    def error_response(self, error: FakeApiError, engine: TaskEngine) -> web.Response:
        status, message = _ERRORS[error.kind]
        data: Any = None
        if error.kind in (ErrorKind.INVALID_REQUEST, ErrorKind.MALFORMED_BODY):
            data = {"error": error.message}
        elif error.kind is ErrorKind.INSUFFICIENT_CREDITS and engine.scenario.apis.apixo.balance_error == 400:
            # A model page (gpt-image-1) shows this older answer instead of 402.
            status, message = 400, "Insufficient credits"
        if error.kind is ErrorKind.UNAUTHORIZED:
            # The authentication page's answer has no data member.
            body = compact_json({"code": status, "message": message})
        else:
            body = _envelope(data, status, message)
        return json_response(body, status)


_ERRORS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.UNAUTHORIZED: (401, "Invalid or missing API key"),
    ErrorKind.MALFORMED_BODY: (400, "Invalid request"),
    ErrorKind.INVALID_REQUEST: (400, "Invalid request"),
    ErrorKind.UNKNOWN_MODEL: (404, "Model not found"),
    ErrorKind.NOT_FOUND: (404, "Task not found"),
    ErrorKind.ROUTE_NOT_FOUND: (404, "Not found"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "Method not allowed"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "Request entity too large"),
    ErrorKind.INSUFFICIENT_CREDITS: (402, "Insufficient balance"),
    ErrorKind.PROMPT_REJECTED: (400, "Invalid request"),
    ErrorKind.RATE_LIMITED: (429, "Rate limit exceeded"),
    ErrorKind.TOO_MANY_TASKS: (429, "Concurrent task limit exceeded"),
    ErrorKind.SERVER_ERROR: (500, "Internal server error"),
    ErrorKind.UNAVAILABLE: (503, "Service unavailable"),
}
