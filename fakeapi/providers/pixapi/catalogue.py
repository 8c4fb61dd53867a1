"""Pixapi's model catalogue and its documented prices in credits (1 credit = $0.01)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from fakeapi.catalogue import DEFAULT_VIDEO_SECONDS, Catalogue, ModelInfo, requested_seconds

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
# No sora-2 price is published; the async-tasks page's example of a completed sora-2 task (no
# duration given) shows credits_cost 1.5, taken as its price per task.
VIDEO_CREDITS_PER_TASK = {"sora-2": 1.5}


def price(model: str, params: Mapping[str, Any], outputs: int) -> float:
    """A task's documented price in credits; models without a published price cost 0."""
    if model in VIDEO_CREDITS_PER_TASK:
        return VIDEO_CREDITS_PER_TASK[model]
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
