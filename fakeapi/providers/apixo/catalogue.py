"""APIXO's model catalogue: each model's output kind, billing unit and documented ``input`` fields.

Every ``input`` model allows fields it does not document (the real API ignores them); the
provider records each as a contract note in the journal. Mode rules (which modes take images, how
many, which fields only text modes take) are data on each class, checked by one validator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fakeapi.catalogue import SUNO, Catalogue, ModelInfo, requested_seconds
from fakeapi.errors import FieldRule

Url = Annotated[str, Field(min_length=1, pattern=r"^https?://")]
Seed = Annotated[int, Field(ge=-1, le=2147483647)]


def characters(low: int, high: int) -> Any:
    """A required text field of ``low``-``high`` characters."""
    return Field(min_length=low, max_length=high)


class ModelInput(BaseModel):
    """The fields every model's ``input`` has, and the rules that tie images to modes.

    ``image_modes`` maps each mode that takes ``image_urls`` to the (least, most) images it takes;
    every other mode refuses them. ``text_only`` fields are refused in the image modes.
    """

    # Built on first use, not at import: a model's input is checked at its first submit.
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {}
    text_only: ClassVar[tuple[str, ...]] = ()

    mode: str
    image_urls: list[Url] | None = None

    @model_validator(mode="after")
    def _images_fit_the_mode(self) -> ModelInput:
        images = self.image_urls
        bounds = self.image_modes.get(self.mode)
        if bounds is None:
            if images is not None:
                raise FieldRule("image_urls", f"not accepted in mode {self.mode}")
            return self
        low, high = bounds
        count = len(images or [])
        if not low <= count <= high:
            wanted = f"{low}" if low == high else f"{low} to {high}"
            raise FieldRule("image_urls", f"takes {wanted} images in mode {self.mode}, not {count}")
        for name in self.text_only:
            if getattr(self, name) is not None:
                raise FieldRule(name, f"only accepted in the text modes, not in {self.mode}")
        return self

    @property
    def outputs(self) -> int:
        """How many result URLs the task produces."""
        return 1


class ViduQ3Input(ModelInput):
    """vidu-q3 (apixo.ai/docs/models/video/vidu-q3)."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {
        "image-to-video": (1, 2),
        "turbo-image-to-video": (1, 2),
    }
    text_only: ClassVar[tuple[str, ...]] = ("style", "aspect_ratio")

    mode: Literal["text-to-video", "image-to-video", "turbo-text-to-video", "turbo-image-to-video"]
    prompt: str = characters(1, 5000)
    resolution: Literal["540p", "720p", "1080p"] = "720p"
    duration: int = Field(default=5, ge=1, le=16)
    style: Literal["general", "anime"] | None = None
    aspect_ratio: Literal["16:9", "9:16", "4:3", "3:4", "1:1"] | None = None
    movement: Literal["auto", "small", "medium", "large"] | None = None
    sound: bool = True
    bgm: bool = True
    seed: Seed | None = None


class NanoBananaInput(ModelInput):
    """nano-banana (apixo.ai/docs/models/image/nano-banana)."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-image": (1, 5)}

    mode: Literal["text-to-image", "image-to-image"]
    prompt: str = characters(1, 5000)
    aspect_ratio: (
        Literal["1:1", "4:3", "3:4", "3:2", "2:3", "4:5", "5:4", "9:16", "16:9", "21:9", "auto"] | None
    ) = None
    output_format: Literal["png", "jpeg"] | None = None


class Flux2Input(ModelInput):
    """flux-2 (apixo.ai/docs/models/image/flux-2): pro and flex tiers."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {
        "pro-image-to-image": (1, 8),
        "flex-image-to-image": (1, 8),
    }

    mode: Literal["pro-text-to-image", "pro-image-to-image", "flex-text-to-image", "flex-image-to-image"]
    prompt: str = characters(3, 5000)
    aspect_ratio: Literal["1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "auto"] | None = None
    resolution: Literal["1K", "2K"] | None = None


class GptImage1Input(ModelInput):
    """gpt-image-1 (apixo.ai/docs/models/image/gpt-image-1): the mode is the model id."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"gpt-image-1": (0, 5)}

    mode: Literal["gpt-image-1"]
    prompt: str = characters(1, 10000)
    aspect_ratio: Literal["1:1", "2:3", "3:2"] | None = None
    num_images: Literal[1, 2, 4] = 1

    @property
    def outputs(self) -> int:
        return self.num_images


class Sora2Input(ModelInput):
    """sora-2 (apixo.ai/docs/models/video/sora-2)."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-video": (1, 1)}

    mode: Literal["text-to-video", "image-to-video"]
    prompt: str = characters(1, 10000)
    aspect_ratio: Literal["landscape", "portrait"] | None = None
    duration: Literal[4, 8, 12] = 4
    remove_watermark: bool | None = None


class Kling26Input(ModelInput):
    """kling-2-6 (apixo.ai/docs/models/video/kling-2-6); ``sound`` is required."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-video": (1, 2)}
    text_only: ClassVar[tuple[str, ...]] = ("aspect_ratio",)

    mode: Literal["text-to-video", "image-to-video"]
    prompt: str = characters(1, 1000)
    aspect_ratio: Literal["1:1", "9:16", "16:9"] | None = None
    duration: Literal[5, 10] = 5
    sound: bool


class Veo31Input(ModelInput):
    """veo-3-1 (apixo.ai/docs/models/video/veo-3-1): the images follow ``generationType``, not the mode."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"quality": (0, 3), "fast": (0, 3)}

    mode: Literal["quality", "fast"]
    prompt: str = characters(1, 10000)
    generationType: Literal["TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO"] = (
        "TEXT_2_VIDEO"
    )
    aspect_ratio: Literal["16:9", "9:16", "auto"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _images_fit_the_generation_type(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        images = data.get("image_urls")
        count = len(images) if isinstance(images, list) else 0
        kind = data.get("generationType", "TEXT_2_VIDEO")
        if kind == "TEXT_2_VIDEO" and images is not None:
            raise FieldRule("image_urls", "not accepted with generationType TEXT_2_VIDEO")
        if kind == "FIRST_AND_LAST_FRAMES_2_VIDEO" and not 1 <= count <= 2:
            raise FieldRule("image_urls", f"takes 1 to 2 images with generationType {kind}, not {count}")
        if kind == "REFERENCE_2_VIDEO":
            if not 1 <= count <= 3:
                raise FieldRule("image_urls", f"takes 1 to 3 images with generationType {kind}, not {count}")
            if data.get("mode") != "fast" or data.get("aspect_ratio", "16:9") != "16:9":
                raise FieldRule("generationType", f"{kind} needs mode fast and aspect_ratio 16:9")
        return data


class Seedance20Input(ModelInput):
    """seedance-2-0 (apixo.ai/docs/models/video/seedance-2-0)."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {
        "first_and_last_frames": (1, 2),
        "omni_reference": (1, 9),
    }

    mode: Literal["text-to-video", "first_and_last_frames", "omni_reference"]
    prompt: str = characters(1, 5000)
    resolution: Literal["480p", "720p", "1080p"] = "720p"
    duration: int = Field(default=5, ge=4, le=15)


class NanoBanana2Input(ModelInput):
    """nano-banana-2 (apixo.ai/docs/models/image/nano-banana-2): ``aspect_ratio`` and ``resolution``
    are required."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-image": (1, 14)}

    mode: Literal["text-to-image", "image-to-image"]
    prompt: str = characters(1, 20000)
    aspect_ratio: Literal[
        "auto",
        "1:1",
        "1:4",
        "4:1",
        "1:8",
        "3:2",
        "2:3",
        "3:4",
        "4:3",
        "4:5",
        "5:4",
        "8:1",
        "9:16",
        "16:9",
        "21:9",
    ]
    resolution: Literal["1k", "2k", "4k"]
    output_format: Literal["png", "jpeg", "jpg"] | None = None


class Sora2ProInput(ModelInput):
    """sora-2-pro (apixo.ai/docs/models/video/sora-2-pro): ``size`` for text, ``resolution`` for image."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-video": (1, 1)}
    text_only: ClassVar[tuple[str, ...]] = ("size",)

    mode: Literal["text-to-video", "image-to-video"]
    prompt: str = characters(1, 5000)
    duration: Literal[4, 8, 12] = 4
    size: Literal["720*1280", "1280*720", "1024*1792", "1792*1024"] | None = None
    resolution: Literal["720p", "1080p"] | None = None


class Ltx219bInput(ModelInput):
    """ltx-2-19b (apixo.ai/docs/models/video/ltx-2-19b): the page names its modes but not its other
    fields, so only the modes and the prompt are checked (the LoRA fields pass as undocumented)."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {
        "image-to-video": (1, 1),
        "image-to-video-LoRA": (1, 1),
    }

    mode: Literal["text-to-video", "image-to-video", "text-to-video-LoRA", "image-to-video-LoRA"]
    prompt: str = characters(1, 10000)


class Seedream45Input(ModelInput):
    """seedream-4-5 (apixo.ai/docs/models/image/seedream-4-5): ``max_images`` images per task."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-image": (1, 14)}

    mode: Literal["text-to-image", "image-to-image"]
    prompt: str = characters(1, 5000)
    max_images: int = Field(default=1, ge=1, le=10)
    resolution: str | None = None
    aspect_ratio: Literal["1:1", "2:3", "3:2", "4:3", "3:4", "9:16", "16:9", "21:9"] | None = None
    sequential_image_generation: Literal["disabled", "auto"] = "disabled"

    @property
    def outputs(self) -> int:
        return self.max_images


class Seedream50Input(Seedream45Input):
    """seedream-5-0 (apixo.ai/docs/models/image/seedream-5-0): JPEG unless ``output_format`` says png."""

    resolution: Literal["2K", "3K"] | None = None
    web_search: bool = False
    output_format: Literal["jpeg", "png"] = "jpeg"


class GptImage2Input(ModelInput):
    """gpt-image-2 (apixo.ai/docs/models/image/gpt-image-2): its fields as a third-party summary of
    the page lists them (the page itself was not found); up to 16 images, as OpenAI's edits take."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-image": (1, 16)}

    mode: Literal["text-to-image", "image-to-image"]
    prompt: str = characters(1, 32000)
    aspect_ratio: Literal["auto", "1:1", "4:3", "3:4", "16:9", "9:16"] = "auto"
    resolution: Literal["1k", "2k", "4k"] = "1k"


class Kling30StdInput(ModelInput):
    """kling-3-0-std (apixo.ai/docs/models/video/kling-3-0-std): ``motion-control`` moves one image as
    one reference video does, and needs no prompt."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-video": (1, 2), "motion-control": (1, 1)}
    text_only: ClassVar[tuple[str, ...]] = ("aspect_ratio",)

    mode: Literal["text-to-video", "image-to-video", "motion-control"]
    prompt: str | None = Field(default=None, min_length=1, max_length=2500)
    video_urls: list[Url] | None = None
    duration: int = Field(default=5, ge=3, le=15)
    aspect_ratio: Literal["1:1", "9:16", "16:9"] | None = None
    sound: bool | None = None

    @model_validator(mode="after")
    def _motion_control_takes_a_video(self) -> Kling30StdInput:
        if self.mode == "motion-control":
            if len(self.video_urls or []) != 1:
                raise FieldRule("video_urls", "takes exactly 1 video in mode motion-control")
        elif self.video_urls is not None:
            raise FieldRule("video_urls", f"not accepted in mode {self.mode}")
        elif self.prompt is None:
            raise FieldRule("prompt", f"required in mode {self.mode}")
        return self


class Hailuo23Input(ModelInput):
    """hailuo-2-3 (apixo.ai/docs/models/video/hailuo-2-3): standard modes take a 6 or 10 second
    ``duration``; pro modes always make 5 seconds."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {
        "standard-image-to-video": (1, 1),
        "pro-image-to-video": (1, 1),
    }

    mode: Literal[
        "standard-text-to-video", "standard-image-to-video", "pro-text-to-video", "pro-image-to-video"
    ]
    prompt: str = characters(1, 2000)
    duration: Literal[6, 10, "6", "10"] | None = None

    @model_validator(mode="after")
    def _standard_modes_take_a_duration(self) -> Hailuo23Input:
        if self.mode.startswith("standard-") and self.duration is None:
            raise FieldRule("duration", f"required in mode {self.mode}: 6 or 10")
        return self


class Wan25Input(ModelInput):
    """wan-2-5 (apixo.ai/docs/models/video/wan-2-5): the page's example fields, their ranges unlisted."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-video": (1, 1)}

    mode: Literal["text-to-video", "image-to-video"]
    prompt: str = characters(1, 5000)
    resolution: str | None = None
    duration: int | None = Field(default=None, ge=1, le=15)
    aspect_ratio: str | None = None
    negative_prompt: str | None = None
    seed: Seed | None = None
    enable_prompt_expansion: bool | None = None


class GrokVideoInput(ModelInput):
    """grok-video (apixo.ai/docs/models/video/grok-video): image-to-video animates an image, or an
    earlier grok image task's result (``task_id``, ``index``) instead."""

    image_modes: ClassVar[dict[str, tuple[int, int]]] = {"image-to-video": (0, 1)}

    mode: Literal["text-to-video", "image-to-video"]
    prompt: str = characters(1, 5000)
    duration: int | None = Field(default=None, ge=1, le=15)
    resolution: str | None = None
    aspect_ratio: str | None = None
    style: str | None = None
    task_id: str | None = None
    index: int | None = Field(default=None, ge=0)


SunoVersion = Literal["V4", "V4_5", "V4_5ALL", "V4_5PLUS", "V5", "V5_5"]
Weight = Annotated[float, Field(ge=0, le=1)]


class SunoInput(ModelInput):
    """suno (apixo.ai/docs/models/audio/suno): the mode is the model version; two tracks per task.

    Simple mode takes a prompt of up to 500 characters; custom mode takes a style and a title, and
    the lyrics (``prompt``) unless instrumental, with longer limits from V4_5 on.
    """

    mode: SunoVersion
    customMode: bool
    instrumental: bool
    prompt: str | None = Field(default=None, min_length=1, max_length=5000)
    style: str | None = Field(default=None, min_length=1, max_length=1000)
    title: str | None = Field(default=None, min_length=1, max_length=80)
    negativeTags: str | None = None
    styleWeight: Weight | None = None
    weirdnessConstraint: Weight | None = None
    audioWeight: Weight | None = None
    vocalGender: Literal["m", "f"] | None = None

    @model_validator(mode="after")
    def _fields_fit_the_mode(self) -> SunoInput:
        if not self.customMode:
            if self.prompt is None or len(self.prompt) > 500:
                raise FieldRule("prompt", "takes 1 to 500 characters when customMode is false")
            return self
        for name in ("style", "title") if self.instrumental else ("style", "title", "prompt"):
            if getattr(self, name) is None:
                raise FieldRule(name, "required when customMode is true")
        if self.mode == "V4" and len(self.prompt or "") > 3000:
            raise FieldRule("prompt", "takes at most 3000 characters in mode V4")
        if self.mode == "V4" and len(self.style or "") > 200:
            raise FieldRule("style", "takes at most 200 characters in mode V4")
        return self

    @property
    def outputs(self) -> int:
        return SUNO.outputs


@dataclass(frozen=True, slots=True)
class ApixoModel:
    """One model of the catalogue."""

    info: ModelInfo
    input: type[ModelInput]


MODELS: dict[str, ApixoModel] = {
    "vidu-q3": ApixoModel(ModelInfo("video", "duration"), ViduQ3Input),
    "sora-2": ApixoModel(ModelInfo("video", "duration"), Sora2Input),
    "kling-2-6": ApixoModel(ModelInfo("video", "duration"), Kling26Input),
    "veo-3-1": ApixoModel(ModelInfo("video", "per_call"), Veo31Input),
    "seedance-2-0": ApixoModel(ModelInfo("video", "duration"), Seedance20Input),
    "nano-banana": ApixoModel(ModelInfo("image", "per_call"), NanoBananaInput),
    "flux-2": ApixoModel(ModelInfo("image", "per_call"), Flux2Input),
    "gpt-image-1": ApixoModel(ModelInfo("image", "per_call"), GptImage1Input),
    "nano-banana-2": ApixoModel(ModelInfo("image", "per_call"), NanoBanana2Input),
    "sora-2-pro": ApixoModel(ModelInfo("video", "duration"), Sora2ProInput),
    "ltx-2-19b": ApixoModel(ModelInfo("video", "per_call"), Ltx219bInput),
    "seedream-4-5": ApixoModel(ModelInfo("image", "per_call"), Seedream45Input),
    "seedream-5-0": ApixoModel(ModelInfo("image", "per_call"), Seedream50Input),
    "gpt-image-2": ApixoModel(ModelInfo("image", "per_call"), GptImage2Input),
    "kling-3-0-std": ApixoModel(ModelInfo("video", "duration"), Kling30StdInput),
    "hailuo-2-3": ApixoModel(ModelInfo("video", "per_call"), Hailuo23Input),
    "wan-2-5": ApixoModel(ModelInfo("video", "duration"), Wan25Input),
    "grok-video": ApixoModel(ModelInfo("video", "per_call"), GrokVideoInput),
    "suno": ApixoModel(SUNO, SunoInput),
}
# USD, as the older model pages state them: nano-banana $0.03/image, suno $0.12/use; sora-2
# "$0.10-0.15/video" for its 10 and 15 second videos, that is $0.01 per second of ``duration``.
# The other models' pages publish no price (a scenario's ``prices`` sets one): they cost 0.
PER_IMAGE = {"nano-banana": 0.03}
PER_TASK = {"suno": 0.12}
PER_SECOND = {"sora-2": 0.01}


def price(model: str, params: Mapping[str, Any], outputs: int) -> float:
    """A task's price in USD from the model pages; models without a published price cost 0."""
    if model in PER_SECOND:
        return round(PER_SECOND[model] * (requested_seconds(params) or 0.0), 9)
    return round(PER_IMAGE.get(model, 0.0) * outputs + PER_TASK.get(model, 0.0), 9)


CATALOGUE = Catalogue(tuple((name, model.info) for name, model in MODELS.items()))


def undocumented_fields(data: ModelInput) -> list[str]:
    """The ``input`` fields a request sent that the model's page does not document."""
    extra: dict[str, Any] = data.model_extra or {}
    return sorted(extra)
