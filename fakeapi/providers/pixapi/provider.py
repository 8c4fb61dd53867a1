"""Pixapi's async media tasks (and its synchronous image endpoints), mounted at ``/pixapi``.

Image bodies are OpenAI-style (``model``, ``prompt``, ``n``, ``size``...); edits come as
multipart/form-data with one or more ``image`` files. Async submits answer ``submitted`` with
``created_at``; the task, when queried, says ``created`` (and ``completed``) instead.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from aiohttp import BodyPartReader, web
from ulid import ULID

from fakeapi.catalogue import DEFAULT_VIDEO_SECONDS, Catalogue, Kind, ModelInfo, requested_seconds
from fakeapi.engine import ApiProfile, SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.http import (
    Route,
    authorize,
    bearer_key,
    compact_json,
    engine_of,
    json_number,
    json_response,
    parse_body,
    read_json,
)
from fakeapi.media import file_for, image_size
from fakeapi.providers.pixapi.wire import ImageBody, LegacyBody, VideoBody
from fakeapi.randomness import Randomness
from fakeapi.scenario import FailureReason, Scenario
from fakeapi.webhooks import CallbackPolicy

STATUS_WORDS = {"queued": "submitted", "running": "processing", "succeeded": "completed", "failed": "failed"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"GIF87a", b"GIF89a")

IMAGE_MODELS = (
    "gemini-2.5-flash-image*",
    "gemini-3.1-flash-image-preview*",
    "gemini-3-pro-image-preview*",
    "nano-banana*",
    "gpt-image-*",
)
VIDEO_MODELS = ("veo*", "kling*", "wan*", "sora-2*")
CATALOGUE = Catalogue(
    tuple((glob, ModelInfo("image", "per_call")) for glob in IMAGE_MODELS)
    + tuple((glob, ModelInfo("video", "per_call")) for glob in VIDEO_MODELS)
)
# Credits (1 credit = $0.01) from the model catalogue and GPT Image pages. Gemini images: per image
# by size tier (512, standard, 2K, 4K); gpt-image-1.5 "from 1" is taken as 1.
IMAGE_CREDITS: dict[str, tuple[int, int, int, int]] = {
    "gemini-2.5-flash-image": (2, 2, 2, 2),
    "gemini-3.1-flash-image-preview": (4, 4, 6, 8),
    "gemini-3-pro-image-preview": (8, 8, 8, 16),
    "gpt-image-1.5": (1, 1, 1, 1),
}
ALIASES = {
    "nano-banana": "gemini-2.5-flash-image",
    "nano-banana-2": "gemini-3.1-flash-image-preview",
    "nano-banana-pro": "gemini-3-pro-image-preview",
}
TIER_SUFFIXES = {"-512": 0, "-2k": 2, "-4k": 3}
# gpt-image-2 per image by size tier (1K, 2K, 4K) and quality; quality auto is billed as high.
GPT_IMAGE_2_CREDITS = {"low": (1, 2, 4), "medium": (4, 17, 34), "high": (14, 67, 133)}
VIDEO_CREDITS_PER_SECOND = {"veo*": 1.0, "kling*": 2.24, "wan*": 2.0}
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


def task_object(view: TaskView) -> dict[str, Any]:
    """The task as ``GET /v1/tasks/{id}`` answers it."""
    data: dict[str, Any] = {"id": view.id, "status": STATUS_WORDS[view.state]}
    if view.state == "succeeded":
        data["credits_cost"] = json_number(view.cost)
    data["model"] = view.model
    data["progress"] = view.progress
    if view.state == "succeeded":
        data["result"] = {"type": view.kind, "data": [{"url": url} for url in view.outputs]}
    if view.state == "failed" and view.error is not None:
        code, error_type = FAILURE_ERRORS.get(view.error.reason, (500, "internal_error"))
        data["error"] = {"code": code, "message": view.error.message, "type": error_type}
    data["created"] = int(view.created_at)
    if view.finished_at is not None:
        data["completed"] = int(view.finished_at)
    return data


def price(model: str, params: Mapping[str, Any], outputs: int) -> float:
    """A task's documented price in credits; models without a published price cost 0."""
    for glob, per_second in VIDEO_CREDITS_PER_SECOND.items():
        if fnmatchcase(model, glob):
            return round(per_second * (requested_seconds(params) or DEFAULT_VIDEO_SECONDS), 9)
    tier = _size_tier(params.get("size"))
    if model == "gpt-image-2":
        quality = params.get("quality") or "high"
        per_image = GPT_IMAGE_2_CREDITS.get(quality, GPT_IMAGE_2_CREDITS["high"])[max(tier - 1, 0)]
        return float(per_image * outputs)
    base = model
    for suffix, suffix_tier in TIER_SUFFIXES.items():
        if base.endswith(suffix):
            base, tier = base.removesuffix(suffix), suffix_tier
    credits = IMAGE_CREDITS.get(ALIASES.get(base, base))
    return float(credits[tier] * outputs) if credits is not None else 0.0


def _size_tier(size: object) -> int:
    """0 (512), 1 (standard / 1K), 2 (2K) or 3 (4K) by the requested size's long edge."""
    if not isinstance(size, str) or size == "auto":
        return 1
    pixels = re.fullmatch(r"(\d{1,5})[xX](\d{1,5})", size)
    side = {"1K": 1024, "2K": 2048, "4K": 4096}.get(size.upper(), 1024)
    long_edge = max(int(pixels[1]), int(pixels[2])) if pixels else side
    return 0 if long_edge <= 512 else 1 if long_edge <= 1536 else 2 if long_edge <= 2048 else 3


def _make_id(random: Randomness, now: float, kind: Kind) -> str:
    # A ULID from the clock and the seeded generator, so ids sort by time and repeat per seed.
    stamp = int(now * 1000).to_bytes(6, "big")
    return "task_" + str(ULID.from_bytes(stamp + random.random.randbytes(10)))


def _render(view: TaskView, scenario: Scenario) -> bytes:
    return compact_json(task_object(view))


PROFILE = ApiProfile(
    name="pixapi",
    make_id=_make_id,
    catalogue=CATALOGUE,
    # Pixapi documents no webhooks; the policy is never used because no submit carries a callback.
    callbacks=CallbackPolicy(on="terminal", timeout=10.0, retry_delays=()),
    render_callback=_render,
    price=price,
)


class PixApi:
    """The Pixapi provider."""

    profile = PROFILE
    mount = "/pixapi"

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/v1/async/images/generations", self.async_images),
            Route("POST", "/v1/async/images/edits", self.async_edits),
            Route("POST", "/v1/async/videos/generations", self.async_videos),
            Route("GET", "/v1/tasks/{task_id}", self.query),
            Route("POST", "/v1/images/generations", self.sync_images),
            Route("POST", "/v1/images/edits", self.sync_edits),
            Route("POST", "/v1/videos/generations", self.sync_videos),
            Route("POST", "/v1/images/generate", self.legacy_generate),
            Route("POST", "/v1/images/edit", self.legacy_edit),
        ]

    def _submit(
        self,
        request: web.Request,
        kind: Kind,
        body: ImageBody | VideoBody | LegacyBody,
        extra: dict[str, Any],
    ) -> TaskView:
        """Submit for a request whose key ``authorize`` has already admitted."""
        return engine_of(request).submit(
            SubmitRequest(
                api=PROFILE.name,
                key=bearer_key(request),
                model=body.model,
                prompt=body.prompt,
                params={**body.model_dump(exclude_none=True), **extra},
                outputs=_outputs(body),
                kind=kind,
                headers=request.headers,
            )
        )

    @staticmethod
    def _submitted(view: TaskView) -> web.Response:
        return json_response(
            compact_json(
                {
                    "status": "submitted",
                    "id": view.id,
                    "progress": 0,
                    "created_at": int(view.created_at),
                    "model": view.model,
                }
            )
        )

    async def async_images(self, request: web.Request) -> web.Response:
        authorize(request, PROFILE.name)
        body = parse_body(ImageBody, await read_json(request))
        return self._submitted(self._submit(request, "image", body, {}))

    async def async_edits(self, request: web.Request) -> web.Response:
        authorize(request, PROFILE.name)
        body, images = await _read_edit(request)
        return self._submitted(self._submit(request, "image", body, {"images": images}))

    async def async_videos(self, request: web.Request) -> web.Response:
        authorize(request, PROFILE.name)
        body = parse_body(VideoBody, await read_json(request))
        return self._submitted(self._submit(request, "video", body, {}))

    async def query(self, request: web.Request) -> web.Response:
        engine, key, _ = authorize(request, PROFILE.name)
        view = engine.query(PROFILE.name, request.match_info["task_id"], key)
        return json_response(compact_json(task_object(view)))

    async def sync_images(self, request: web.Request) -> web.Response:
        engine, _, _ = authorize(request, PROFILE.name)
        body = parse_body(ImageBody, await read_json(request))
        return await self._sync_answer(engine, self._submit(request, "image", body, {}), body)

    async def sync_edits(self, request: web.Request) -> web.Response:
        engine, _, _ = authorize(request, PROFILE.name)
        body, images = await _read_edit(request)
        return await self._sync_answer(engine, self._submit(request, "image", body, {"images": images}), body)

    async def sync_videos(self, request: web.Request) -> web.Response:
        authorize(request, PROFILE.name)
        raise FakeApiError(
            ErrorKind.INVALID_REQUEST,
            "Video generation is async-only. Submit it to /v1/async/videos/generations.",
        )

    async def legacy_generate(self, request: web.Request) -> web.Response:
        return await self._legacy(request, image_required=False)

    async def legacy_edit(self, request: web.Request) -> web.Response:
        return await self._legacy(request, image_required=True)

    async def _legacy(self, request: web.Request, *, image_required: bool) -> web.Response:
        engine, _, _ = authorize(request, PROFILE.name)
        body = parse_body(LegacyBody, await read_json(request))
        if image_required and not body.image:
            raise FakeApiError(ErrorKind.INVALID_REQUEST, "image: an image URL is required", param="image")
        view = self._submit(request, "image", body, {"size": _legacy_size(body.image_size)})
        view = await _finished(engine, view)
        urls = list(view.outputs)
        # "When num is greater than 1, legacy responses may return data.url as an array."
        data = {"url": urls[0] if len(urls) == 1 else urls}
        return json_response(compact_json({"code": 0, "message": "ok", "data": data}))

    async def _sync_answer(self, engine: TaskEngine, view: TaskView, body: ImageBody) -> web.Response:
        view = await _finished(engine, view)
        if body.response_format == "b64_json":
            png = file_for(view.id, "png", image_size(body.size))
            data = [{"b64_json": base64.b64encode(png).decode()} for _ in view.outputs]
        else:
            data = [{"url": url} for url in view.outputs]
        return json_response(compact_json({"created": int(view.created_at), "data": data}))

    def error_response(self, error: FakeApiError, engine: TaskEngine) -> web.Response:
        status, error_type = _ERRORS[error.kind]
        message = _MESSAGES.get(error.kind, error.message)
        if engine.scenario.apis.pixapi.error_codes == "string":
            body: dict[str, Any] = {"code": error_type, "message": message}
        else:
            body = {"code": status, "message": message, "type": error_type}
        return json_response(compact_json({"error": body}), status)


async def _finished(engine: TaskEngine, view: TaskView) -> TaskView:
    """Wait for a synchronous request's task to end; a failed task is the request's error."""
    view = await engine.run_to_end(view.id)
    if view.state == "failed":
        error = view.error
        code, _ = FAILURE_ERRORS.get(error.reason, (500, "")) if error is not None else (500, "")
        kind = {422: ErrorKind.PROMPT_REJECTED, 503: ErrorKind.UNAVAILABLE}.get(code, ErrorKind.SERVER_ERROR)
        raise FakeApiError(kind, error.message if error is not None else "generation failed")
    return view


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


async def _read_edit(request: web.Request) -> tuple[ImageBody, list[dict[str, Any]]]:
    """Parse an edits form: its fields into an ``ImageBody``, its ``image`` files checked."""
    if request.content_type != "multipart/form-data":
        raise FakeApiError(ErrorKind.MALFORMED_BODY, "images/edits takes multipart/form-data")
    fields: dict[str, Any] = {}
    images: list[dict[str, Any]] = []
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            if part.name in ("image", "image[]"):
                data = await part.read(decode=True)
                images.append(_check_image(part.filename or f"image {len(images) + 1}", bytes(data)))
            else:
                fields[part.name] = await part.text()
    except (ValueError, AssertionError) as exc:
        raise FakeApiError(ErrorKind.MALFORMED_BODY, f"malformed multipart body: {exc}") from None
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


_ERRORS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.UNAUTHORIZED: (401, "unauthorized"),
    ErrorKind.MALFORMED_BODY: (400, "invalid_request_error"),
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error"),
    ErrorKind.UNKNOWN_MODEL: (404, "model_not_found"),
    ErrorKind.NOT_FOUND: (404, "not_found"),
    ErrorKind.ROUTE_NOT_FOUND: (404, "not_found"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "invalid_request_error"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "invalid_request_error"),
    ErrorKind.INSUFFICIENT_CREDITS: (402, "insufficient_credits"),
    ErrorKind.PROMPT_REJECTED: (422, "prompt_rejected"),
    ErrorKind.RATE_LIMITED: (429, "rate_limited"),
    ErrorKind.TOO_MANY_TASKS: (429, "rate_limited"),
    ErrorKind.SERVER_ERROR: (500, "internal_error"),
    ErrorKind.UNAVAILABLE: (503, "model_unavailable"),
}
_MESSAGES = {ErrorKind.INSUFFICIENT_CREDITS: "Not enough credits for this request."}
