"""RixAPI's unified async task API (also served by ElkAPI and ePhone), mounted at ``/rixapi``.

RixAPI is a new-api / one-api derivative: errors use that family's envelope with ``type``
``rix_api_error`` and, like new-api, a ``(request id: ...)`` suffix on the message.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from fakeapi.catalogue import Kind, Usage
from fakeapi.engine import ApiProfile, SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.http import (
    Route,
    authorize,
    compact_json,
    json_response,
    parse_body,
    read_json,
)
from fakeapi.providers.rixapi.catalogue import CATALOGUE
from fakeapi.providers.rixapi.wire import SubmitBody, TaskOut, TokenDetails, UsageOut
from fakeapi.randomness import Randomness
from fakeapi.webhooks import CallbackPolicy

STATUS_WORDS = {
    "queued": "queued",
    "running": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
}


def _details(values: dict[str, int]) -> TokenDetails | None:
    # The docs: zero-valued sub-fields are dropped, and an all-zero details object is dropped whole.
    kept = {k: v for k, v in values.items() if v}
    return TokenDetails(**kept) if kept else None


def _usage(usage: Usage) -> UsageOut:
    if usage.type == "duration":
        return UsageOut(type="duration", seconds=usage.seconds)
    return UsageOut(
        type="tokens",
        input_tokens=usage.input_tokens,
        input_token_details=_details(usage.input_token_details),
        output_tokens=usage.output_tokens,
        output_token_details=_details(usage.output_token_details),
        total_tokens=usage.input_tokens + usage.output_tokens,
    )


def render_task(view: TaskView) -> bytes:
    """The task in RixAPI's words."""
    finished = view.finished_at is not None
    out = TaskOut(
        id=view.id,
        status=STATUS_WORDS[view.state],
        created_at=int(view.created_at),
        completed_at=int(view.finished_at) if view.finished_at is not None else None,
        usage=_usage(view.usage) if finished and view.usage else None,
        outputs=list(view.outputs) if view.state == "succeeded" else None,
        error=view.error.message if view.state == "failed" and view.error is not None else None,
    )
    return out.model_dump_json(exclude_none=True).encode()


def _make_id(random: Randomness, now: float, kind: Kind) -> str:
    # The docs show only "task_abc123"; the real format is unknown, so keep the prefix.
    return "task_" + random.token(12)


PROFILE = ApiProfile(
    name="rixapi",
    make_id=_make_id,
    catalogue=CATALOGUE,
    # Undocumented: we retry a failed delivery 3 times, 10 s, 60 s and 300 s of clock time apart.
    callbacks=CallbackPolicy(on="every_change", timeout=10.0, retry_delays=(10.0, 60.0, 300.0)),
    render_callback=lambda view, _scenario: render_task(view),
)

_ERRORS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.UNAUTHORIZED: (401, ""),
    ErrorKind.MALFORMED_BODY: (400, "invalid_request"),
    ErrorKind.INVALID_REQUEST: (400, "invalid_request"),
    ErrorKind.UNKNOWN_MODEL: (400, ""),
    ErrorKind.NOT_FOUND: (404, "task_not_exist"),
    ErrorKind.ROUTE_NOT_FOUND: (404, ""),
    ErrorKind.METHOD_NOT_ALLOWED: (404, ""),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "invalid_request"),
    ErrorKind.INSUFFICIENT_CREDITS: (403, "insufficient_user_quota"),
    ErrorKind.PROMPT_REJECTED: (400, "prompt_rejected"),
    ErrorKind.RATE_LIMITED: (429, ""),
    ErrorKind.TOO_MANY_TASKS: (429, ""),
    ErrorKind.SERVER_ERROR: (500, ""),
    ErrorKind.UNAVAILABLE: (503, ""),
}


class RixApi:
    """The RixAPI provider."""

    profile = PROFILE
    mount = "/rixapi"

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/v1/task/submit", self.submit),
            Route("GET", "/v1/task/{task_id}", self.query),
        ]

    async def submit(self, request: web.Request) -> web.Response:
        engine, key, _ = authorize(request, PROFILE.name)
        body = parse_body(SubmitBody, await read_json(request))
        prompt = body.input.get("prompt")
        count = body.input.get("n")
        view = engine.submit(
            SubmitRequest(
                api=PROFILE.name,
                key=key,
                model=body.model,
                prompt=prompt if isinstance(prompt, str) else "",
                params=body.input,
                callback_url=body.callback_url,
                outputs=count if isinstance(count, int) and 1 <= count <= 10 else 1,
                headers=request.headers,
            )
        )
        return json_response(render_task(view))

    async def query(self, request: web.Request) -> web.Response:
        engine, key, _ = authorize(request, PROFILE.name)
        return json_response(render_task(engine.query(PROFILE.name, request.match_info["task_id"], key)))

    def error_response(self, error: FakeApiError, engine: TaskEngine) -> web.Response:
        status, code = _ERRORS[error.kind]
        message = _MESSAGES.get(error.kind, error.message)
        if error.kind is ErrorKind.INSUFFICIENT_CREDITS:
            body: dict[str, Any] = {
                "message": message,
                "type": "rix_api_error",
                "param": "",
                "code": code,
            }
        else:
            body = {"message": message, "type": "rix_api_error", "code": code}
        body["message"] += f" (request id: {_request_id(engine)})"
        return json_response(compact_json({"error": body}), status)


_MESSAGES = {
    # The one recorded real answer for an empty account (contracts.md section 1).
    ErrorKind.INSUFFICIENT_CREDITS: "预扣费额度失败, 用户剩余额度不足",
    ErrorKind.UNKNOWN_MODEL: "Model not support",
}


def _request_id(engine: TaskEngine) -> str:
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(engine.clock.now()))
    return stamp + engine.random.token(8)
