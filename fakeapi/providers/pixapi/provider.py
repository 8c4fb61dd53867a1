"""Pixapi's async media tasks (and its synchronous image endpoints), mounted at ``/pixapi``.

Image bodies are OpenAI-style (``model``, ``prompt``, ``n``, ``size``...); edits come as
multipart/form-data with one or more ``image`` files. Async submits answer ``submitted`` with
``created_at``; the task, when queried, says ``created`` (and ``completed``) instead.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

from pydantic import Field
from ulid import ULID

from fakeapi.catalogue import Kind
from fakeapi.contract.lifecycle import FieldByState, Job, Lifecycle, terminal_words
from fakeapi.engine import ApiProfile, SubmitRequest, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.media import file_for, format_extension, image_size
from fakeapi.providers.base import (
    AnyRoute,
    ErrorContext,
    Incoming,
    Outcome,
    PollRoute,
    Provider,
    SubmitRoute,
    task_in_path,
)
from fakeapi.providers.pixapi.catalogue import CATALOGUE, IMAGE_CREDITS, VIDEO_CREDITS_PER_SECOND, price
from fakeapi.providers.pixapi.wire import (
    ErrorEnvelope,
    ImageBody,
    LegacyAnswer,
    LegacyBody,
    SubmitAnswer,
    SyncImagesAnswer,
    Task,
    VideoBody,
)
from fakeapi.randomness import Randomness
from fakeapi.scenario.schema import ApiSettings
from fakeapi.scenario.types import FailureReason
from fakeapi.webhooks import CallbackPolicy
from fakeapi.wire import compact_json, json_number, parse_body

STATUS_WORDS = {"queued": "submitted", "running": "processing", "succeeded": "completed", "failed": "failed"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
ASYNC_FLAG = "async"
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"GIF87a", b"GIF89a")

# Task failures as the HTTP error the same problem gets at submit: (code, type).
FAILURE_ERRORS: dict[FailureReason, tuple[int, str]] = {
    "content_violation": (422, "prompt_rejected"),
    "nsfw": (422, "prompt_rejected"),
    "prohibited_content": (422, "prompt_rejected"),
    "input_image_sensitive": (422, "prompt_rejected"),
    "invalid_prompt": (422, "prompt_rejected"),
    "prompt_too_long": (400, "invalid_request_error"),
    "invalid_image_url": (400, "invalid_request_error"),
    "image_too_large": (400, "invalid_request_error"),
    "unsupported_format": (400, "invalid_request_error"),
    "image_download_failed": (400, "invalid_request_error"),
    "model_unavailable": (503, "model_unavailable"),
    "insufficient_credits": (402, "insufficient_credits"),
}


class PixapiSettings(ApiSettings):
    """Pixapi's settings, with the choice its docs leave open."""

    error_codes: Literal["numeric", "string"] = Field(
        default="numeric",
        description="error.code as the HTTP status with a type (async and errors pages) or a string code",
    )
    # "Credits are consumed after successful output" (billing page): held at submit, taken on success.
    charge: Literal["submit", "success"] = Field(
        default="success", description="Pixapi takes credits after a successful output (billing page)"
    )


def task_object(view: TaskView) -> dict[str, Any]:
    """The task as ``GET /v1/tasks/{id}`` answers it."""
    data: dict[str, Any] = {"id": view.id, "status": STATUS_WORDS[view.state]}
    if view.state == "succeeded":
        data["credits_cost"] = json_number(view.cost)
    data["model"] = view.model
    data["progress"] = view.progress
    if view.state == "succeeded":
        data["result"] = {"type": view.kind, "data": [{"url": url} for url in view.outputs]}
    if view.error is not None:
        code, error_type = FAILURE_ERRORS.get(view.error.reason, (500, "internal_error"))
        data["error"] = {"code": code, "message": view.error.text(), "type": error_type}
    data["created"] = int(view.created_at)
    if view.finished_at is not None:
        data["completed"] = int(view.finished_at)
    return data


def _make_id(random: Randomness, now: float, kind: Kind) -> str:
    # A ULID from the clock and the seeded generator, so ids sort by time and repeat per seed.
    stamp = int(now * 1000).to_bytes(6, "big")
    return "task_" + str(ULID.from_bytes(stamp + random.random.randbytes(10)))


def _render_task(view: TaskView, settings: ApiSettings) -> bytes:
    return compact_json(task_object(view))


PROFILE = ApiProfile(
    name="pixapi",
    make_id=_make_id,
    catalogue=CATALOGUE,
    # Pixapi documents no webhooks; the policy is never used because no submit carries a callback.
    callbacks=CallbackPolicy(on="terminal", timeout=10.0, retry_delays=()),
    render_callback=_render_task,
    settings=PixapiSettings,
    price=price,
)


def _note_async_flags(request: Incoming, body: ImageBody | VideoBody | LegacyBody) -> None:
    # The async-tasks page: "Do not add async=true query parameters or "async": true body fields."
    # The endpoint alone says whether a request waits; the fake, like the API, ignores the flag.
    if ASYNC_FLAG in request.query:
        request.note(
            f"?{ASYNC_FLAG} is not to be sent (the endpoint decides whether a request waits); ignored"
        )
    if body.model_extra and ASYNC_FLAG in body.model_extra:
        request.note(
            f'"{ASYNC_FLAG}" is not to be sent (the endpoint decides whether a request waits); ignored'
        )


def _submit(
    request: Incoming, kind: Kind, body: ImageBody | VideoBody | LegacyBody, extra: dict[str, Any]
) -> SubmitRequest:
    _note_async_flags(request, body)
    output_format = body.output_format if isinstance(body, ImageBody) else None
    if output_format is not None:
        request.note("output_format is OpenAI's field: Pixapi's pages do not document it")
    return SubmitRequest(
        api=PROFILE.name,
        key=request.key,
        model=body.model,
        prompt=body.prompt,
        params={**body.model_dump(exclude_none=True), **extra},
        outputs=_outputs(body),
        kind=kind,
        ext=format_extension(output_format),
        headers=request.headers,
    )


def parse_images(request: Incoming) -> SubmitRequest:
    return _submit(request, "image", parse_body(ImageBody, request.json()), {})


def parse_edits(request: Incoming) -> SubmitRequest:
    body, images = _read_edit(request)
    return _submit(request, "image", body, {"images": images})


def parse_videos(request: Incoming) -> SubmitRequest:
    return _submit(request, "video", parse_body(VideoBody, request.json()), {})


def refuse_sync_video(request: Incoming) -> SubmitRequest:
    raise FakeApiError(
        ErrorKind.INVALID_REQUEST,
        "Video generation is async-only. Submit it to /v1/async/videos/generations.",
    )


def _legacy_parser(*, image_required: bool) -> Callable[[Incoming], SubmitRequest]:
    def parse(request: Incoming) -> SubmitRequest:
        body = parse_body(LegacyBody, request.json())
        if image_required and not body.image:
            raise FakeApiError(ErrorKind.INVALID_REQUEST, "image: an image URL is required", param="image")
        return _submit(request, "image", body, {"size": _legacy_size(body.image_size)})

    return parse


def render_submitted(outcome: Outcome) -> bytes:
    view = outcome.view
    return compact_json(
        {
            "status": "submitted",
            "id": view.id,
            "progress": 0,
            "created_at": int(view.created_at),
            "model": view.model,
        }
    )


def render_sync_images(outcome: Outcome) -> bytes:
    view = outcome.view
    if view.params.get("response_format") == "b64_json":
        size = image_size(view.params.get("size"))
        files = (file_for(view.id, url.rsplit(".", 1)[-1], size) for url in view.outputs)
        data = [{"b64_json": base64.b64encode(image).decode()} for image in files]
    else:
        data = [{"url": url} for url in view.outputs]
    return compact_json({"created": int(view.created_at), "data": data})


def render_legacy(outcome: Outcome) -> bytes:
    urls = list(outcome.view.outputs)
    # "When num is greater than 1, legacy responses may return data.url as an array."
    data = {"url": urls[0] if len(urls) == 1 else urls}
    return compact_json({"code": 0, "message": "ok", "data": data})


class ErrorRow(NamedTuple):
    """What the API answers for one kind of error."""

    status: int
    type: str


ERRORS: dict[ErrorKind, ErrorRow] = {
    ErrorKind.UNAUTHORIZED: ErrorRow(401, "unauthorized"),
    ErrorKind.MALFORMED_BODY: ErrorRow(400, "invalid_request_error"),
    ErrorKind.INVALID_REQUEST: ErrorRow(400, "invalid_request_error"),
    ErrorKind.UNKNOWN_MODEL: ErrorRow(404, "model_not_found"),
    ErrorKind.NOT_FOUND: ErrorRow(404, "not_found"),
    ErrorKind.ROUTE_NOT_FOUND: ErrorRow(404, "not_found"),
    ErrorKind.METHOD_NOT_ALLOWED: ErrorRow(405, "invalid_request_error"),
    ErrorKind.PAYLOAD_TOO_LARGE: ErrorRow(413, "invalid_request_error"),
    ErrorKind.INSUFFICIENT_CREDITS: ErrorRow(402, "insufficient_credits"),
    ErrorKind.PROMPT_REJECTED: ErrorRow(422, "prompt_rejected"),
    ErrorKind.RATE_LIMITED: ErrorRow(429, "rate_limited"),
    ErrorKind.TOO_MANY_TASKS: ErrorRow(429, "rate_limited"),
    ErrorKind.SERVER_ERROR: ErrorRow(500, "internal_error"),
    ErrorKind.UNAVAILABLE: ErrorRow(503, "model_unavailable"),
}
MESSAGES = {ErrorKind.INSUFFICIENT_CREDITS: "Not enough credits for this request."}


def _result_urls(answer: Any) -> list[str]:
    return [item["url"] for item in answer["result"]["data"] if isinstance(item, dict) and "url" in item]


TERMINAL = terminal_words(STATUS_WORDS)
COMPLETED = frozenset({"completed"})
LIFECYCLE = Lifecycle(
    task_id="id",
    status="status",
    words=STATUS_WORDS,
    fields=(
        FieldByState("result", only=COMPLETED, required=COMPLETED),
        FieldByState("credits_cost", only=COMPLETED),
        FieldByState("error", only=frozenset({"failed"}), required=frozenset({"failed"})),
        FieldByState("completed", only=TERMINAL, required=TERMINAL),
    ),
    timestamps={"created_at": "s", "created": "s", "completed": "s"},
    id_pattern=r"^task_[0-9A-HJKMNP-TV-Z]{26}$",
    # The docs ask for exponential backoff from the backend; a steady 3 s stays under any plan's limit.
    poll_every=3.0,
    jobs=(
        Job(
            "image",
            "/v1/async/images/generations",
            tuple(IMAGE_CREDITS),
            lambda model, url: {"model": model, "prompt": "a red fox in the snow"},
        ),
        Job(
            "video",
            "/v1/async/videos/generations",
            tuple(g.rstrip("*") for g in VIDEO_CREDITS_PER_SECOND),
            lambda model, url: {"model": model, "prompt": "a red fox in the snow", "duration": 4},
        ),
    ),
    result_urls=_result_urls,
    unknown_id="task_" + "0" * 26,
    price_unit="credits ($0.01 each)",
)


class PixApi(Provider):
    """The Pixapi provider."""

    profile = PROFILE
    mount = "/pixapi"
    hosts = ("api.pixapi.ai",)
    errors = ERRORS
    error_model = ErrorEnvelope
    lifecycle = LIFECYCLE

    def routes(self) -> Sequence[AnyRoute]:
        def submit(path: str, parse: Callable[[Incoming], SubmitRequest], **more: Any) -> SubmitRoute:
            return SubmitRoute(method="POST", path=path, parse=parse, **more)

        image, video, legacy = {"request": ImageBody}, {"request": VideoBody}, {"request": LegacyBody}
        submitted = {"answer": SubmitAnswer, "render": render_submitted}
        images = {"answer": SyncImagesAnswer, "render": render_sync_images, "sync": True}
        legacy_answer = {"answer": LegacyAnswer, "render": render_legacy, "sync": True}
        return [
            submit("/v1/async/images/generations", parse_images, body="json", **image, **submitted),
            submit("/v1/async/images/edits", parse_edits, body="multipart", **image, **submitted),
            submit("/v1/async/videos/generations", parse_videos, body="json", **video, **submitted),
            PollRoute(
                method="GET",
                path="/v1/tasks/{task_id}",
                answer=Task,
                parse=task_in_path,
                render=_render_task,
            ),
            submit("/v1/images/generations", parse_images, body="json", **image, **images),
            submit("/v1/images/edits", parse_edits, body="multipart", **image, **images),
            submit("/v1/videos/generations", refuse_sync_video, **images),
            submit(
                "/v1/images/generate",
                _legacy_parser(image_required=False),
                body="json",
                **legacy,
                **legacy_answer,
            ),
            submit(
                "/v1/images/edit", _legacy_parser(image_required=True), body="json", **legacy, **legacy_answer
            ),
        ]

    def render_error(self, error: FakeApiError, context: ErrorContext) -> tuple[int, bytes]:
        status, error_type = ERRORS[error.kind]
        message = MESSAGES.get(error.kind, error.message)
        settings = context.settings
        if isinstance(settings, PixapiSettings) and settings.error_codes == "string":
            body: dict[str, Any] = {"code": error_type, "message": message}
        else:
            body = {"code": status, "message": message, "type": error_type}
        return status, compact_json({"error": body})


def _outputs(body: ImageBody | VideoBody | LegacyBody) -> int:
    if isinstance(body, ImageBody):
        return body.n
    return body.num if isinstance(body, LegacyBody) else 1


def _legacy_size(image_size: str | None) -> str:
    """A legacy ``image_size`` aspect ratio as a pixel size with a 1024-pixel long edge."""
    if image_size is None:
        return "auto"
    if (m := re.fullmatch(r"(\d{1,3}):(\d{1,3})", image_size)) and int(m[1]) and int(m[2]):
        w, h = int(m[1]), int(m[2])
        scale = 1024 / max(w, h)
        return f"{round(w * scale)}x{round(h * scale)}"
    return image_size


def _read_edit(request: Incoming) -> tuple[ImageBody, list[dict[str, Any]]]:
    """Parse an edits form: its fields into an ``ImageBody``, its ``image`` files checked."""
    if request.content_type != "multipart/form-data":
        raise FakeApiError(ErrorKind.MALFORMED_BODY, "images/edits takes multipart/form-data")
    fields: dict[str, Any] = {}
    images: list[dict[str, Any]] = []
    for part in request.form:
        if part.name in ("image", "image[]"):
            images.append(_check_image(part.filename or f"image {len(images) + 1}", part.data))
        else:
            fields[part.name] = part.text()
    if not images:
        raise FakeApiError(
            ErrorKind.INVALID_REQUEST, "image: at least one image file is required", param="image"
        )
    if "n" in fields:
        fields["n"] = _form_int("n", fields["n"])
    return parse_body(ImageBody, fields), images


def _check_image(name: str, data: bytes) -> dict[str, Any]:
    if len(data) > MAX_IMAGE_BYTES:
        raise FakeApiError(ErrorKind.INVALID_REQUEST, f"image: {name} is larger than 20 MB", param="image")
    if not data.startswith(IMAGE_SIGNATURES) or (data.startswith(b"RIFF") and data[8:12] != b"WEBP"):
        raise FakeApiError(
            ErrorKind.INVALID_REQUEST, f"image: {name} is not a PNG, JPEG, WebP or GIF image", param="image"
        )
    return {"filename": name, "bytes": len(data)}


def _form_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise FakeApiError(ErrorKind.INVALID_REQUEST, f"{name}: must be an integer", param=name) from None
