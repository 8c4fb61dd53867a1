"""FoxAPI's unified generations API (the EvoLink template), mounted at ``/foxapi``.

Submit bodies are flat (``model`` plus the model's fields, no ``input`` wrapper); every submit
answers the task object, and ``GET /v1/tasks/{task_id}`` answers it as it stands.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from fakeapi.catalogue import Kind
from fakeapi.engine import ApiProfile, SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.http import (
    Route,
    authorize,
    compact_json,
    json_number,
    json_response,
    note,
    parse_body,
    read_json,
)
from fakeapi.providers.foxapi.catalogue import (
    CATALOGUE,
    KINDS,
    FoxModel,
    TaskType,
    chat_completion,
    lookup,
    results,
)
from fakeapi.providers.foxapi.wire import GenerationBody, LlmBody
from fakeapi.randomness import Randomness
from fakeapi.scenario import Scenario
from fakeapi.webhooks import CallbackPolicy

STATUS_WORDS = {"queued": "pending", "running": "processing", "succeeded": "completed", "failed": "failed"}
TYPES: dict[Kind, TaskType] = {kind: task_type for task_type, kind in KINDS.items()}
DAY = 24 * 3600.0


def prompt_text(params: Mapping[str, Any]) -> str:
    """A submit's text: its prompt, or its system prompt and text messages (for rules and token counts)."""
    messages = params.get("messages")
    parts = [params.get("system_prompt"), params.get("prompt")]
    parts += [m.get("content") for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    return "\n".join(p for p in parts if isinstance(p, str) and p)


def _model_of(view: TaskView) -> FoxModel:
    return lookup(view.model) or FoxModel(TYPES[view.kind])


def task_object(view: TaskView, task_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The task object in FoxAPI's words (the submit answer, the query answer, the callback body)."""
    model = _model_of(view)
    data: dict[str, Any] = {
        "id": view.id,
        "object": f"{model.type}.generation.task",
        "type": model.type,
        "model": view.model,
        "status": STATUS_WORDS[view.state],
        "progress": view.progress,
        "created": int(view.created_at),
    }
    if model.type == "llm":
        # stream: true is accepted but not emulated (the SSE path is not documented).
        data["stream"] = None
    data["results"] = _results(view, model) if view.state == "succeeded" else None
    data["error"] = None
    if view.state == "failed" and view.error is not None:
        data["error"] = {
            "code": view.error.code or view.error.reason,
            "message": view.error.message,
            "type": "task_error",
        }
    if task_info is not None:
        data["task_info"] = task_info
    data["usage"] = {"credits_reserved": json_number(view.cost), "user_group": "default"}
    return data


def _results(view: TaskView, model: FoxModel) -> list[dict[str, Any]]:
    if model.type != "llm":
        return results(model, view.id, view.params, view.outputs)
    max_tokens = view.params.get("max_tokens")
    finished = int(view.finished_at if view.finished_at is not None else view.created_at)
    tokens = max_tokens if isinstance(max_tokens, int) else None
    return [chat_completion(view.id, view.model, finished, prompt_text(view.params), tokens)]


def _render(view: TaskView, scenario: Scenario) -> bytes:
    return compact_json(task_object(view))


def _make_id(random: Randomness, now: float, kind: Kind) -> str:
    prefix = "task-llmrouter-" if kind == "text" else "task-unified-"
    return f"{prefix}{int(now)}-{random.token(8)}"


def _public_https(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" or not host or host == "localhost" or host.endswith((".localhost", ".local")):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True


PROFILE = ApiProfile(
    name="foxapi",
    make_id=_make_id,
    catalogue=CATALOGUE,
    # FoxAPI's own text is cut short; these numbers are stated by sites built on the same template.
    callbacks=CallbackPolicy(on="terminal", timeout=10.0, retry_delays=(1.0, 2.0, 4.0)),
    render_callback=_render,
    result_ttl=DAY,
)


class FoxApi:
    """The FoxAPI provider."""

    profile = PROFILE
    mount = "/foxapi"

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/v1/images/generations", self.images),
            Route("POST", "/v1/videos/generations", self.videos),
            Route("POST", "/v1/audios/generations", self.audios),
            Route("POST", "/v1/llm/generations", self.llm),
            Route("GET", "/v1/tasks/{task_id}", self.query),
        ]

    async def images(self, request: web.Request) -> web.Response:
        return await self._submit(request, "image")

    async def videos(self, request: web.Request) -> web.Response:
        return await self._submit(request, "video")

    async def audios(self, request: web.Request) -> web.Response:
        return await self._submit(request, "audio")

    async def llm(self, request: web.Request) -> web.Response:
        return await self._submit(request, "llm")

    async def _submit(self, request: web.Request, task_type: TaskType) -> web.Response:
        engine, key, _ = authorize(request, PROFILE.name)
        if request.content_type != "application/json":
            raise FakeApiError(ErrorKind.MALFORMED_BODY, "Content-Type must be application/json")
        data = await read_json(request)
        body = parse_body(LlmBody if task_type == "llm" else GenerationBody, data)
        model = lookup(body.model) or FoxModel(task_type)
        strict_callbacks = engine.scenario.apis.foxapi.public_https_callbacks
        if body.callback_url and strict_callbacks and not _public_https(body.callback_url):
            raise FakeApiError(
                ErrorKind.INVALID_REQUEST,
                "callback_url must be an HTTPS URL on a public address",
                param="callback_url",
            )
        params = body.model_dump(exclude_none=True, exclude={"model", "callback_url"})
        if isinstance(body, LlmBody) and body.stream:
            note(request, "stream: true is accepted but the fake does not emulate the SSE stream")
        view = engine.submit(
            SubmitRequest(
                api=PROFILE.name,
                key=key,
                model=body.model,
                prompt=prompt_text(params),
                params=params,
                callback_url=body.callback_url,
                outputs=model.outputs(params),
                kind=KINDS[task_type],
                headers=request.headers,
            )
        )
        if isinstance(body, LlmBody) and body.sync and not body.stream:
            return self._sync_answer(engine, view)
        task = engine.get(view.id)
        end = engine.projected_end(task)
        estimate = max(0, round(end - engine.clock.now())) if end is not None else None
        task_info = {"can_cancel": not view.terminal, "estimated_time": estimate}
        return json_response(compact_json(task_object(view, task_info)))

    def _sync_answer(self, engine: TaskEngine, view: TaskView) -> web.Response:
        # The real API waits for the model; the fake finishes the task at once.
        if not view.terminal:
            view = engine.complete(view.id)
        if view.state == "failed":
            message = view.error.message if view.error is not None else "generation failed"
            raise FakeApiError(ErrorKind.SERVER_ERROR, message)
        [completion] = _results(view, _model_of(view))
        return json_response(compact_json(completion))

    async def query(self, request: web.Request) -> web.Response:
        engine, key, _ = authorize(request, PROFILE.name)
        # sync_upstream asks the server to refresh a running task from upstream first; the fake's
        # stored state is always current, so it changes nothing.
        view = engine.query(PROFILE.name, request.match_info["task_id"], key)
        return json_response(compact_json(task_object(view)))

    def error_response(self, error: FakeApiError, engine: TaskEngine) -> web.Response:
        status, error_type, code = _ERRORS[error.kind]
        body: dict[str, Any] = {} if code is None else {"code": code}
        body["message"] = _MESSAGES.get(error.kind, error.message)
        body["type"] = error_type
        return json_response(compact_json({"error": body}), status)


_ERRORS: dict[ErrorKind, tuple[int, str, str | None]] = {
    ErrorKind.UNAUTHORIZED: (401, "authentication_error", None),
    ErrorKind.MALFORMED_BODY: (400, "invalid_request_error", None),
    ErrorKind.INVALID_REQUEST: (422, "invalid_request_error", "invalid_parameter"),
    ErrorKind.UNKNOWN_MODEL: (422, "invalid_request_error", "model_not_supported"),
    ErrorKind.NOT_FOUND: (404, "not_found", None),
    ErrorKind.ROUTE_NOT_FOUND: (404, "not_found", None),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "invalid_request_error", None),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "invalid_request_error", None),
    ErrorKind.INSUFFICIENT_CREDITS: (402, "insufficient_quota", None),
    ErrorKind.PROMPT_REJECTED: (422, "invalid_request_error", "prompt_rejected"),
    ErrorKind.RATE_LIMITED: (429, "rate_limit_error", None),
    ErrorKind.TOO_MANY_TASKS: (429, "rate_limit_error", None),
    ErrorKind.SERVER_ERROR: (500, "server_error", None),
    ErrorKind.UNAVAILABLE: (503, "service_unavailable_error", None),
}
_MESSAGES = {
    ErrorKind.UNAUTHORIZED: "Invalid or expired token",
    ErrorKind.INSUFFICIENT_CREDITS: "Insufficient account balance",
}
