"""APIXO's model catalogue: each model's output kind, billing unit and documented ``input`` fields.

Every ``input`` model allows fields it does not document (the real API ignores them); the
provider records each as a contract note in the journal. Mode rules (which modes take images, how
many, which fields only text modes take) are data on each class, checked by one validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fakeapi.catalogue import Catalogue, ModelInfo
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
}

CATALOGUE = Catalogue(tuple((name, model.info) for name, model in MODELS.items()))


def undocumented_fields(data: ModelInput) -> list[str]:
    """The ``input`` fields a request sent that the model's page does not document."""
    extra: dict[str, Any] = data.model_extra or {}
    return sorted(extra)
