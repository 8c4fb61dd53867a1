"""FoxAPI's unified generations API (the EvoLink template), mounted at ``/foxapi``.

Submit bodies are flat (``model`` plus the model's fields, no ``input`` wrapper); every submit
answers the task object, and ``GET /v1/tasks/{task_id}`` answers it as it stands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import Field

from fakeapi.accounts import Account
from fakeapi.addresses import literal, local_name, refusal
from fakeapi.catalogue import Kind
from fakeapi.contract.lifecycle import FieldByState, Job, Lifecycle
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
    TaskRef,
    task_in_path,
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
from fakeapi.providers.foxapi.wire import (
    Capability,
    ChatCompletion,
    ChatCompletionChunk,
    ErrorEnvelope,
    GenerationBody,
    ImageBody,
    LlmBody,
    LlmModels,
    Task,
)
from fakeapi.randomness import Randomness
from fakeapi.scenario.schema import ApiSettings
from fakeapi.scenario.types import Duration
from fakeapi.webhooks import CallbackPolicy
from fakeapi.wire import compact_json, json_number, parse_body

STATUS_WORDS = {"queued": "pending", "running": "processing", "succeeded": "completed", "failed": "failed"}
TYPES: dict[Kind, TaskType] = {kind: task_type for task_type, kind in KINDS.items()}
DAY = 24 * 3600.0
ENDPOINTS: dict[str, TaskType] = {"images": "image", "videos": "video", "audios": "audio", "llm": "llm"}
BODIES: dict[TaskType, type[GenerationBody]] = {
    "image": ImageBody,
    "video": GenerationBody,
    "audio": GenerationBody,
    "llm": LlmBody,
}
MOUNT = "/foxapi"
# Not documented: the docs only say that stream.url is "the SSE subscription path".
STREAM_PATH = "/v1/tasks/{task_id}/stream"
# The llm-custom page's model whitelist and what content each reads (its content-type table: image
# blocks are "vision"); the llm-text page's gemini-2.5-pro reads what the other Gemini models do.
LLM_CAPABILITIES: dict[str, tuple[Capability, ...]] = {
    "gpt-5.4": ("text", "vision"),
    "gpt-5.5": ("text", "vision"),
    "kimi-k2.6": ("text", "vision"),
    "claude-opus-4-6": ("text", "vision", "file"),
    "claude-opus-4-7": ("text", "vision", "file"),
    "claude-sonnet-4-6": ("text", "vision", "file"),
    "gemini-2.5-pro": ("text", "vision", "video", "audio", "file"),
    "gemini-3-pro-preview": ("text", "vision", "video", "audio", "file"),
    "gemini-3.1-pro-preview": ("text", "vision", "video", "audio", "file"),
}
BOOLEAN_WORDS = frozenset({"true", "false", "1", "0"})


class FoxapiSettings(ApiSettings):
    """FoxAPI's settings: result URLs live a day, and the callback rule its docs state."""

    result_ttl: Duration | None = Field(default=DAY, description="how long result URLs stay valid")
    public_https_callbacks: bool = Field(
        default=False,
        description="refuse callback URLs that are not HTTPS on a public address, as the real service does",
    )


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
        data["stream"] = {"url": _stream_url(view)} if view.params.get("stream") is True else None
    data["results"] = _results(view, model) if view.state == "succeeded" else None
    data["error"] = None
    if view.error is not None:
        data["error"] = {
            "code": view.error.code or view.error.reason,
            "message": view.error.text(),
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


def _render_task(view: TaskView, settings: ApiSettings) -> bytes:
    return compact_json(task_object(view))


def _stream_url(view: TaskView) -> str:
    return view.base_url + MOUNT + STREAM_PATH.format(task_id=view.id)


DONE = b"data: [DONE]\n\n"
# What the stream answers before the task ends: the connection closes at once (the fake holds no
# request open), telling an EventSource to connect again a second later.
PENDING = b"retry: 1000\n: %s\n\n"


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + compact_json(data) + b"\n\n"


def check_stream(view: TaskView) -> None:
    """Refuse a task that has no event stream: only an LLM task submitted with ``stream`` has one."""
    if view.params.get("stream") is not True or _model_of(view).type != "llm":
        raise FakeApiError(ErrorKind.NOT_FOUND, f"task {view.id} has no stream", param="task_id")


def render_stream(view: TaskView, settings: ApiSettings) -> bytes:
    """An LLM task's event stream (``text/event-stream``; ``check_stream`` refuses other tasks): once
    it has ended, the whole of it, its completion as ``chat.completion.chunk`` events (or its error)
    and ``[DONE]``; before, nothing but a comment with its status and how soon to ask again."""
    if not view.terminal:
        return PENDING % STATUS_WORDS[view.state].encode()
    if view.error is not None:
        return _event({"error": task_object(view)["error"]}) + DONE
    [completion] = _results(view, _model_of(view))
    head = {**completion, "object": "chat.completion.chunk"}
    head = {key: head[key] for key in ("id", "object", "created", "model")}
    [choice] = completion["choices"]

    def chunk(delta: dict[str, str], finish: str | None = None, **more: Any) -> bytes:
        return _event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more})

    words = choice["message"]["content"].split(" ")
    pieces = [word + " " for word in words[:-1]] + words[-1:]
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces if piece]
    events.append(chunk({}, choice["finish_reason"], usage=completion["usage"]))
    return b"".join(events) + DONE


@cache
def _llm_models() -> bytes:
    models = [
        {"id": model, "capabilities": list(capabilities)}
        for model, capabilities in LLM_CAPABILITIES.items()
        if (found := lookup(model)) is not None and found.type == "llm"
    ]
    return compact_json({"object": "list", "data": models})


def render_llm_models(account: Account, request: Incoming) -> bytes:
    """``GET /v1/configs/llm_generations_models``: the documented LLMs the catalogue takes. The real
    list is the key's (its group's channels); every key of the fake may use every model."""
    return _llm_models()


def parse_poll(request: Incoming) -> TaskRef:
    """The task a query names; its optional ``sync_upstream`` must be a boolean."""
    flag = request.query.get("sync_upstream")
    if flag is not None and flag.lower() not in BOOLEAN_WORDS:
        raise FakeApiError(
            ErrorKind.INVALID_REQUEST, "sync_upstream must be true or false", param="sync_upstream"
        )
    return task_in_path(request)


def _make_id(random: Randomness, now: float, kind: Kind) -> str:
    prefix = "task-llmrouter-" if kind == "text" else "task-unified-"
    return f"{prefix}{int(now)}-{random.token(8)}"


def _public_https(url: str) -> bool:
    """Whether ``url`` is HTTPS to a host that is not obviously private: no local name, and no
    literal address that is or carries (IPv4-mapped, NAT64) a private one. A host name passes
    here whatever it resolves to; ``webhooks.block_private`` checks the address connected to."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme != "https" or not host or local_name(host):
        return False
    address = literal(host)
    return address is None or refusal(address) is None


PROFILE = ApiProfile(
    name="foxapi",
    make_id=_make_id,
    catalogue=CATALOGUE,
    # FoxAPI's own text is cut short; these numbers are stated by sites built on the same template.
    callbacks=CallbackPolicy(on="terminal", timeout=10.0, retry_delays=(1.0, 2.0, 4.0)),
    render_callback=_render_task,
    settings=FoxapiSettings,
)


def _parser(task_type: TaskType) -> Callable[[Incoming], SubmitRequest]:
    def parse(request: Incoming) -> SubmitRequest:
        if request.content_type != "application/json":
            raise FakeApiError(ErrorKind.MALFORMED_BODY, "Content-Type must be application/json")
        body = parse_body(BODIES[task_type], request.json())
        model = lookup(body.model) or FoxModel(task_type)
        settings = request.settings
        strict = isinstance(settings, FoxapiSettings) and settings.public_https_callbacks
        if body.callback_url and strict and not _public_https(body.callback_url):
            raise FakeApiError(
                ErrorKind.INVALID_REQUEST,
                "callback_url must be an HTTPS URL on a public address",
                param="callback_url",
            )
        params = body.model_dump(exclude_none=True, exclude={"model", "callback_url"})
        if isinstance(body, LlmBody) and body.sync and body.stream:
            request.note(
                "sync with stream: the real API answers this submit with the event stream itself; "
                "the fake answers the task, whose stream.url serves the same events"
            )
        return SubmitRequest(
            api=PROFILE.name,
            key=request.key,
            model=body.model,
            prompt=prompt_text(params),
            params=params,
            callback_url=body.callback_url,
            outputs=model.outputs(params),
            kind=KINDS[task_type],
            ext=format_extension(params.get("output_format")),
            headers=request.headers,
            # The real API waits for the model; the fake runs the task to its scripted end.
            sync=isinstance(body, LlmBody) and body.sync and not body.stream,
        )

    return parse


def render_submitted(outcome: Outcome) -> bytes:
    """The submit answer: the task object with ``task_info``, or a sync LLM request's completion."""
    view = outcome.view
    if outcome.waited:
        [completion] = _results(view, _model_of(view))
        return compact_json(completion)
    end = outcome.expected_end
    estimate = max(0, round(end - outcome.now)) if end is not None else None
    task_info = {"can_cancel": not view.terminal, "estimated_time": estimate}
    return compact_json(task_object(view, task_info))


class ErrorRow(NamedTuple):
    """What the API answers for one kind of error."""

    status: int
    type: str
    code: str | None


ERRORS: dict[ErrorKind, ErrorRow] = {
    ErrorKind.UNAUTHORIZED: ErrorRow(401, "authentication_error", None),
    ErrorKind.MALFORMED_BODY: ErrorRow(400, "invalid_request_error", None),
    ErrorKind.INVALID_REQUEST: ErrorRow(422, "invalid_request_error", "invalid_parameter"),
    ErrorKind.UNKNOWN_MODEL: ErrorRow(422, "invalid_request_error", "model_not_supported"),
    ErrorKind.NOT_FOUND: ErrorRow(404, "not_found", None),
    ErrorKind.ROUTE_NOT_FOUND: ErrorRow(404, "not_found", None),
    ErrorKind.METHOD_NOT_ALLOWED: ErrorRow(405, "invalid_request_error", None),
    ErrorKind.PAYLOAD_TOO_LARGE: ErrorRow(413, "invalid_request_error", None),
    ErrorKind.INSUFFICIENT_CREDITS: ErrorRow(402, "insufficient_quota", None),
    ErrorKind.PROMPT_REJECTED: ErrorRow(422, "invalid_request_error", "prompt_rejected"),
    ErrorKind.RATE_LIMITED: ErrorRow(429, "rate_limit_error", None),
    ErrorKind.TOO_MANY_TASKS: ErrorRow(429, "rate_limit_error", None),
    ErrorKind.SERVER_ERROR: ErrorRow(500, "server_error", None),
    ErrorKind.UNAVAILABLE: ErrorRow(503, "service_unavailable_error", None),
}
MESSAGES = {
    ErrorKind.UNAUTHORIZED: "Invalid or expired token",
    ErrorKind.INSUFFICIENT_CREDITS: "Insufficient account balance",
}


def _body(model: str, callback_url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "prompt": "a red fox in the snow"}
    return body if callback_url is None else body | {"callback_url": callback_url}


def _result_urls(answer: Any) -> list[str]:
    return [r["url"] for r in answer.get("results") or () if isinstance(r, dict) and "url" in r]


LIFECYCLE = Lifecycle(
    task_id="id",
    status="status",
    words=STATUS_WORDS,
    fields=(
        FieldByState("results", only=frozenset({"completed"}), required=frozenset({"completed"})),
        FieldByState("error", only=frozenset({"failed"}), required=frozenset({"failed"})),
    ),
    timestamps={"created": "s"},
    id_pattern=r"^task-(unified|llmrouter|llm)-[0-9]+-[a-z0-9]+$",
    # Not documented: every 5 s, slower than the others, since nothing says what the service allows.
    poll_every=5.0,
    # No prices are published here: models the docs name.
    jobs=(
        Job("image", "/v1/images/generations", ("gemini-3-pro-image-preview",), _body),
        Job("video", "/v1/videos/generations", ("seedance-2.0-fast",), _body),
    ),
    result_urls=_result_urls,
    unknown_id="task-unified-0-00000000",
)


class FoxApi(Provider):
    """The FoxAPI provider."""

    profile = PROFILE
    mount = MOUNT
    hosts = ("api.foxapi.cc",)
    errors = ERRORS
    error_model = ErrorEnvelope
    callback_model = Task
    lifecycle = LIFECYCLE

    def routes(self) -> Sequence[AnyRoute]:
        submits = [
            SubmitRoute(
                method="POST",
                path=f"/v1/{endpoint}/generations",
                body="json",
                request=BODIES[task_type],
                answer=Task,
                waited_answer=ChatCompletion if task_type == "llm" else None,
                parse=_parser(task_type),
                render=render_submitted,
            )
            for endpoint, task_type in ENDPOINTS.items()
        ]
        poll = PollRoute(
            method="GET",
            path="/v1/tasks/{task_id}",
            answer=Task,
            # sync_upstream asks the server to refresh a running task from upstream first; the
            # fake's stored state is always current, so it changes nothing but is checked.
            parse=parse_poll,
            render=_render_task,
        )
        stream = PollRoute(
            method="GET",
            path=STREAM_PATH,
            answer=ChatCompletionChunk,
            parse=task_in_path,
            render=render_stream,
            check=check_stream,
            content_type="text/event-stream",
        )
        models = AccountRoute(
            method="GET",
            path="/v1/configs/llm_generations_models",
            answer=LlmModels,
            render=render_llm_models,
        )
        return [*submits, poll, stream, models]

    def render_error(self, error: FakeApiError, context: ErrorContext) -> tuple[int, bytes]:
        status, error_type, code = ERRORS[error.kind]
        body: dict[str, Any] = {} if code is None else {"code": code}
        body["message"] = MESSAGES.get(error.kind, error.message)
        body["type"] = error_type
        return status, compact_json({"error": body})
