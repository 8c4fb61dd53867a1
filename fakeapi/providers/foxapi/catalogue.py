"""FoxAPI's model catalogue and the per-model shapes of ``results[i]`` (the task-detail page).

Each model has an output ``type`` (which submit endpoint takes it) and a result ``shape``; the
shapes are rendered from the task id, so every poll and the callback show the same values.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Literal

from fakeapi.catalogue import SUNO, Catalogue, Kind, ModelInfo
from fakeapi.media import CONTENT_TYPES
from fakeapi.randomness import faker_for

TaskType = Literal["image", "video", "audio", "llm"]
Shape = Literal[
    "url", "url_seed", "voice", "voice_clone", "character", "profile", "transcript", "pbr_maps", "material"
]
KINDS: dict[TaskType, Kind] = {"image": "image", "video": "video", "audio": "audio", "llm": "text"}
PBR_MAPS = ("albedo", "normal", "roughness", "metallic", "height")


@dataclass(frozen=True, slots=True)
class FoxModel:
    """One model family: its task type, the shape of its results, whether URLs carry a content type;
    ``ext``, the format of its files when not its type's default; ``tracks``, how many files a
    request makes when it does not say (Suno's two)."""

    type: TaskType
    shape: Shape = "url"
    content_type: bool = False
    ext: str | None = None
    tracks: int = 1

    def outputs(self, params: Mapping[str, Any]) -> int:
        """How many result files a task of this model produces."""
        if self.shape == "pbr_maps":
            return len(PBR_MAPS)
        if self.shape == "material":
            return 1 + len(PBR_MAPS)
        if self.shape == "voice_clone":
            return 1 if params.get("text") else 0
        if self.type == "llm" or self.shape not in ("url", "url_seed"):
            return 0
        count = params.get("num_outputs", params.get("n", self.tracks))
        valid = isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= 10
        return count if valid else self.tracks


def _family(
    type: TaskType,
    *globs: str,
    shape: Shape = "url",
    content_type: bool = False,
    ext: str | None = None,
    tracks: int = 1,
) -> list[tuple[str, FoxModel]]:
    return [(glob, FoxModel(type, shape, content_type, ext, tracks)) for glob in globs]


# First match wins: the special models come before the families they belong to.
MODELS: tuple[tuple[str, FoxModel], ...] = tuple(
    _family("video", "kling-video-create-voice", shape="voice")
    + _family("video", "sora-2-character", shape="character")
    + _family("video", "seedance-2.0-*", shape="url_seed")
    + _family(
        "video",
        "veo3.1-*",
        "veo-3.1*",
        "vidu-q*",
        "lipsync-*",
        "happyhorse*",
        "kling-*",
        "sora-2*",
        "hailuo*",
    )
    + _family("video", "wan2*", "seedance-*", "grok-imagine-*video*")
    + _family("audio", "minimax-voice-clone", shape="voice_clone")
    + _family("audio", "scribe-v2", "paraformer-v2", shape="transcript")
    + _family("audio", "suno*", ext=SUNO.ext, tracks=SUNO.outputs)
    # ElevenLabs and MiniMax answer MP3 unless asked otherwise.
    + _family("audio", "elevenlabs-*", "minimax-speech*", "minimax-music*", ext="mp3")
    + _family("image", "phota-create-profile", shape="profile")
    + _family("image", "patina-pbr-maps", shape="pbr_maps", content_type=True)
    + _family("image", "patina-material", "patina-material-extract", shape="material", content_type=True)
    + _family("image", "phota-*", "gemini-*-image*", "grok-imagine*", "nano-banana*", "gpt-image-*")
    + _family("image", "seedream*", "flux*", "qwen-image*", "wan-*image*")
    + _family(
        "llm",
        "gpt-*",
        "o3*",
        "o4*",
        "claude-*",
        "gemini-*",
        "deepseek-*",
        "qwen*",
        "grok-*",
        "kimi-*",
        "glm-*",
        "nemotron-*",
    )
)

CATALOGUE = Catalogue(
    tuple((glob, ModelInfo(KINDS[m.type], "per_call", ext=m.ext, outputs=m.tracks)) for glob, m in MODELS)
)


@lru_cache(maxsize=256)  # runs on every poll and callback render
def lookup(model: str) -> FoxModel | None:
    return next((m for glob, m in MODELS if fnmatchcase(model, glob)), None)


def _token(rng: random.Random, length: int, alphabet: str = "0123456789abcdef") -> str:
    return "".join(rng.choices(alphabet, k=length))


def transcript(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A consistent ElevenLabs-style transcript: word times increase and lie inside the audio."""
    fake, rng = faker_for(task_id), random.Random(task_id)
    words = fake.sentence(nb_words=rng.randint(6, 14)).split()
    audio = float(rng.randint(5, 30))
    slot = audio / len(words)
    entries: list[dict[str, Any]] = []
    for i, word in enumerate(words):
        start = round(i * slot, 3)
        end = round(start + slot * 0.8, 3)
        entries.append({"text": word, "start": start, "end": end, "type": "word"})
        if i < len(words) - 1:
            entries.append({"text": " ", "start": end, "end": round((i + 1) * slot, 3), "type": "spacing"})
    language = params.get("language_code")
    return {
        "text": " ".join(words),
        "language_code": language if isinstance(language, str) and language else "en",
        "language_probability": round(rng.uniform(0.9, 1.0), 4),
        "words": entries,
    }


def results(
    model: FoxModel, task_id: str, params: Mapping[str, Any], urls: tuple[str, ...]
) -> list[dict[str, Any]]:
    """``results`` of a completed non-LLM task of ``model``."""
    rng = random.Random(task_id)
    if model.shape == "voice":
        return [{"voice_id": "voice_" + _token(rng, 16)}]
    if model.shape == "voice_clone":
        preview = [{"url": url, "content_type": _content_type(url)} for url in urls]
        return [{"voice_id": "voice_" + _token(rng, 16)}, *preview]
    if model.shape == "character":
        name = params.get("name")
        return [
            {
                "character_id": "char_" + _token(rng, 16),
                "name": name if isinstance(name, str) and name else faker_for(task_id).first_name(),
            }
        ]
    if model.shape == "profile":
        return [{"result_type": "profile", "profile_id": "profile_" + _token(rng, 16)}]
    if model.shape == "transcript":
        return [transcript(task_id, params)]
    if model.shape in ("pbr_maps", "material"):
        textures = urls[: -len(PBR_MAPS)]
        maps = urls[-len(PBR_MAPS) :]
        return [{"url": u, "content_type": _content_type(u), "result_type": "texture"} for u in textures] + [
            {"url": u, "content_type": _content_type(u), "result_type": "pbr_map", "map_type": kind}
            for u, kind in zip(maps, PBR_MAPS, strict=True)
        ]
    out: list[dict[str, Any]] = []
    for url in urls:
        entry: dict[str, Any] = {"url": url}
        if model.content_type:
            entry["content_type"] = _content_type(url)
        if model.shape == "url_seed":
            seed = params.get("seed")
            entry["seed"] = (
                seed if isinstance(seed, int) and not isinstance(seed, bool) else rng.randrange(2**31)
            )
        out.append(entry)
    return out


def chat_completion(
    task_id: str, model: str, created: int, prompt_text: str, max_tokens: int | None
) -> dict[str, Any]:
    """A full OpenAI ``chat.completion`` object with faker text and consistent token counts."""
    fake, rng = faker_for(task_id), random.Random(task_id)
    content = fake.paragraph(nb_sentences=3)
    completion = len(content) // 4 + 1
    finish = "stop"
    if max_tokens is not None and completion > max_tokens:
        content, completion, finish = content[: max_tokens * 4], max_tokens, "length"
    prompt_tokens = len(prompt_text) // 4 + 1
    return {
        "id": "chatcmpl-" + _token(rng, 24, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        },
    }


def _content_type(url: str) -> str:
    return CONTENT_TYPES[url.rsplit(".", 1)[-1]]
