"""RixAPI's unified async task API (also served by ElkAPI and ePhone), mounted at ``/rixapi``.

RixAPI is a new-api / one-api derivative: errors use that family's envelope with ``type``
``rix_api_error`` and, like new-api, a ``(request id: ...)`` suffix on the message.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from fakeapi.accounts import Account
from fakeapi.catalogue import ACCEPT_UNKNOWN_HINT, Kind, UnknownModel, Usage
from fakeapi.contract.lifecycle import FieldByState, Job, Lifecycle, terminal_words
from fakeapi.engine import ApiProfile, SubmitRequest, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.media import format_extension
from fakeapi.providers.base import (
    AccountRoute,
    AnyRoute,
    ErrorContext,
    Incoming,
    Outcome,
    PollRoute,
    Provider,
    SubmitRoute,
    task_in_path,
)
from fakeapi.providers.rixapi.catalogue import CATALOGUE, kind_asked
from fakeapi.providers.rixapi.wire import (
    BillingUsage,
    ErrorEnvelope,
    RixStatus,
    SubmitBody,
    Subscription,
    Task,
    TokenDetails,
)
from fakeapi.randomness import Randomness
from fakeapi.scenario.schema import ApiSettings
from fakeapi.webhooks import CallbackPolicy
from fakeapi.wire import check_duration, compact_json, json_number, parse_body

STATUS_WORDS: dict[str, RixStatus] = {
    "queued": "queued",
    "running": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
}


DETAIL_KEYS = tuple(TokenDetails.model_fields)


def _details(values: dict[str, int]) -> dict[str, int] | None:
    # The docs: zero-valued sub-fields are dropped, and an all-zero details object is dropped whole.
    kept = {k: values[k] for k in DETAIL_KEYS if values.get(k)}
    return kept or None


def _usage(usage: Usage) -> dict[str, Any]:
    if usage.type == "duration":
        return {"type": "duration", "seconds": usage.seconds}
    out: dict[str, Any] = {"type": "tokens", "input_tokens": usage.input_tokens}
    if (details := _details(usage.input_token_details)) is not None:
        out["input_token_details"] = details
    out["output_tokens"] = usage.output_tokens
    if (details := _details(usage.output_token_details)) is not None:
        out["output_token_details"] = details
    out["total_tokens"] = usage.input_tokens + usage.output_tokens
    return out


def render_task(view: TaskView, settings: ApiSettings | None = None) -> bytes:
    """The task in RixAPI's words (``wire.Task``; fields that do not apply are left out). It depends
    on no setting; ``settings`` is there for the poll route's and the callback's signature."""
    out: dict[str, Any] = {
        "id": view.id,
        "status": STATUS_WORDS[view.state],
        "created_at": int(view.created_at),
    }
    if view.finished_at is not None:
        out["completed_at"] = int(view.finished_at)
        if view.state == "succeeded":
            out["outputs"] = list(view.outputs)
        if view.usage:
            out["usage"] = _usage(view.usage)
    if view.error is not None:
        out["error"] = view.error.text()
    return compact_json(out)


def _make_id(random: Randomness, now: float, kind: Kind) -> str:
    # The docs show only "task_abc123"; the real format is unknown, so keep the prefix.
    return "task_" + random.token(12)


PROFILE = ApiProfile(
    name="rixapi",
    make_id=_make_id,
    catalogue=CATALOGUE,
    # Undocumented: we retry a failed delivery 3 times, 10 s, 60 s and 300 s of clock time apart.
    callbacks=CallbackPolicy(on="every_change", timeout=10.0, retry_delays=(10.0, 60.0, 300.0)),
    render_callback=render_task,
)


# What new-api reports as the limit of a key with unlimited quota.
UNLIMITED_QUOTA_USD = 100_000_000


def render_subscription(account: Account, request: Incoming) -> bytes:
    """new-api's ``billing/subscription``: the scenario's balance is the key's quota in USD, and each
    limit is the whole of it, what remains plus what the key used (tasks running included)."""
    limit = UNLIMITED_QUOTA_USD if account.balance is None else json_number(account.balance + account.spent)
    return compact_json(
        {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": limit,
            "hard_limit_usd": limit,
            "system_hard_limit_usd": limit,
            "access_until": 0,
        }
    )


def render_billing_usage(account: Account, request: Incoming) -> bytes:
    """new-api's ``billing/usage``: what the key used since it began, in cents. Like new-api, it
    ignores the ``start_date`` and ``end_date`` OpenAI's clients send."""
    return compact_json({"object": "list", "total_usage": json_number((account.spent + account.held) * 100)})


class ErrorRow(NamedTuple):
    """What the API answers for one kind of error."""

    status: int
    code: str


ERRORS: dict[ErrorKind, ErrorRow] = {
    ErrorKind.UNAUTHORIZED: ErrorRow(401, ""),
    ErrorKind.MALFORMED_BODY: ErrorRow(400, "invalid_request"),
    ErrorKind.INVALID_REQUEST: ErrorRow(400, "invalid_request"),
    ErrorKind.UNKNOWN_MODEL: ErrorRow(400, ""),
    ErrorKind.NOT_FOUND: ErrorRow(404, "task_not_exist"),
    ErrorKind.ROUTE_NOT_FOUND: ErrorRow(404, ""),
    ErrorKind.METHOD_NOT_ALLOWED: ErrorRow(404, ""),
    ErrorKind.PAYLOAD_TOO_LARGE: ErrorRow(413, "invalid_request"),
    ErrorKind.INSUFFICIENT_CREDITS: ErrorRow(403, "insufficient_user_quota"),
    ErrorKind.PROMPT_REJECTED: ErrorRow(400, "prompt_rejected"),
    ErrorKind.RATE_LIMITED: ErrorRow(429, ""),
    ErrorKind.TOO_MANY_TASKS: ErrorRow(429, ""),
    ErrorKind.SERVER_ERROR: ErrorRow(500, ""),
    ErrorKind.UNAVAILABLE: ErrorRow(503, ""),
}
MESSAGES = {
    # The one recorded real answer for an empty account (contracts.md section 1).
    ErrorKind.INSUFFICIENT_CREDITS: "预扣费额度失败, 用户剩余额度不足",
    ErrorKind.UNKNOWN_MODEL: "Model not support",
}


def parse_submit(request: Incoming) -> SubmitRequest:
    body = parse_body(SubmitBody, request.json())
    check_duration(body.input.get("duration"), "input.duration")
    prompt = body.input.get("prompt")
    count = body.input.get("n")
    info = CATALOGUE.lookup(body.model)
    return SubmitRequest(
        api=PROFILE.name,
        key=request.key,
        model=body.model,
        prompt=prompt if isinstance(prompt, str) else "",
        params=body.input,
        callback_url=body.callback_url,
        outputs=count if isinstance(count, int) and 1 <= count <= 10 else info.outputs if info else 1,
        kind=kind_asked(body.model, body.input),
        ext=format_extension(body.input.get("output_format")),
        headers=request.headers,
    )


def _render(outcome: Outcome) -> bytes:
    return render_task(outcome.view)


def _body(model: str, callback_url: str | None, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": {"prompt": "a red fox in the snow", **more}}
    return body if callback_url is None else body | {"callback_url": callback_url}


TERMINAL = terminal_words(STATUS_WORDS)
LIFECYCLE = Lifecycle(
    task_id="id",
    status="status",
    words=STATUS_WORDS,
    fields=(
        FieldByState("completed_at", only=TERMINAL, required=TERMINAL),
        FieldByState("outputs", only=frozenset({"completed"}), required=frozenset({"completed"})),
        # Only some models report usage, and never before the end.
        FieldByState("usage", only=TERMINAL),
        FieldByState("error", only=frozenset({"failed"}), required=frozenset({"failed"})),
    ),
    timestamps={"created_at": "s", "completed_at": "s"},
    # The docs show only task_abc123.
    id_pattern=r"^task_[A-Za-z0-9]+$",
    # "Poll every 3-10 s" (ElkAPI's copy of the page).
    poll_every=3.0,
    # No prices are published: each job takes a model the docs name (an image model billed per call).
    jobs=(
        Job("image", "/v1/task/submit", ("flux-pro",), _body),
        Job(
            "video",
            "/v1/task/submit",
            ("kling-v3/text-to-video",),
            lambda model, url: _body(model, url, duration="5", aspect_ratio="16:9"),
        ),
    ),
    result_urls=lambda answer: list(answer.get("outputs") or []),
    unknown_id="task_000000000000",
)


class RixApi(Provider):
    """The RixAPI provider."""

    profile = PROFILE
    mount = "/rixapi"
    hosts = ("api.ephone.ai", "api.elkapi.com")
    errors = ERRORS
    error_model = ErrorEnvelope
    callback_model = Task
    lifecycle = LIFECYCLE

    def routes(self) -> Sequence[AnyRoute]:
        return [
            SubmitRoute(
                method="POST",
                path="/v1/task/submit",
                body="json",
                request=SubmitBody,
                answer=Task,
                parse=parse_submit,
                render=_render,
            ),
            PollRoute(
                method="GET",
                path="/v1/task/{task_id}",
                answer=Task,
                parse=task_in_path,
                render=render_task,
            ),
            # new-api serves its OpenAI-compatible billing routes with and without /v1.
            *(
                AccountRoute(method="GET", path=prefix + path, answer=answer, render=render)
                for prefix in ("/v1", "")
                for path, answer, render in (
                    ("/dashboard/billing/subscription", Subscription, render_subscription),
                    ("/dashboard/billing/usage", BillingUsage, render_billing_usage),
                )
            ),
        ]

    def render_error(self, error: FakeApiError, context: ErrorContext) -> tuple[int, bytes]:
        status, code = ERRORS[error.kind]
        message = MESSAGES.get(error.kind, error.message)
        if isinstance(error, UnknownModel):
            message = f"{message}; {ACCEPT_UNKNOWN_HINT}"
        if error.kind is ErrorKind.INSUFFICIENT_CREDITS:
            body: dict[str, Any] = {"message": message, "type": "rix_api_error", "param": "", "code": code}
        else:
            body = {"message": message, "type": "rix_api_error", "code": code}
        body["message"] += f" (request id: {_request_id(context)})"
        return status, compact_json({"error": body})


def _request_id(context: ErrorContext) -> str:
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(context.now))
    return stamp + context.random.token(8)
