"""RixAPI's model catalogue: which families make what, and the unit each is billed in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fakeapi.catalogue import SUNO, Billing, Catalogue, Kind, ModelInfo
from fakeapi.media import KIND_EXTENSIONS, format_extension


def _family(
    kind: Kind, billing: Billing, *globs: str, other: Kind | None = None
) -> tuple[tuple[str, ModelInfo], ...]:
    return tuple((glob, ModelInfo(kind, billing, other)) for glob in globs)


# The families the RixAPI task pages name, with the billing unit the page gives for each
# ("tokens": Doubao, Vidu, Ali, Kling, Gemini; "duration": Sora, Xai video; per call: Flux,
# Replicate, Midjourney). Families the page is silent on are treated as per call (no usage).
# The ElkAPI table's "Video / Image" models (kling-v2, jimeng-v2, replicate/*, wanx-v2) make either,
# as the request asks (see ``kind_asked``), the first kind when it does not say. It lists luma-photon
# and grok-2-image as video: both are image models upstream, so they make images unless asked for video.
CATALOGUE = Catalogue(
    _family("image", "tokens", "kling-*image*", "kling-*kolors*")
    + _family("video", "tokens", "kling-*video*", "kling-*t2v*", "kling-*i2v*")
    + _family("video", "tokens", "kling-*", other="image")
    + _family("image", "per_call", "luma-photon*", other="video")
    + _family("video", "per_call", "luma-*", "runway*", "veo-*", "veo3*", "minimax-*", "hailuo*")
    + _family("video", "tokens", "vidu*")
    + _family("image", "per_call", "jimeng-*image*", "jimeng-*t2i*")
    + _family("video", "per_call", "jimeng-*video*", "jimeng-*t2v*", "jimeng-*i2v*")
    + _family("video", "per_call", "jimeng-*", other="image")
    + _family("image", "tokens", "doubao-seedream*", "seedream*")
    + _family("video", "tokens", "doubao-seedance*", "seedance*")
    + _family("image", "per_call", "flux*", "midjourney*", "mj-*", "mj_*")
    + _family("video", "per_call", "replicate/*video*")
    + _family("image", "per_call", "replicate/*", other="video")
    + _family("video", "duration", "grok-*video*", "xai-*video*", "grok-imagine*")
    + _family("image", "per_call", "grok-2-image*", other="video")
    + _family("image", "per_call", "grok-*")
    + _family("video", "tokens", "wanx*video*", "wan2*", "wanx*-t2v*", "wanx*-i2v*")
    + _family("image", "tokens", "wanx*", other="video")
    + _family("image", "tokens", "qwen-image*")
    + _family("video", "duration", "sora*")
    + _family("video", "tokens", "gemini-*veo*")
    + _family("image", "tokens", "gemini-*", "nano-banana*")
    + (("suno*", SUNO),)
    + (("udio*", ModelInfo("audio", "per_call", ext="mp3")),)
)
# Inputs only a video takes, and the fields whose words name the task (``mode: image-to-video``).
VIDEO_INPUTS = ("duration", "first_frame", "last_frame", "fps", "video", "video_url", "camera_control")
TASK_WORDS = ("mode", "type", "task_type", "generation_type")
IMAGE_EXTENSIONS = KIND_EXTENSIONS["image"]
IMAGE_INPUTS = ("num_images", "image_size")


def kind_asked(model: str, params: Mapping[str, Any]) -> Kind | None:
    """The kind a submit to a model that makes both images and videos asks for, from its inputs:
    video when it sends a video-only input, names a video task or asks for an MP4, image when it
    sends an image-only input, names an image task or asks for an image format; ``None`` (the
    model's first kind) for any other model or input."""
    info = CATALOGUE.lookup(model)
    if info is None or info.other is None:
        return None
    words = " ".join(str(params[name]) for name in TASK_WORDS if name in params)
    output_format = format_extension(params.get("output_format"))
    if any(name in params for name in VIDEO_INPUTS) or "video" in words or output_format == "mp4":
        return "video"
    if any(name in params for name in IMAGE_INPUTS) or "image" in words or output_format in IMAGE_EXTENSIONS:
        return "image"
    return None
