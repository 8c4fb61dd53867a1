"""The scenario format as pydantic models (``extra="forbid"``, frozen): what the fake does, as data.

A scenario's ``apis`` section has one member per registered provider, each that provider's own
settings model; ``fakeapi.scenario.loading`` builds the model with it (see ``scenario_model``).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from fakeapi.clock import DEFAULT_START
from fakeapi.scenario.faults import Fault
from fakeapi.scenario.types import (
    TERMINAL_STATES,
    ApiName,
    CanonicalState,
    Curve,
    Duration,
    FailureReason,
    Model,
    Nth,
)

# What a failure says when neither the scenario nor the API words it its own way.
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


class FailureSpec(Model):
    """How a task fails: why, and the message (and, where the API has one, the code) the client sees.

    ``reason`` is API-neutral; each API words it in its own vocabulary unless ``message`` and
    ``code`` give the exact words to show (see ``text``).
    """

    reason: FailureReason = "generation_failed"
    message: str | None = None
    code: str | None = None

    def text(self, words: Mapping[FailureReason, str] = REASON_MESSAGES) -> str:
        """The message the client sees: the scenario's, else ``words`` for the reason."""
        return words[self.reason] if self.message is None else self.message


class Uniform(Model):
    """A duration drawn (seeded) uniformly between two bounds: ``{uniform: [2s, 5s]}``."""

    uniform: tuple[Duration, Duration]

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.uniform[0] > self.uniform[1]:
            raise ValueError("uniform: the first bound must not exceed the second")
        return self


class LognormalSpec(Model):
    median: Duration
    sigma: float = Field(default=0.5, ge=0, le=5)


class Lognormal(Model):
    """A long-tailed duration (seeded): ``{lognormal: {median: 30s, sigma: 0.5}}``."""

    lognormal: LognormalSpec


def _duration_form(value: object) -> str:
    if isinstance(value, dict | Uniform | Lognormal):
        return "form[lognormal]" if isinstance(value, Lognormal) or "lognormal" in value else "form[uniform]"
    return "form[fixed]"


# One form is checked per value, so a wrong duration gets one error, not one per form. The tags
# carry brackets so that error paths leave them out (see ``fakeapi.errors.problem``).
PhaseDuration = Annotated[
    Annotated[Duration, Tag("form[fixed]")]
    | Annotated[Uniform, Tag("form[uniform]")]
    | Annotated[Lognormal, Tag("form[lognormal]")],
    Discriminator(_duration_form),
]


@dataclass(frozen=True, slots=True)
class Step:
    """A phase as one task goes through it: its duration drawn, its failure decided."""

    state: str
    duration: float | None = None
    polls: int | None = None
    error: FailureSpec | None = None
    curve: Curve = "linear"

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


# What a phase that draws nothing resolves with: nothing is drawn from it (a new Random() would read
# the OS's entropy, on every reset).
_NEVER_DRAWN = random.Random(0)


class Phase(Model):
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

    def resolve(self, rng: random.Random) -> Step:
        """The phase for one task: drawn durations and jitter taken from ``rng``."""
        duration: float | None
        if isinstance(self.duration, Uniform):
            duration = rng.uniform(*self.duration.uniform)
        elif isinstance(self.duration, Lognormal):
            spec = self.duration.lognormal
            duration = rng.lognormvariate(math.log(max(spec.median, 1e-9)), spec.sigma)
        else:
            duration = self.duration
        if duration is not None and self.jitter:
            duration = max(0.0, duration + rng.uniform(-self.jitter, self.jitter))
        error = (self.error or FailureSpec()) if self.state == "failed" else None
        return Step(self.state, duration, self.polls, error, self.curve)

    def fixed(self) -> Step | None:
        """The step every task gets from this phase, if the phase draws nothing; else ``None``."""
        if isinstance(self.duration, Uniform | Lognormal) or (self.duration is not None and self.jitter):
            return None
        return self.resolve(_NEVER_DRAWN)


class Match(Model):
    """Which submits a rule applies to; every given field must match (an empty match takes all).

    ``nth`` and ``first`` count the submits that match the other fields, one count per rule, or per
    prompt or key with ``count_by``: ``{prompt: x, first: 2, count_by: prompt}`` takes the first two
    submits of each such prompt ("fail twice, then succeed" with a later rule).
    """

    api: ApiName | None = None
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
        for name, pattern in (("model_pattern", self.model_pattern), ("prompt", self.prompt)):
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


class Rule(Model):
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


class KeySpec(Model):
    """An API key's account on each API: balance (``None``: unlimited) and caps.

    A cap left out takes the API's default (see ``apis``); ``null`` means no cap for this key.
    """

    balance: float | None = None
    rpm: int | None = Field(default=None, gt=0, description="requests per minute")
    max_concurrent: int | None = Field(default=None, gt=0, description="unfinished tasks at once")


class Accounts(Model):
    """Which keys are accepted. ``open``: any non-empty key, each with the ``open_key`` account."""

    open: bool = True
    open_key: KeySpec = KeySpec()
    keys: dict[str, KeySpec] = Field(default={})


def _price_from_number(value: object) -> object:
    return {"per_call": value} if isinstance(value, int | float) else value


class Price(Model):
    """What a task costs: per call, plus per billed second of output for duration models."""

    per_call: float = Field(default=0.0, ge=0)
    per_second: float = Field(default=0.0, ge=0)


PriceSpec = Annotated[Price, BeforeValidator(_price_from_number)]


class ClockSpec(Model):
    """The clock; ``mode`` unset lets the host choose (virtual in pytest, system for ``serve``)."""

    mode: Literal["virtual", "system"] | None = None
    start: datetime | float = DEFAULT_START
    speed: float = Field(default=1.0, gt=0)

    @property
    def start_seconds(self) -> float:
        return self.start.timestamp() if isinstance(self.start, datetime) else float(self.start)


class ModelsSpec(Model):
    """Model catalogue policy: unknown models are refused unless ``accept_unknown``; submits to an
    ``unavailable`` model (glob) get the API's 503."""

    accept_unknown: bool = False
    unknown_kind: Literal["image", "video", "audio", "text"] = "image"
    unavailable: list[str] = Field(default=[], description="model globs whose submits answer 503")


class ApiSettings(Model):
    """One API's settings (its part of ``apis``). A provider subclasses it with the API's documented
    defaults and the choices its docs leave open; ``null`` turns a limit off."""

    rpm: int | None = Field(default=None, gt=0, description="requests per minute per key")
    max_concurrent: int | None = Field(default=None, gt=0, description="unfinished tasks per key")
    result_ttl: Duration | None = Field(default=None, description="how long result URLs stay valid")
    charge: Literal["submit", "success"] = Field(
        default="submit",
        description="when a task's price is taken: at submit, or held at submit and taken when it succeeds",
    )


class ApisBase(Model):
    """The ``apis`` section: one member per registered API (see ``scenario_model``)."""

    def get(self, api: str) -> ApiSettings | None:
        """The settings the scenario model has for ``api``."""
        settings = getattr(self, api, None)
        return settings if isinstance(settings, ApiSettings) else None


class WebhookSpec(Model):
    """Override an API's callback delivery policy (receiver timeout, delays between retries), and
    choose which receivers the fake may call."""

    timeout: Duration | None = Field(default=None, gt=0, le=600)
    retry_delays: list[Duration] | None = None
    block_private: bool | None = Field(
        default=None,
        description="refuse callback URLs whose host resolves to a private, loopback, link-local or "
        "metadata address (checked on every attempt); unset: on when the server listens on a "
        "non-loopback host",
    )


KiB = 1024
MiB = 1024 * KiB


class LimitsSpec(Model):
    """What the fake accepts and keeps, so that a sandbox running all day stays within bounded
    memory whatever its clients send. Every store is bounded by count and by bytes."""

    request_bytes: int = Field(
        default=32 * MiB, gt=0, description="a request body (a multipart body's parts together)"
    )
    body_timeout: Duration = Field(
        default=30.0, gt=0, description="a request whose body has not all arrived by then is dropped"
    )
    idle_timeout: Duration = Field(default=75.0, gt=0, description="an idle keep-alive connection is closed")
    journal_entries: int = Field(default=10_000, gt=0)
    journal_bytes: int = Field(
        default=16 * MiB, gt=0, description="the journal's request bodies, headers and answers together"
    )
    deliveries_entries: int = Field(default=10_000, gt=0)
    deliveries_bytes: int = Field(default=16 * MiB, gt=0, description="the delivery log's bodies together")
    logged_body_bytes: int = Field(
        default=8 * KiB,
        gt=0,
        description="a body kept in the journal or delivery log; longer ones are cut and marked",
    )
    surprises: int = Field(default=1_000, gt=0)
    surprise_bytes: int = Field(default=8 * KiB, gt=0, description="one surprise's text; longer ones are cut")
    tasks: int = Field(
        default=100_000, gt=0, description="tasks kept; beyond it the longest-finished are forgotten first"
    )
    tasks_bytes: int = Field(
        default=256 * MiB,
        gt=0,
        description="the requests of the tasks kept and the poll answers kept for those that ended, "
        "together; beyond it the longest-finished go first",
    )
    task_ttl: Duration = Field(
        default=7 * 86_400.0,
        gt=0,
        description="a finished task is forgotten this long after it finished (results may expire sooner)",
    )
    keys: int = Field(
        default=10_000, gt=0, description="API keys with an account; beyond it idle ones are forgotten"
    )
    callback_answer_bytes: int = Field(default=64 * KiB, ge=0, description="read of a receiver's answer")


RuleName = Literal[
    "poll-too-fast",
    "poll-after-terminal",
    "poll-other-key",
    "ignored-retry-after",
    "contract-note",
    "unreachable-callback",
    "repeated-submit",
]


class EtiquetteSpec(Model):
    """How a client under test must behave (see ``fakeapi.etiquette``): the rules switched off, the
    pace below which no API may be polled, the window of the repeated-submit rule, and whether
    breaking a rule fails the test (``strict``); the journal notes every violation either way."""

    strict: bool = Field(
        default=False, description="a violation fails the test at teardown; `fakeapi serve` prints it"
    )
    disabled: list[RuleName] = Field(default=[], description="rules switched off, by name")
    poll_floor: Duration = Field(
        default=0.0, ge=0, description="the least time between two polls of a task, whatever the API allows"
    )
    repeated_submit_window: Duration = Field(
        default=10.0,
        ge=0,
        description="a submit with the same body as the key's last one within it is a retry",
    )
    tracked: int = Field(
        default=10_000, gt=0, description="tasks and keys whose pace is followed; beyond it the oldest go"
    )
    kept: int = Field(default=1_000, gt=0, description="violations kept for the strict report; older ones go")


class Scenario(Model):
    """A whole scenario file (validate it with ``fakeapi.scenario.validate_scenario``)."""

    description: str = ""
    seed: int = 0
    clock: ClockSpec = ClockSpec()
    accounts: Accounts = Accounts()
    prices: dict[str, PriceSpec] = Field(
        default={}, description="model glob -> price; unlisted models cost the API's documented price, else 0"
    )
    models: ModelsSpec = ModelsSpec()
    webhooks: WebhookSpec = WebhookSpec()
    etiquette: EtiquetteSpec = EtiquetteSpec()
    limits: LimitsSpec = LimitsSpec()
    apis: ApisBase = ApisBase()
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
