"""RixAPI's model catalogue: which families make what, and the unit each is billed in."""

from __future__ import annotations

from fakeapi.catalogue import Billing, Catalogue, Kind, ModelInfo


def _family(kind: Kind, billing: Billing, *globs: str) -> tuple[tuple[str, ModelInfo], ...]:
    return tuple((glob, ModelInfo(kind, billing)) for glob in globs)


# The families the RixAPI task pages name, with the billing unit the page gives for each
# ("tokens": Doubao, Vidu, Ali, Kling, Gemini; "duration": Sora, Xai video; per call: Flux,
# Replicate, Midjourney). Families the page is silent on are treated as per call (no usage).
CATALOGUE = Catalogue(
    _family("image", "tokens", "kling-*image*", "kling-*kolors*")
    + _family("video", "tokens", "kling-*")
    + _family("image", "per_call", "luma-photon*")
    + _family("video", "per_call", "luma-*", "runway*", "veo-*", "veo3*", "minimax-*", "hailuo*")
    + _family("video", "tokens", "vidu*")
    + _family("image", "per_call", "jimeng-*image*", "jimeng-*t2i*")
    + _family("video", "per_call", "jimeng-*")
    + _family("image", "tokens", "doubao-seedream*", "seedream*")
    + _family("video", "tokens", "doubao-seedance*", "seedance*")
    + _family("image", "per_call", "flux*", "midjourney*", "mj-*", "mj_*")
    + _family("video", "per_call", "replicate/*video*")
    + _family("image", "per_call", "replicate/*")
    + _family("video", "duration", "grok-*video*", "xai-*video*", "grok-imagine*")
    + _family("image", "per_call", "grok-*")
    + _family("video", "tokens", "wanx*video*", "wan2*", "wanx*-t2v*", "wanx*-i2v*")
    + _family("image", "tokens", "wanx*", "qwen-image*")
    + _family("video", "duration", "sora*")
    + _family("video", "tokens", "gemini-*veo*")
    + _family("image", "tokens", "gemini-*", "nano-banana*")
    + _family("audio", "per_call", "suno*", "udio*")
)
