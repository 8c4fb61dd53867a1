"""Scenario files: what the fake does, as validated data.

A scenario is YAML (or JSON) checked by the pydantic models below with ``extra="forbid"``. Bundled
scenarios load by name, user scenarios by path; a wrong file gets a ``ScenarioError`` naming the
file, the line and the path inside it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from fakeapi.clock import DEFAULT_START
from fakeapi.errors import ScenarioError

# libyaml's loader parses scenario files about ten times faster; PyYAML without it still works.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """``30``, ``"30s"``, ``"1.5m"``, ``"250ms"``, ``"2h"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '30s' or '2m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError("a duration is a number of seconds or a string such as '30s' or '2m'")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a duration must be a finite, non-negative number of seconds")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
CanonicalState = Literal["queued", "running", "succeeded", "failed"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


FailureReason = Literal[
    "generation_failed",
    "content_violation",
    "nsfw",
    "input_image_sensitive",
    "prohibited_content",
    "prompt_too_long",
    "invalid_prompt",
    "invalid_image_url",
    "image_too_large",
    "unsupported_format",
    "image_download_failed",
    "timeout",
    "model_unavailable",
    "insufficient_credits",
]


# What a failure says when the scenario gives no message (APIXO words them its own way).
REASON_MESSAGES: dict[FailureReason, str] = {
    "generation_failed": "generation failed",
    "content_violation": "the request was flagged by content moderation",
    "nsfw": "NSFW content detected",
    "input_image_sensitive": "the input image was flagged as sensitive content",
    "prohibited_content": "prohibited content detected",
    "prompt_too_long": "the prompt is too long",
    "invalid_prompt": "the prompt is invalid",
    "invalid_image_url": "the image URL could not be fetched",
    "image_too_large": "the input image is too large",
    "unsupported_format": "the input image format is not supported",
    "image_download_failed": "the input image could not be downloaded",
    "timeout": "generation timed out",
    "model_unavailable": "the model is unavailable",
    "insufficient_credits": "insufficient credits",
}


class FailureSpec(_Model):
    """How a task fails: why, and the message (and, where the API has one, the code) the client sees.

    ``reason`` is API-neutral; each API words it in its own vocabulary unless ``code`` gives the
    exact code to show. A ``message`` left out takes the API's description of the reason.
    """

    reason: FailureReason = "generation_failed"
    message: str = "generation failed"
    code: str | None = None

    @model_validator(mode="after")
    def _message_from_reason(self) -> FailureSpec:
        if "message" not in self.model_fields_set:
            # Frozen model: fill the default in place; ``model_fields_set`` still says it was not given.
            self.__dict__["message"] = REASON_MESSAGES[self.reason]
        return self


class Uniform(_Model):
    """A duration drawn (seeded) uniformly between two bounds: ``{uniform: [2s, 5s]}``."""

    uniform: tuple[Duration, Duration]

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.uniform[0] > self.uniform[1]:
            raise ValueError("uniform: the first bound must not exceed the second")
        return self


class LognormalSpec(_Model):
    median: Duration
    sigma: float = Field(default=0.5, ge=0, le=5)


class Lognormal(_Model):
    """A long-tailed duration (seeded): ``{lognormal: {median: 30s, sigma: 0.5}}``."""

    lognormal: LognormalSpec


Curve = Literal["linear", "ease_in", "ease_out", "ease_in_out"]


def _duration_form(value: object) -> str:
    if isinstance(value, dict | Uniform | Lognormal):
        return "form[lognormal]" if isinstance(value, Lognormal) or "lognormal" in value else "form[uniform]"
    return "form[fixed]"


# One form is checked per value, so a wrong duration gets one error, not one per form. The tags
# carry brackets so that error paths leave them out (see ``_data_path``).
PhaseDuration = Annotated[
    Annotated[Duration, Tag("form[fixed]")]
    | Annotated[Uniform, Tag("form[uniform]")]
    | Annotated[Lognormal, Tag("form[lognormal]")],
    Discriminator(_duration_form),
]


class Phase(_Model):
    """One step of a task's life: a state held for a time, for a number of polls, or until told.

    ``for`` is a fixed duration or a seeded draw (``uniform`` / ``lognormal``); ``curve`` shapes how
    a running phase's progress rises over its time or polls.
    """

    state: CanonicalState
    duration: PhaseDuration | None = Field(default=None, alias="for")
    jitter: Duration | None = None
    polls: int | None = Field(default=None, ge=0)
    curve: Curve = "linear"
    error: FailureSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Phase:
        if self.state in TERMINAL_STATES:
            if self.duration is not None or self.polls is not None or self.jitter is not None:
                raise ValueError(f"a '{self.state}' phase is terminal: it takes no for/polls/jitter")
        elif self.duration is not None and self.polls is not None:
            raise ValueError("a phase progresses by time ('for') or by polls ('polls'), not both")
        if self.jitter is not None and not isinstance(self.duration, float):
            raise ValueError("'jitter' needs a fixed 'for' (a drawn duration has its own spread)")
        if self.error is not None and self.state != "failed":
            raise ValueError("only a 'failed' phase takes 'error'")
        return self

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


def _one_or_more(value: object) -> object:
    return value if isinstance(value, list) else [value]


Nth = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1), BeforeValidator(_one_or_more)]


def counted_in(count: int, nth: list[int] | None, first: int | None) -> bool:
    """Whether the ``count``-th match (1-based) is among the ``nth`` ones and the ``first`` N."""
    return (nth is None or count in nth) and (first is None or count <= first)


class Match(_Model):
    """Which submits a rule applies to; every given field must match (an empty match takes all).

    ``nth`` and ``first`` count the submits that match the other fields, one count per rule, or per
    prompt or key with ``count_by``: ``{prompt: x, first: 2, count_by: prompt}`` takes the first two
    submits of each such prompt ("fail twice, then succeed" with a later rule).
    """

    api: str | None = None
    model: str | None = Field(default=None, description="glob, e.g. 'kling-*'")
    model_pattern: str | None = Field(default=None, description="regular expression on the model")
    kind: Literal["image", "video", "audio", "text"] | None = None
    prompt: str | None = Field(default=None, description="regular expression searched in the prompt")
    key: str | None = Field(default=None, description="glob on the API key")
    header: dict[str, str] = Field(default={}, description="request header name -> glob on its value")
    nth: Nth | None = Field(default=None, description="only the n-th matching submit(s), from 1")
    first: int | None = Field(default=None, ge=1, description="only the first N matching submits")
    count_by: Literal["rule", "prompt", "key"] = "rule"

    @model_validator(mode="after")
    def _patterns_compile(self) -> Match:
        if "count_by" in self.model_fields_set and not self.counted:
            raise ValueError("'count_by' needs 'nth' or 'first'")
        for name in ("model_pattern", "prompt"):
            pattern = getattr(self, name)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{name}: not a regular expression: {exc}") from exc
        return self

    @property
    def is_fallback(self) -> bool:
        return self == Match()

    @property
    def counted(self) -> bool:
        """Whether the rule takes only some of the submits it matches, by their count."""
        return self.nth is not None or self.first is not None

    def matches(
        self,
        *,
        api: str,
        model: str,
        kind: str,
        prompt: str,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether a submit matches every field but the counted ones (``nth``, ``first``)."""
        return (
            (self.api is None or self.api == api)
            and (self.model is None or fnmatchcase(model, self.model))
            and (self.model_pattern is None or re.fullmatch(self.model_pattern, model) is not None)
            and (self.kind is None or self.kind == kind)
            and (self.prompt is None or re.search(self.prompt, prompt) is not None)
            and glob_matches(self.key, key)
            and headers_match(self.header, headers or {})
        )

    def admits(self, count: int) -> bool:
        """Whether the ``count``-th matching submit (1-based) is one this rule takes."""
        return counted_in(count, self.nth, self.first)


def glob_matches(glob: str | None, value: str | None) -> bool:
    """No glob matches anything; a glob matches only a value (a request with no key has none)."""
    return glob is None or (value is not None and fnmatchcase(value, glob))


def headers_match(wanted: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """Every wanted header is present with a value matching its glob (names are case-insensitive)."""
    for name, glob in wanted.items():
        value = headers.get(name)
        if value is None:
            value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
        if value is None or not fnmatchcase(value, glob):
            return False
    return True


class Rule(_Model):
    """A match and the phases a matching task goes through; the first matching rule wins."""

    name: str | None = None
    match: Match = Match()
    phases: list[Phase] = Field(min_length=1)

    @model_validator(mode="after")
    def _ends_once_in_a_terminal_state(self) -> Rule:
        if not self.phases[-1].terminal:
            raise ValueError("the last phase must be 'succeeded' or 'failed'")
        if any(p.terminal for p in self.phases[:-1]):
            raise ValueError("only the last phase may be terminal")
        return self


class KeySpec(_Model):
    """An API key's account on each API: balance (``None``: unlimited) and caps.

    A cap left out takes the API's default (see ``apis``); ``null`` means no cap for this key.
    """

    balance: float | None = None
    rpm: int | None = Field(default=None, gt=0, description="requests per minute")
    max_concurrent: int | None = Field(default=None, gt=0, description="unfinished tasks at once")


class Accounts(_Model):
    """Which keys are accepted. ``open``: any non-empty key, each with the ``open_key`` account."""

    open: bool = True
    open_key: KeySpec = KeySpec()
    keys: dict[str, KeySpec] = {}


def _price_from_number(value: object) -> object:
    return {"per_call": value} if isinstance(value, int | float) else value


class Price(_Model):
    """What a task costs: per call, plus per billed second of output for duration models."""

    per_call: float = Field(default=0.0, ge=0)
    per_second: float = Field(default=0.0, ge=0)


PriceSpec = Annotated[Price, BeforeValidator(_price_from_number)]


class ClockSpec(_Model):
    """The clock; ``mode`` unset lets the host choose (virtual in pytest, system for ``serve``)."""

    mode: Literal["virtual", "system"] | None = None
    start: datetime | float = DEFAULT_START
    speed: float = Field(default=1.0, gt=0)

    @property
    def start_seconds(self) -> float:
        return self.start.timestamp() if isinstance(self.start, datetime) else float(self.start)


class ModelsSpec(_Model):
    """Model catalogue policy: unknown models are refused unless ``accept_unknown``; submits to an
    ``unavailable`` model (glob) get the API's 503."""

    accept_unknown: bool = False
    unknown_kind: Literal["image", "video", "audio", "text"] = "image"
    unavailable: list[str] = Field(default=[], description="model globs whose submits answer 503")


FaultPoint = Literal["submit", "poll", "download", "webhook"]
FaultEffect = Literal["latency", "status", "reset", "truncate", "malformed", "hang"]


class Trigger(_Model):
    """When a fault fires among the requests it matches: every time (nothing given), the n-th,
    the first N (then the service recovers), or with a seeded probability."""

    nth: Nth | None = None
    first: int | None = Field(default=None, ge=1)
    probability: float | None = Field(default=None, ge=0, le=1)


class Fault(_Model):
    """Something going wrong on the way, at a point of the exchange.

    Effects: ``latency`` (the answer comes ``latency`` later; real seconds over HTTP, clock seconds
    for a webhook), ``status`` (that HTTP status in the API's own envelope), ``reset`` (the
    connection is dropped with no answer), ``truncate`` (the connection drops halfway through the
    body), ``malformed`` (a complete answer whose JSON is cut short), ``hang`` (no answer for
    ``latency``, 30 s by default, then the connection closes). ``process`` lets the request take
    effect first (the task is created, the answer is lost); truncate and malformed always do.
    """

    name: str | None = None
    at: Annotated[list[FaultPoint], BeforeValidator(_one_or_more)] = Field(
        min_length=1, description="one point or a list"
    )
    effect: FaultEffect
    api: str | None = None
    key: str | None = Field(default=None, description="glob on the API key")
    header: dict[str, str] = Field(default={}, description="request header name -> glob on its value")
    path: str | None = Field(default=None, description="glob on the path after the API's mount point")
    latency: Duration | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None
    retry_after: int | None = Field(default=None, ge=0)
    process: bool = False
    when: Trigger = Trigger()

    @model_validator(mode="after")
    def _complete(self) -> Fault:
        if self.effect == "status" and self.status is None:
            raise ValueError("a 'status' fault needs 'status' (e.g. 503)")
        if self.effect == "latency" and self.latency is None:
            raise ValueError("a 'latency' fault needs 'latency' (e.g. 2s)")
        if self.effect != "status" and (self.status, self.retry_after, self.message) != (None, None, None):
            raise ValueError("'status', 'message' and 'retry_after' belong to a 'status' fault")
        if self.effect not in ("latency", "hang") and self.latency is not None:
            raise ValueError("'latency' belongs to a 'latency' or 'hang' fault")
        if "webhook" in self.at and self.header:
            raise ValueError("a webhook delivery has no request headers to match: drop 'header' or 'webhook'")
        return self

    def matches(
        self,
        point: FaultPoint,
        *,
        api: str | None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        path: str = "",
    ) -> bool:
        """Whether an exchange at ``point`` is one this fault is about (its trigger aside)."""
        return (
            point in self.at
            and (self.api is None or self.api == api)
            and glob_matches(self.key, key)
            and glob_matches(self.path, path)
            and headers_match(self.header, headers or {})
        )


class ApiSpec(_Model):
    """One API's settings. A field left out keeps the API's documented default; ``null`` turns it off."""

    rpm: int | None = Field(default=None, gt=0, description="requests per minute per key")
    max_concurrent: int | None = Field(default=None, gt=0, description="unfinished tasks per key")
    result_ttl: Duration | None = Field(default=None, description="how long result URLs stay valid")
    charge: Literal["submit", "success"] = Field(
        default="submit",
        description="when a task's price is taken: at submit, or held at submit and taken when it succeeds",
    )


class ApixoSpec(ApiSpec):
    """APIXO's settings, with the choices its docs leave open."""

    fail_codes: Literal["upper_snake", "provider"] = Field(
        default="upper_snake",
        description="failCode vocabulary: CONTENT_VIOLATION style (model pages) or SensitiveContent style",
    )
    balance_error: Literal[402, 400] = Field(
        default=402, description="402 'Insufficient balance' (errors page) or 400 'Insufficient credits'"
    )


class FoxapiSpec(ApiSpec):
    """FoxAPI's settings."""

    public_https_callbacks: bool = Field(
        default=False,
        description="refuse callback URLs that are not HTTPS on a public address, as the real service does",
    )


class PixapiSpec(ApiSpec):
    """Pixapi's settings, with the choice its docs leave open."""

    error_codes: Literal["numeric", "string"] = Field(
        default="numeric",
        description="error.code as the HTTP status with a type (async and errors pages) or a string code",
    )
    # "Credits are consumed after successful output" (billing page): held at submit, taken on success.
    charge: Literal["submit", "success"] = Field(
        default="success", description="Pixapi takes credits after a successful output (billing page)"
    )


class ApisSpec(_Model):
    """Per-API settings, by API name."""

    rixapi: ApiSpec = ApiSpec()
    apixo: ApixoSpec = ApixoSpec()
    foxapi: FoxapiSpec = FoxapiSpec()
    pixapi: PixapiSpec = PixapiSpec()


class WebhookSpec(_Model):
    """Override an API's callback delivery policy (receiver timeout, delays between retries)."""

    timeout: Duration | None = None
    retry_delays: list[Duration] | None = None


class Scenario(_Model):
    """A whole scenario file."""

    description: str = ""
    seed: int = 0
    clock: ClockSpec = ClockSpec()
    accounts: Accounts = Accounts()
    prices: dict[str, PriceSpec] = Field(
        default={}, description="model glob -> price; unlisted models cost the API's documented price, else 0"
    )
    models: ModelsSpec = ModelsSpec()
    webhooks: WebhookSpec = WebhookSpec()
    apis: ApisSpec = ApisSpec()
    faults: list[Fault] = Field(default=[], description="first matching fault that fires applies")
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_fallback(self) -> Scenario:
        if not self.rules[-1].match.is_fallback:
            raise ValueError("the last rule must be a fallback with an empty 'match'")
        return self

    def price_for(self, model: str) -> Price | None:
        """The scenario's price for ``model``; ``None`` leaves the API's own price list to decide."""
        return next((p for g, p in self.prices.items() if fnmatchcase(model, g)), None)


def bundled_names() -> list[str]:
    """Names of the scenarios shipped with the package."""
    folder = resources.files("fakeapi.scenarios")
    return sorted(e.name.removesuffix(".yaml") for e in folder.iterdir() if e.name.endswith(".yaml"))


def load_scenario(ref: str | Path) -> Scenario:
    """Load a bundled scenario by name, or a scenario file by path."""
    path = Path(ref)
    if path.is_file():
        return parse_scenario(path.read_text(encoding="utf-8"), source=str(path))
    resource = resources.files("fakeapi.scenarios") / f"{ref}.yaml"
    if isinstance(ref, str) and "/" not in ref and resource.is_file():
        return parse_scenario(resource.read_text(encoding="utf-8"), source=f"{ref} (bundled)")
    raise ScenarioError(
        f"{ref}: no such scenario file, and no bundled scenario of that name "
        f"(bundled: {', '.join(bundled_names())})"
    )


@functools.lru_cache(maxsize=64)
def parse_scenario(text: str, *, source: str = "<inline>") -> Scenario:
    """Validate scenario text (YAML or JSON); errors name ``source``, the line and the path.

    Results are cached by text and source (a ``Scenario`` is immutable), so reloading the same
    scenario before every test costs no parsing.
    """
    loader = _YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ScenarioError(f"{where}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return validate_scenario(data, source=source, lines=dict(_node_lines(root, ())))


def validate_scenario(
    data: Any, *, source: str = "<inline>", lines: dict[tuple[str | int, ...], int] | None = None
) -> Scenario:
    """Validate already-parsed scenario data (a dict, e.g. from the fixture or the marker)."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a mapping of settings, not {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _data_path(data, err["loc"])
            line = _nearest_line(lines or {}, loc)
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {_dotted(loc) or '(top level)'}: {err['msg']}")
        raise ScenarioError("\n".join(problems)) from None


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, for editors."""
    return Scenario.model_json_schema(by_alias=True)


def _data_path(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The parts of a pydantic error location that name keys or indexes of the data.

    Pydantic adds tags of its own (union members, validator names) that are not in the data; a
    missing key is kept, since it is what the error is about.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and "[" not in part:
            node = None
        else:
            continue
        path.append(part)
    return tuple(path)


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_line(lines: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _node_lines(
    node: yaml.Node | None, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], int]]:
    if node is None:
        return
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            yield child, key.start_mark.line + 1
            yield from ((p, n) for p, n in _node_lines(value, child) if p != child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _node_lines(item, (*path, index))


def merge_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """``scenario`` with ``overrides`` deep-merged onto its data, validated again.

    Mappings merge key by key; anything else, lists included, replaces what was there. Only the
    settings the scenario sets are carried over, so a setting it leaves out keeps its default.
    """
    data = _merged(scenario.model_dump(by_alias=True, exclude_unset=True), overrides)
    return validate_scenario(data, source="<overrides>")


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            value = _merged(current, value)
        merged[key] = value
    return merged
