"""Model catalogues: what each model outputs and how it is billed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from fakeapi.errors import ErrorKind, FakeApiError

# How many model names a catalogue remembers the family of (a client may name any number of them).
LOOKUPS_KEPT = 4096
LONGEST_KEPT = 256
Kind = Literal["image", "video", "audio", "text"]
Billing = Literal["tokens", "duration", "per_call"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model family: the media it produces and the unit it is billed in.

    ``other``: the second kind a model that makes both images and videos makes when a request asks
    for it (its endpoint, mode or inputs); ``kind`` is what it makes when a request does not say.
    ``ext``: the format of its results when it is not its kind's default (a music model's MP3);
    ``outputs``: how many results a request makes when it does not say (Suno's two tracks).
    """

    kind: Kind
    billing: Billing
    other: Kind | None = None
    ext: str | None = None
    outputs: int = 1


# Suno answers two MP3 tracks per request on every API that serves it (APIXO's and FoxAPI's Suno
# pages; a client of RixAPI saw two .mp3 among its outputs).
SUNO = ModelInfo("audio", "per_call", ext="mp3", outputs=2)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Glob patterns to model families, first match wins."""

    entries: tuple[tuple[str, ModelInfo], ...]
    # Every submit looks its model up (twice): the globs are matched once per name.
    _found: dict[str, ModelInfo | None] = field(default_factory=dict, compare=False, repr=False)

    def lookup(self, model: str) -> ModelInfo | None:
        found = self._found
        if model in found:
            return found[model]
        info = next((info for glob, info in self.entries if fnmatchcase(model, glob)), None)
        if len(model) <= LONGEST_KEPT:
            if len(found) >= LOOKUPS_KEPT:
                found.clear()
            found[model] = info
        return info


# How to make the fake accept a model its catalogue does not list; each API's unknown-model answer
# ends with it, after the API's own words.
ACCEPT_UNKNOWN_HINT = "this sandbox accepts any model name when its scenario sets models.accept_unknown: true"


class UnknownModel(FakeApiError):
    """A model the API's catalogue does not list, in a scenario that does not accept unknown models."""

    def __init__(self, model: str) -> None:
        super().__init__(
            ErrorKind.UNKNOWN_MODEL, f"model {model} is not supported; {ACCEPT_UNKNOWN_HINT}", param="model"
        )


def unlisted(model: str) -> str:
    """The contract note of a submit to a model the API's catalogue does not list: a scenario with
    ``models.accept_unknown`` runs it, the real API may refuse it."""
    return f"model {model} is not in this API's catalogue: the real API may refuse it"


@dataclass(frozen=True, slots=True)
class Usage:
    """What a finished task consumed, in the unit its model is billed in."""

    type: Literal["tokens", "duration"]
    input_token_details: dict[str, int] = field(default_factory=dict)
    output_token_details: dict[str, int] = field(default_factory=dict)
    output_tokens: int = 0
    seconds: float = 0.0

    @property
    def input_tokens(self) -> int:
        return sum(self.input_token_details.values())


_RESOLUTION_PIXELS = {
    "480p": 854 * 480,
    "540p": 960 * 540,
    "720p": 1280 * 720,
    "1080p": 1920 * 1080,
}
_IMAGE_INPUT_KEYS = ("image", "image_url", "image_urls", "first_frame", "last_frame", "images")
DEFAULT_VIDEO_SECONDS = 5.0


def requested_seconds(params: Mapping[str, Any]) -> float | None:
    """The output duration a request asks for; documented examples send it as a string or a number."""
    value = params.get("duration")
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 < seconds < math.inf else None


def billed_seconds(info: ModelInfo, params: Mapping[str, Any]) -> float:
    """Seconds of output a task is billed for: what it asks for, else a video model's default."""
    return requested_seconds(params) or (DEFAULT_VIDEO_SECONDS if info.kind == "video" else 0.0)


def usage_for(info: ModelInfo, prompt: str, params: Mapping[str, Any]) -> Usage | None:
    """Plausible, deterministic usage for a finished task (``None`` for per-call models)."""
    if info.billing == "per_call":
        return None
    seconds = billed_seconds(info, params)
    if info.billing == "duration":
        return Usage(type="duration", seconds=seconds)
    image_inputs = sum(1 for k in _IMAGE_INPUT_KEYS if params.get(k))
    input_details = {"text_tokens": len(prompt) // 4 + 1 if prompt else 0}
    input_details["image_tokens"] = 1024 * image_inputs
    if info.kind == "video":
        pixels = _RESOLUTION_PIXELS.get(str(params.get("resolution", "720p")), 1280 * 720)
        output = int(pixels * 24 * seconds / 1024)
        return Usage("tokens", input_details, {"image_tokens": output}, output_tokens=output)
    if info.kind == "image":
        return Usage("tokens", input_details, {"image_tokens": 4096}, output_tokens=4096)
    audio = int(max(seconds, 30.0) * 25)
    return Usage("tokens", input_details, {"audio_tokens": audio}, output_tokens=audio)
