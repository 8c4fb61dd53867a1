"""Faults: something going wrong on the way, one class per effect, and which one hits an exchange.

Each effect knows how it acts on an HTTP exchange (through ``Exchange``, which the server
implements over aiohttp) and on a webhook delivery (as a ``DeliveryPlan`` the engine carries out),
so adding an effect means adding one class here; nothing else interprets effects. The delivery
effects (``duplicate``, ``out_of_order``, ``before_answer``) act on webhook deliveries alone.
"""

from __future__ import annotations

import random
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from fakeapi.scenario.matching import counted_in, glob_matches, headers_match
from fakeapi.scenario.types import ApiName, Duration, Model, Nth, one_or_more

FaultPoint = Literal["submit", "poll", "download", "webhook"]
DEFAULT_HANG = 30.0
MAX_COPIES = 10  # a duplicate fault's deliveries of one callback
R = TypeVar("R")


class Exchange(Protocol[R]):
    """What a fault can do to an HTTP exchange; ``R`` is the server's answer type."""

    async def answer(self) -> R:
        """Run the request as if there were no fault and return its answer."""
        ...

    def error(self, status: int, message: str | None, retry_after: int | None) -> R:
        """That status in the API's own envelope (or a gateway's page where it has none)."""
        ...

    def drop(self) -> R:
        """Reset the connection without an answer."""
        ...

    async def truncate(self, answer: R) -> R:
        """Send the headers and half the body, announcing all of it, then drop the connection."""
        ...

    def malform(self, answer: R) -> R:
        """The same answer with its body cut in half."""
        ...

    async def wait(self, seconds: float) -> None:
        """Hold the exchange for real ``seconds`` (cut short when the server stops or resets)."""
        ...


@dataclass(frozen=True, slots=True)
class Delay:
    """Deliver later, by ``seconds`` of clock time."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Send:
    """Deliver this body."""

    body: bytes


@dataclass(frozen=True, slots=True)
class Answered:
    """Count the delivery as answered with ``status`` without sending it."""

    status: int


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Count the delivery as not reaching the receiver, for ``reason``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Repeat:
    """Deliver the same body ``times`` times in a row, each copy its own attempt; the API retries
    only the first, as a duplicate is the service's doing and not a delivery of its own."""

    times: int


@dataclass(frozen=True, slots=True)
class HoldBack:
    """Deliver after the task's next callback (of a later state) has gone out."""


@dataclass(frozen=True, slots=True)
class BeforeAnswer:
    """Deliver now, and hold the submit's answer until the receiver has answered."""


DeliveryPlan = Delay | Send | Answered | Unreachable | Repeat | HoldBack | BeforeAnswer


@dataclass(frozen=True, slots=True)
class Callback:
    """What a webhook delivery is in its task's course: ``final`` when no later callback of the task
    is to come (its end, or any callback of an API that calls back only at the end), ``at_submit``
    when it is the first attempt of a callback that fell due the moment the task was submitted."""

    final: bool
    at_submit: bool


class Trigger(Model):
    """When a fault fires among the requests it matches: every time (nothing given), the n-th,
    the first N (then the service recovers), or with a seeded probability."""

    nth: Nth | None = None
    first: int | None = Field(default=None, ge=1)
    probability: float | None = Field(default=None, ge=0, le=1)


class FaultBase(Model):
    """What every fault has: where it strikes, which exchanges it matches, and when it fires."""

    effect_name: ClassVar[str]
    webhook_only: ClassVar[bool] = False

    name: str | None = None
    at: Annotated[list[FaultPoint], BeforeValidator(one_or_more)] = Field(
        min_length=1, description="one point or a list"
    )
    api: ApiName | None = None
    key: str | None = Field(default=None, description="glob on the API key")
    header: dict[str, str] = Field(default={}, description="request header name -> glob on its value")
    path: str | None = Field(default=None, description="glob on the path after the API's mount point")
    when: Trigger = Trigger()

    @model_validator(mode="before")
    @classmethod
    def _fields_of_other_effects(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in data:
                if name not in cls.model_fields and name in FIELD_OWNERS:
                    raise ValueError(_misplaced(name))
        return data

    @model_validator(mode="after")
    def _delivery_effects_only_at_webhook(self) -> FaultBase:
        if self.webhook_only and set(self.at) != {"webhook"}:
            raise ValueError(
                f"a '{self.effect_name}' fault acts on webhook deliveries only: 'at' is 'webhook'"
            )
        return self

    @model_validator(mode="after")
    def _webhooks_have_no_headers(self) -> FaultBase:
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
        callback: Callback | None = None,
    ) -> bool:
        """Whether an exchange at ``point`` is one this fault is about (its trigger aside);
        ``callback`` describes a webhook delivery."""
        return (
            point in self.at
            and (self.api is None or self.api == api)
            and glob_matches(self.key, key)
            and glob_matches(self.path, path)
            and headers_match(self.header, headers or {})
            and self.fits(callback)
        )

    def fits(self, callback: Callback | None) -> bool:
        """Whether this effect can act on that delivery (every effect can act on any exchange)."""
        return True

    def describe(self) -> str:
        """The fault as a journal note."""
        name = f" {self.name!r}" if self.name else ""
        return f"fault{name}: {self.effect_name}{self._detail()}"

    def _detail(self) -> str:
        return ""

    @abstractmethod
    async def on_exchange(self, exchange: Exchange[R]) -> R:
        """Answer an HTTP exchange as this fault says."""

    @abstractmethod
    def on_delivery(self, body: bytes) -> DeliveryPlan:
        """What becomes of a webhook delivery of ``body``."""


class LatencyFault(FaultBase):
    """The answer comes ``latency`` later (real seconds over HTTP, clock seconds for a webhook)."""

    effect_name = "latency"
    effect: Literal["latency"]
    latency: Duration | None = None

    @model_validator(mode="after")
    def _has_latency(self) -> LatencyFault:
        if self.latency is None:
            raise ValueError("a 'latency' fault needs 'latency' (e.g. 2s)")
        return self

    def _detail(self) -> str:
        return f" {self.latency:g}s"

    async def on_exchange(self, exchange: Exchange[R]) -> R:
        await exchange.wait(self.latency or 0.0)
        return await exchange.answer()

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        return Delay(self.latency or 0.0)


class StatusFault(FaultBase):
    """That HTTP status in the API's own envelope; ``process`` lets the request take effect first."""

    effect_name = "status"
    effect: Literal["status"]
    status: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None
    retry_after: int | None = Field(default=None, ge=0)
    process: bool = False

    @model_validator(mode="after")
    def _has_status(self) -> StatusFault:
        if self.status is None:
            raise ValueError("a 'status' fault needs 'status' (e.g. 503)")
        return self

    def _detail(self) -> str:
        return f" {self.status}"

    async def on_exchange(self, exchange: Exchange[R]) -> R:
        if self.process:
            await exchange.answer()
        assert self.status is not None
        return exchange.error(self.status, self.message, self.retry_after)

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        assert self.status is not None
        return Answered(self.status)


class ResetFault(FaultBase):
    """The connection is dropped with no answer; ``process`` lets the request take effect first."""

    effect_name = "reset"
    effect: Literal["reset"]
    process: bool = False

    async def on_exchange(self, exchange: Exchange[R]) -> R:
        if self.process:
            await exchange.answer()
        return exchange.drop()

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        return Unreachable(f"{self.describe()}: connection reset")


class TruncateFault(FaultBase):
    """The connection drops halfway through the body (the request takes effect)."""

    effect_name = "truncate"
    effect: Literal["truncate"]

    async def on_exchange(self, exchange: Exchange[R]) -> R:
        return await exchange.truncate(await exchange.answer())

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        return Send(body[: len(body) // 2])


class MalformedFault(FaultBase):
    """A complete answer whose JSON is cut short (the request takes effect)."""

    effect_name = "malformed"
    effect: Literal["malformed"]

    async def on_exchange(self, exchange: Exchange[R]) -> R:
        return exchange.malform(await exchange.answer())

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        return Send(body[: len(body) // 2])


class HangFault(FaultBase):
    """No answer for ``latency`` (30 s by default), then the connection closes."""

    effect_name = "hang"
    effect: Literal["hang"]
    latency: Duration | None = None
    process: bool = False

    def _detail(self) -> str:
        return "" if self.latency is None else f" {self.latency:g}s"

    async def on_exchange(self, exchange: Exchange[R]) -> R:
        if self.process:
            await exchange.answer()
        await exchange.wait(DEFAULT_HANG if self.latency is None else self.latency)
        return exchange.drop()

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        return Unreachable(f"{self.describe()}: timed out")


class DeliveryOnly:
    """Mixed into an effect on webhook deliveries alone (its ``at`` must be ``webhook``)."""

    webhook_only: ClassVar[bool] = True

    async def on_exchange(self, exchange: Exchange[R]) -> R:
        """Validation keeps this fault to the webhook point, so an exchange passes untouched."""
        return await exchange.answer()


class DuplicateFault(DeliveryOnly, FaultBase):
    """The same callback delivered ``times`` times (2 by default), one copy after the other."""

    effect_name = "duplicate"
    effect: Literal["duplicate"]
    times: int = Field(default=2, ge=2, le=MAX_COPIES, description="deliveries of the one callback")

    def _detail(self) -> str:
        return f" x{self.times}"

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        return Repeat(self.times)


class OutOfOrderFault(DeliveryOnly, FaultBase):
    """A callback held back until the task's next callback has gone out, so that it arrives after a
    later state (a late ``in_progress`` after ``completed``). Only an API that calls back on every
    change has an earlier callback to hold: the task's final callback is never held."""

    effect_name = "out_of_order"
    effect: Literal["out_of_order"]

    @model_validator(mode="after")
    def _api_calls_back_on_every_change(self) -> OutOfOrderFault:
        # The providers import the engine, which imports this module.
        from fakeapi.providers.registry import REGISTRY

        provider = next((p for p in REGISTRY.providers() if p.name == self.api), None)
        if provider is not None and provider.profile.callbacks.on == "terminal":
            raise ValueError(
                f"{self.api} calls back only when a task ends, so it has no earlier callback to deliver "
                "late: an 'out_of_order' fault needs an API that calls back on every change"
            )
        return self

    def fits(self, callback: Callback | None) -> bool:
        return callback is not None and not callback.final

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        return HoldBack()


class BeforeAnswerFault(DeliveryOnly, FaultBase):
    """The callback that falls due at the submit (RixAPI's ``queued``; a task that ends at once,
    any API's final one) reaches the receiver before the submit's answer is sent, so the client
    hears of a task id it has not been told yet."""

    effect_name = "before_answer"
    effect: Literal["before_answer"]

    def fits(self, callback: Callback | None) -> bool:
        return callback is not None and callback.at_submit

    def on_delivery(self, body: bytes) -> DeliveryPlan:
        return BeforeAnswer()


EFFECTS: tuple[type[FaultBase], ...] = (
    LatencyFault,
    StatusFault,
    ResetFault,
    TruncateFault,
    MalformedFault,
    HangFault,
    DuplicateFault,
    OutOfOrderFault,
    BeforeAnswerFault,
)
# Which effects take each field that not every effect takes, to word a misplaced one.
FIELD_OWNERS: dict[str, tuple[str, ...]] = {
    name: owners
    for name in dict.fromkeys(n for cls in EFFECTS for n in cls.model_fields)
    if name != "effect"
    and len(owners := tuple(c.effect_name for c in EFFECTS if name in c.model_fields)) < len(EFFECTS)
}


def _misplaced(name: str) -> str:
    owners = FIELD_OWNERS[name]
    fields = [n for n, o in FIELD_OWNERS.items() if o == owners]
    listed = _joined([f"'{n}'" for n in fields], "and")
    verb = "belongs" if len(fields) == 1 else "belong"
    effects = _joined([f"'{o}'" for o in owners], "or")
    return f"{listed} {verb} to a {effects} fault"


def _joined(words: list[str], last: str) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _effect_tag(value: object) -> str | None:
    effect = value.get("effect") if isinstance(value, dict) else getattr(value, "effect", None)
    # Tags carry brackets so that error paths leave them out (see ``fakeapi.errors.problem``).
    return f"effect[{effect}]" if isinstance(effect, str) else None


Fault = Annotated[
    Annotated[LatencyFault, Tag("effect[latency]")]
    | Annotated[StatusFault, Tag("effect[status]")]
    | Annotated[ResetFault, Tag("effect[reset]")]
    | Annotated[TruncateFault, Tag("effect[truncate]")]
    | Annotated[MalformedFault, Tag("effect[malformed]")]
    | Annotated[HangFault, Tag("effect[hang]")]
    | Annotated[DuplicateFault, Tag("effect[duplicate]")]
    | Annotated[OutOfOrderFault, Tag("effect[out_of_order]")]
    | Annotated[BeforeAnswerFault, Tag("effect[before_answer]")],
    Discriminator(
        _effect_tag,
        custom_error_type="fault_effect",
        custom_error_message="'effect' is one of " + ", ".join(c.effect_name for c in EFFECTS),
    ),
]


class FaultBook:
    """The scenario's faults and how often each has matched; seeded, so a run repeats exactly."""

    def __init__(self, faults: Sequence[FaultBase], seed: int) -> None:
        self.faults = list(faults)
        self._seen = [0] * len(faults)
        self._random = [random.Random(f"{seed}:fault:{i}") for i in range(len(faults))]

    def pick(
        self,
        point: FaultPoint,
        *,
        api: str | None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        path: str = "",
        callback: Callback | None = None,
    ) -> FaultBase | None:
        """The first fault that fires on this exchange.

        Every fault that matches counts the exchange (and draws its chance), whether or not an
        earlier one fires, so ``nth`` and ``first`` mean the n-th matching exchange.
        """
        fired: FaultBase | None = None
        for index, fault in enumerate(self.faults):
            if not fault.matches(point, api=api, key=key, headers=headers, path=path, callback=callback):
                continue
            self._seen[index] += 1
            if self._fires(index, fault) and fired is None:
                fired = fault
        return fired

    def _fires(self, index: int, fault: FaultBase) -> bool:
        when = fault.when
        if not counted_in(self._seen[index], when.nth, when.first):
            return False
        return when.probability is None or self._random[index].random() < when.probability
