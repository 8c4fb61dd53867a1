"""The task engine: tasks, their scripted phases, the due-time heap, accounts and logs. No HTTP.

A task stores its phases, the start times of the phases it has reached by an event (submit, a
poll that ended a poll-counted phase, a forced outcome, a timed phase end) and its poll count; its
status and progress are derived on read from those and the clock. Events that must happen without
a read (callback deliveries and the phase ends that trigger them) sit in one due-time heap.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import traceback
import weakref
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, ParamSpec, TypeVar

from typing_extensions import assert_never

from fakeapi.accounts import Account, AccountBook, Caps
from fakeapi.catalogue import Catalogue, Kind, ModelInfo, UnknownModel, Usage, billed_seconds, usage_for
from fakeapi.clock import Clock
from fakeapi.errors import ClockRefused, ErrorKind, FakeApiError, TaskStateError, UnknownTask
from fakeapi.media import result_extension
from fakeapi.randomness import Randomness
from fakeapi.recorder import DeliveryLog
from fakeapi.scenario.faults import (
    Answered,
    BeforeAnswer,
    BeforeAnswerFault,
    Callback,
    Delay,
    FaultBook,
    HoldBack,
    Repeat,
    Send,
    Unreachable,
)
from fakeapi.scenario.matching import RuleBook
from fakeapi.scenario.schema import ApiSettings, FailureSpec, Scenario, Step
from fakeapi.scenario.types import TERMINAL_STATES, Curve, FailureReason
from fakeapi.webhooks import CallbackPolicy, DeliveryAttempt, DeliveryError, DeliverySlots, Sender

P = ParamSpec("P")
R = TypeVar("R")
DELIVERIES_IN_FLIGHT = 128
DELIVERIES_PER_RECEIVER = 16
LAST_TIME = 253_402_300_799.0  # 9999-12-31T23:59:59Z: every API's timestamps and ids can still show it


@dataclass(frozen=True, slots=True)
class ApiProfile:
    """The facts of one API that the engine needs: id format, catalogue, callback policy, settings.

    ``settings`` is the API's part of a scenario's ``apis`` section; its defaults are the documented
    limits (rate, concurrency, result lifetime) and when a task pays. ``price`` is the documented
    price list (model, params, outputs -> cost) for the models a scenario's ``prices`` does not name.
    """

    name: str
    make_id: Callable[[Randomness, float, Kind], str]
    catalogue: Catalogue
    callbacks: CallbackPolicy
    render_callback: Callable[[TaskView, ApiSettings], bytes]
    settings: type[ApiSettings] = ApiSettings
    price: Callable[[str, Mapping[str, Any], int], float] | None = None


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """A submit, already parsed from the API's wire format."""

    api: str
    key: str | None
    model: str
    prompt: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    callback_url: str | None = None
    outputs: int = 1
    kind: Kind | None = None  # the kind the endpoint or the inputs ask for (a dual-kind model makes it)
    ext: str | None = None  # its result files' extension when it names a format; else its kind's
    headers: Mapping[str, str] = field(default_factory=dict)
    sync: bool = False  # the client waits for the end (a synchronous endpoint or flag)


CURVES: dict[Curve, Callable[[float], float]] = {
    "linear": lambda x: x,
    "ease_in": lambda x: x * x,
    "ease_out": lambda x: 1 - (1 - x) ** 2,
    "ease_in_out": lambda x: 3 * x * x - 2 * x * x * x,
}


@dataclass(slots=True, eq=False)
class Task:
    """A task's stored facts; its status is derived from them (see ``TaskEngine.view``)."""

    id: str
    api: str
    key: str
    model: str
    kind: Kind
    ext: str  # its result files' extension: one of media.CONTENT_TYPES' keys (shared strings)
    prompt: str
    params: Mapping[str, Any]
    callback_url: str | None
    created_at: float
    steps: list[Step]
    rule: str | None
    cost: float
    usage: Usage | None
    outputs: int
    starts: list[float]
    base_url: str  # where its result files are served: the fake's address as its client named it
    held: bool = False  # its cost is held, to be taken when it succeeds
    polls: int = 0
    poll_step: int = -1
    polls_in_step: int = 0
    announced: int = -1
    size: int = 0  # bytes of the request that made it, which bound what it keeps of it (params)
    end_queued: float | None = None  # its end, known once only time moves it; see TaskEngine._finished
    answer: tuple[object, bytes] | None = None  # its poll answer once ended, and what rendered it
    shown: str | None = None  # the canonical state the last answer about it showed its client


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as it stands at one moment, in canonical words; providers render this."""

    id: str
    api: str
    model: str
    kind: Kind
    key: str
    state: str
    progress: int
    created_at: float
    finished_at: float | None
    outputs: tuple[str, ...]
    error: FailureSpec | None
    usage: Usage | None
    cost: float
    polls: int
    params: Mapping[str, Any]
    #: The fake's address as the task's client reached it (``http://host:port``): its result URLs
    #: and any other URL an answer about it holds begin with it.
    base_url: str

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(frozen=True, slots=True)
class _PhaseEnd:
    task_id: str
    step: int


@dataclass(frozen=True, slots=True)
class _Pending:
    event: _Delivery
    due: float
    plan: Answered | Unreachable | Send
    order: int  # started as the order-th delivery: its place in the log
    note: str | None  # the fault that shaped it
    retries: bool = True  # a failure is retried on the API's schedule (a duplicate's copies are not)
    holds_answer: bool = False  # the submit's answer waits for it (see ``before_answer``)


@dataclass(frozen=True, slots=True)
class _Delivery:
    task_id: str
    api: str
    key: str
    url: str
    body: bytes
    state: str
    attempt: int
    entered: int  # the step of the task it announces
    at_submit: bool = False  # the first attempt of a callback due the moment its task was submitted
    delayed: bool = False  # a latency fault has already held it back
    note: str | None = None  # the fault that held it back


class TaskEngine:
    """Everything the fake knows and decides, for one scenario run."""

    def __init__(
        self,
        scenario: Scenario,
        clock: Clock,
        profiles: Mapping[str, ApiProfile],
        sender: Sender,
        *,
        seed: int | None = None,
        base_url: str = "http://127.0.0.1",
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.profiles = profiles
        self.base_url = base_url
        self.random = Randomness(scenario.seed if seed is None else seed)
        self.faults = FaultBook(scenario.faults, self.random.seed)
        self.rules = RuleBook(scenario.rules)
        self._settings: dict[str, ApiSettings] = {}
        self.accounts = AccountBook(
            scenario.accounts, _weakly(self.caps), scenario.limits.keys, _weakly(self._has_unfinished)
        )
        self.tasks: dict[str, Task] = {}
        self.deliveries = DeliveryLog(scenario.limits)
        self.wakeup: Callable[[], None] = lambda: None
        self.on_surprise: Callable[[str], None] = lambda text: None
        self._sender = sender
        self._heap: list[tuple[float, int, _PhaseEnd | _Delivery]] = []
        # Tasks by their end (as soon as it is known), to forget them: an entry is stale once its task
        # is forgotten or has ended earlier (forced) than the entry says.
        self._finished: list[tuple[float, int, Task]] = []
        self._order = itertools.count()
        self._started = itertools.count()  # deliveries in the order they start (see DeliveryLog)
        self._task_ttl = scenario.limits.task_ttl
        self._task_bytes = 0  # the sizes of the tasks kept, together
        self._lock = asyncio.Lock()  # taken to run due events; never held while a delivery is sent
        self._moving = asyncio.Lock()  # one clock move at a time
        self._slots = DeliverySlots(DELIVERIES_IN_FLIGHT, DELIVERIES_PER_RECEIVER)
        # Deliveries started and not finished, by task: each task's worker sends its own in order.
        self._queues: dict[str, deque[_Pending]] = {}
        # Deliveries an out_of_order fault holds until a later callback of their task starts, by task.
        self._held: dict[str, list[_Delivery]] = {}
        # Submits whose answer waits for a callback a before_answer fault sends first, by task.
        self._answer_waits: dict[str, asyncio.Event] = {}
        self._any_before_answer = any(isinstance(fault, BeforeAnswerFault) for fault in scenario.faults)
        self._workers: set[asyncio.Task[None]] = set()
        self._sending: dict[str, int] = {}  # callbacks sent and not yet answered, by URL
        self._delivery_steps = 0  # counts the steps deliveries take, to see when they stop taking any
        self._delivery_done = asyncio.Event()
        self._ended = asyncio.Event()  # the run is over: no more deliveries, no more sync waits

    @property
    def seed(self) -> int:
        return self.random.seed

    def sending_to(self, prefix: str) -> int:
        """How many callbacks to URLs that start with ``prefix`` are on their way: sent (or waiting
        for a slot to be sent), their answer not yet in, so not yet in ``deliveries``."""
        return sum(count for url, count in self._sending.items() if url.startswith(prefix))

    # -- requests -------------------------------------------------------------------------------

    def authorize(self, api: str, key: str | None) -> Account:
        """Authenticate a request's key on ``api`` and count it against the key's rate window."""
        account = self.accounts.authenticate(api, key)
        account.admit_request(self.clock.now())
        return account

    def settings(self, api: str) -> ApiSettings:
        """The scenario's ``apis.<api>`` section (the API's defaults where the scenario has none)."""
        settings = self._settings.get(api)
        if settings is None:
            settings = self._settings[api] = self.scenario.apis.get(api) or self.profiles[api].settings()
        return settings

    def caps(self, api: str) -> Caps:
        """The per-key caps on ``api``."""
        settings = self.settings(api)
        return Caps(rpm=settings.rpm, max_concurrent=settings.max_concurrent)

    def result_expired(self, view: TaskView) -> bool:
        """Whether the task's result URLs have outlived the API's result lifetime."""
        ttl = self.settings(view.api).result_ttl
        return ttl is not None and view.finished_at is not None and self.clock.now() > view.finished_at + ttl

    def check_model(self, api: str, model: str) -> None:
        """Refuse a model ``api`` does not know, unless the scenario accepts unknown models."""
        if self.profiles[api].catalogue.lookup(model) is None and not self.scenario.models.accept_unknown:
            raise UnknownModel(model)

    def submit(self, request: SubmitRequest, size: int = 0, base_url: str | None = None) -> TaskView:
        """Create a task (the request's key must already be authorized); ``size``: the bytes of the
        request as received (``limits.tasks_bytes`` bounds them, for the tasks kept together);
        ``base_url``: the fake's address as the client reached it (default: ``self.base_url``)."""
        now = self.clock.now()
        self._make_room(now, size)  # first: forgetting a task may settle its credits, on any account
        profile = self.profiles[request.api]
        account = self.accounts.authenticate(request.api, request.key)
        info = self._model_info(profile, request.model, request.kind)
        self._check_concurrency(account)
        cost = self._cost(profile, info, request)
        held = self.settings(request.api).charge == "success"
        if held:
            account.hold(cost)
        else:
            account.charge(cost)
        rule = self.rules.rule_for(
            api=request.api,
            model=request.model,
            kind=info.kind,
            prompt=request.prompt,
            key=request.key,
            headers=request.headers,
        )
        task = Task(
            id=self._new_id(profile, now, info.kind),
            api=request.api,
            key=account.key,
            model=request.model,
            kind=info.kind,
            ext=result_extension(info.kind, request.ext or info.ext),
            prompt=request.prompt,
            params=request.params,
            callback_url=request.callback_url,
            created_at=now,
            steps=self.rules.steps(rule, self.random.random),
            rule=rule.name,
            cost=cost,
            usage=usage_for(info, request.prompt, request.params),
            outputs=0 if info.kind == "text" else request.outputs,  # a text answer is no file
            starts=[now],
            held=held,
            size=size,
            base_url=self.base_url if base_url is None else base_url,
        )
        self.tasks[task.id] = task
        self._task_bytes += size
        account.active[task.id] = None
        self._announce(task, 0)
        view = self.view(task)
        task.shown = view.state
        return view

    def query(self, api: str, task_id: str, key: str | None, model: str | None = None) -> TaskView:
        """Read a task as its owner polls it; the read counts toward poll-counted phases.

        ``model``, for APIs that name it when polling, must be the model the task was submitted to.
        """
        task = self._owned(api, task_id, key, model)
        self._count_poll(task)
        return self._caught_up(task)

    def poll(
        self,
        api: str,
        task_id: str,
        key: str | None,
        model: str | None,
        render: Callable[[TaskView, ApiSettings], bytes],
        check: Callable[[TaskView], None] | None = None,
    ) -> bytes:
        """``query``, rendered by ``render`` from the view and the API's settings alone; ``check``
        may refuse the task (by raising) before the read counts.

        An ended task's view no longer changes (only its poll count does, which no answer shows), so
        its answer is rendered once, kept with the task, and every later poll gets the same bytes.
        """
        task = self._owned(api, task_id, key, model)
        kept = task.answer
        if kept is not None and kept[0] is render:
            task.polls += 1
            return kept[1]
        if check is not None:
            check(self.view(task))
        self._count_poll(task)
        view = self._caught_up(task)
        body = render(view, self.settings(api))
        if view.terminal:
            # Kept with the task, so bounded with it (limits.tasks_bytes); one answer at a time, as a
            # task read by two routes (FoxAPI's query and event stream) keeps the last one's.
            grown = len(body) - (len(kept[1]) if kept is not None else 0)
            task.answer = (render, body)
            task.size += grown
            self._task_bytes += grown
        return body

    def _owned(self, api: str, task_id: str, key: str | None, model: str | None) -> Task:
        task = self.find(task_id)
        if task is None or task.api != api or task.key != key or model not in (None, task.model):
            raise FakeApiError(ErrorKind.NOT_FOUND, f"task {task_id} not found", param="task_id")
        return task

    def get(self, task_id: str) -> Task:
        task = self.find(task_id)
        if task is None:
            raise UnknownTask(f"no task {task_id!r}; tasks: {', '.join(self.tasks) or 'none'}")
        return task

    # -- control --------------------------------------------------------------------------------

    def complete(self, task_id: str) -> TaskView:
        """Finish a task successfully now, whatever its phases said."""
        return self._force(task_id, Step("succeeded"))

    def fail(
        self,
        task_id: str,
        message: str | None = None,
        code: str | None = None,
        reason: FailureReason = "generation_failed",
    ) -> TaskView:
        """Fail a task now with this error, whatever its phases said.

        A message left out takes the API's description of ``reason``; ``code`` the API's code for it.
        """
        return self._force(
            task_id, Step("failed", error=FailureSpec(reason=reason, message=message, code=code))
        )

    async def run_to_end(self, task_id: str) -> TaskView:
        """Let a task run its scripted course now, as a synchronous request waits for it.

        On a virtual clock the clock moves to the task's end; on the system clock this waits. A task
        that waits on polls or on the test has nothing to wait for and is finished at once.
        """
        task = self.get(task_id)
        end = self.projected_end(task)
        if end is None:
            if not self.view(task).terminal:
                self.complete(task_id)
            return self._caught_up(task)  # the answer shows the end: a poll after it shows no change
        if end > LAST_TIME:
            raise FakeApiError(
                ErrorKind.INVALID_REQUEST,
                "the task would end after 9999-12-31T23:59:59Z, the last time the fake's clock "
                "can show: reset the fake to start its clock again",
            )
        if self.clock.is_virtual:
            await self.advance_to(max(end, self.clock.now()))
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    self._ended.wait(), max(0.0, end - self.clock.now()) / self.clock.speed
                )
            if self._ended.is_set():
                raise FakeApiError(ErrorKind.UNAVAILABLE, "the server is shutting down")
        return self._caught_up(task)

    async def before_answer(self, task_id: str) -> None:
        """Send the callbacks of a task just submitted that a ``before_answer`` fault puts before the
        submit's answer, and return once their receivers have answered (or the attempts failed);
        the server awaits this between the submit and its answer."""
        if not self._any_before_answer:
            return
        await self._start_due(self.clock.now())
        waiting = self._answer_waits.get(task_id)
        if waiting is None:
            return
        # A run that ends (a reset, the server stopping) answers at once, as it does sync waits: the
        # task is gone with the run.
        ended = asyncio.ensure_future(self._ended.wait())
        answered = asyncio.ensure_future(waiting.wait())
        try:
            await asyncio.wait((ended, answered), return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            answered.cancel()
        if self._ended.is_set():
            raise FakeApiError(ErrorKind.UNAVAILABLE, "the server is shutting down")

    def close(self) -> None:
        """End the run: synchronous requests still waiting on the system clock are answered at once
        with the API's 503 (the server is stopping or starting over), and no delivery starts."""
        self._ended.set()

    def _caught_up(self, task: Task) -> TaskView:
        """The task now, its end announced (callbacks, credits) if the due-time runner on the
        system clock has not got to it yet."""
        view = self.view(task)
        task.shown = view.state
        last = len(task.steps) - 1  # a terminal step is always the last
        if view.terminal and task.announced < last:
            self._materialize(task, last)
            self._announce(task, last)
        return view

    async def advance_to(self, t: float) -> None:
        """Move the clock to ``t``, running every phase end and delivery due on the way, in order.

        On a virtual clock every delivery due by ``t`` (retries that fall due by then included) has
        been answered, or has failed, when this returns. Deliveries run side by side, and the clock
        moves on while a receiver takes its time, so receivers that hang cost one timeout per round
        of retries, not one each. A sender that answers without waiting (a test double) is done
        before the clock moves; a retry whose due time the clock passed while its attempt awaited
        an answer is started as soon as that answer comes, logged at its due time. On the system
        clock the deliveries due are started and left to finish.
        """
        async with self._moving:
            if t < self.clock.now():
                raise ClockRefused(f"the clock cannot go back from {self.clock.now()} to {t}")
            if not t <= LAST_TIME:
                raise ClockRefused(f"the clock cannot go past 9999-12-31T23:59:59Z ({LAST_TIME:.0f}), to {t}")
            if self.clock.is_virtual:
                await self._advance_virtual(t)
            else:
                await self._start_due(t)
            if t > self.clock.now():
                self.clock.set(t)

    async def _advance_virtual(self, t: float) -> None:
        while not self._ended.is_set():
            await self._start_due(self.clock.now())
            due = self.next_due()
            if due is not None and due <= t:
                async with self._lock:
                    self.clock.set(max(due, self.clock.now()))
            elif self._queues:
                self._delivery_done.clear()
                await self._delivery_done.wait()
            else:
                return

    async def _let_deliveries_start(self) -> None:
        """Let the deliveries started at this instant reach their receivers (or a wait on one that
        answers slowly) before the virtual clock moves on."""
        while self._queues:
            before = self._delivery_steps
            await asyncio.sleep(0)
            if self._delivery_steps == before:
                return

    async def shift(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (see ``advance_to``)."""
        if seconds < 0:
            raise ClockRefused("shift takes a non-negative number of seconds")
        await self.advance_to(self.clock.now() + seconds)

    async def run_due(self) -> None:
        """Run every event already due, starting its deliveries without waiting for their
        receivers' answers; the server's runner calls this."""
        await self._start_due(self.clock.now())

    async def _start_due(self, t: float) -> None:
        """Run the events due by ``t`` and let the deliveries they start reach their receivers."""
        async with self._lock:
            self._run_until(t)
        await self._let_deliveries_start()

    async def aclose(self) -> None:
        """End the run (see ``close``) and cancel the deliveries in flight (a reset or shutdown
        drops them)."""
        self.close()
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._delivery_done.set()

    def _run_until(self, t: float) -> None:
        while self._heap and self._heap[0][0] <= t:
            due, _, event = heapq.heappop(self._heap)
            if due > self.clock.now():
                self.clock.set(due)
            try:
                self._handle(event, due)
            except Exception as exc:
                self._surprise(f"the event for task {event.task_id} due at {due} failed", exc)

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    # -- derivation -----------------------------------------------------------------------------

    def view(self, task: Task, at: float | None = None, step: int | None = None) -> TaskView:
        """The task as it stands at time ``at`` (default now), or as it entered ``step``."""
        at = self.clock.now() if at is None else at
        if step is None:
            step, start = self._locate(task, at)
        else:
            start = task.starts[step] if step < len(task.starts) else at
        current = task.steps[step]
        finished = start if current.terminal else None
        outputs: tuple[str, ...] = ()
        if current.state == "succeeded":
            # A task may have no files (an LLM answer, a transcript, a voice id): outputs 0.
            base = f"{task.base_url}/files/{task.id}"
            outputs = tuple(f"{base}/{i}.{task.ext}" for i in range(task.outputs))
        return TaskView(
            id=task.id,
            api=task.api,
            model=task.model,
            kind=task.kind,
            key=task.key,
            state=current.state,
            progress=self._progress(task, step, start, at),
            created_at=task.created_at,
            finished_at=finished,
            outputs=outputs,
            error=current.error,
            usage=_reported_usage(task.usage, current.state),
            cost=task.cost,
            polls=task.polls,
            params=task.params,
            base_url=task.base_url,
        )

    def timeline(self, task: Task) -> list[tuple[str, float]]:
        """The phases the task has entered so far, with their start times."""
        step, _ = self._locate(task, self.clock.now())
        self._materialize(task, step)
        return [(task.steps[i].state, task.starts[i]) for i in range(step + 1)]

    def _locate(self, task: Task, at: float) -> tuple[int, float]:
        starts = task.starts
        known = bisect_right(starts, at) - 1
        if known < 0:
            return 0, starts[0]
        if known < len(starts) - 1:
            return known, starts[known]
        step, start = known, starts[known]
        while True:
            current = task.steps[step]
            if current.duration is None or start + current.duration > at:
                return step, start
            step, start = step + 1, start + current.duration

    def _materialize(self, task: Task, step: int) -> None:
        while len(task.starts) <= step:
            previous = task.steps[len(task.starts) - 1]
            assert previous.duration is not None
            task.starts.append(task.starts[-1] + previous.duration)

    def _progress(self, task: Task, step: int, start: float, at: float) -> int:
        current = task.steps[step]
        if current.state == "succeeded":
            return 100
        if current.state != "running":
            return 0
        running = [i for i, s in enumerate(task.steps) if s.state == "running"]
        if current.duration:
            fraction = (at - start) / current.duration
        elif current.polls is not None:
            seen = task.polls_in_step if task.poll_step == step else 0
            fraction = seen / (current.polls + 1)
        else:
            fraction = 0.0
        fraction = CURVES[current.curve](min(max(fraction, 0.0), 1.0))
        return min(99, int(100 * (running.index(step) + fraction) / len(running)))

    def projected_end(self, task: Task) -> float | None:
        """When the task will finish if nothing but time moves it; ``None`` if it waits on polls."""
        return self._end_after(task, *self._locate(task, self.clock.now()))

    def _end_after(self, task: Task, step: int, start: float) -> float | None:
        """When the task ends if nothing but time moves it on from ``step``, entered at ``start``."""
        while not task.steps[step].terminal:
            duration = task.steps[step].duration
            if duration is None:
                return None
            step, start = step + 1, start + duration
        return start

    # -- internals ------------------------------------------------------------------------------

    def _model_info(self, profile: ApiProfile, model: str, kind: Kind | None) -> ModelInfo:
        if any(fnmatchcase(model, glob) for glob in self.scenario.models.unavailable):
            raise FakeApiError(ErrorKind.UNAVAILABLE, f"model {model} is unavailable", param="model")
        self.check_model(profile.name, model)
        info = profile.catalogue.lookup(model) or ModelInfo(
            kind or self.scenario.models.unknown_kind, "per_call"
        )
        if kind is not None and info.kind != kind:
            if info.other == kind:
                return replace(info, kind=kind, other=info.kind)
            raise FakeApiError(
                ErrorKind.UNKNOWN_MODEL, f"model {model} makes {info.kind}, not {kind}", param="model"
            )
        return info

    def _cost(self, profile: ApiProfile, info: ModelInfo, request: SubmitRequest) -> float:
        price = self.scenario.price_for(request.model)
        if price is None and profile.price is not None:
            return profile.price(request.model, request.params, request.outputs)
        if price is None:
            return 0.0
        return price.per_call + price.per_second * billed_seconds(info, request.params)

    def _check_concurrency(self, account: Account) -> None:
        if account.max_concurrent is None:
            return
        for task_id in list(account.active):
            if self.view(self.tasks[task_id]).terminal:
                del account.active[task_id]
        if len(account.active) < account.max_concurrent:
            return
        now = self.clock.now()
        ends = [self.projected_end(self.tasks[t]) for t in account.active]
        known = [e for e in ends if e is not None]
        raise FakeApiError(
            ErrorKind.TOO_MANY_TASKS,
            f"concurrency limit of {account.max_concurrent} unfinished tasks reached",
            retry_after=max(1, math.ceil(min(known) - now)) if known else 1,
        )

    def find(self, task_id: str) -> Task | None:
        """The task, unless it is unknown or forgotten (it is forgotten now if it ended ``task_ttl`` ago)."""
        task = self.tasks.get(task_id)
        if (
            task is not None
            and task.end_queued is not None
            and task.end_queued + self._task_ttl <= self.clock.now()
        ):
            self._forget(task)
            return None
        return task

    def forget_expired(self) -> None:
        """Forget the tasks that ended ``task_ttl`` ago (a listing of every task calls this first)."""
        self._sweep(self.clock.now(), None)

    def _make_room(self, now: float, size: int) -> None:
        """Forget the tasks that ended ``task_ttl`` ago, then the longest-ended while a new task of
        ``size`` bytes would not fit in ``limits.tasks`` and ``limits.tasks_bytes``; when it still
        does not fit and none has ended, refuse it (429, like a concurrency cap)."""
        self._sweep(now, size)
        limits = self.scenario.limits
        if len(self.tasks) >= limits.tasks or (self.tasks and self._task_bytes + size > limits.tasks_bytes):
            first_end = self._finished[0][0] if self._finished else now
            raise FakeApiError(
                ErrorKind.TOO_MANY_TASKS,
                f"the fake keeps at most {limits.tasks} tasks and {limits.tasks_bytes} bytes of their "
                "requests (limits.tasks, limits.tasks_bytes) and none of those kept has finished",
                retry_after=max(1, math.ceil(first_end - now)),
            )

    def _sweep(self, now: float, size: int | None) -> None:
        """Forget the tasks that ended ``task_ttl`` ago and, to make room for a new task of ``size``
        bytes (``None``: no new task), the longest-ended ones past the limits."""
        limits = self.scenario.limits
        finished = self._finished
        while finished:
            end, _, task = finished[0]
            full = size is not None and (
                len(self.tasks) >= limits.tasks or self._task_bytes + size > limits.tasks_bytes
            )
            if self.tasks.get(task.id) is not task or task.end_queued != end:
                heapq.heappop(finished)  # forgotten already, or it ended earlier than this entry says
            elif end + self._task_ttl <= now or (end <= now and full):
                heapq.heappop(finished)
                self._forget(task)
            else:
                break

    def _forget(self, task: Task) -> None:
        del self.tasks[task.id]
        self._held.pop(task.id, None)  # no later callback of an ended task is to come to release them
        self._task_bytes -= task.size
        if task.held:  # it ended on the clock before the event that settles it ran
            self._settle(task, task.steps[-1].state == "succeeded")
        account = self.accounts.find(task.api, task.key)
        if account is not None:
            account.active.pop(task.id, None)

    def _has_unfinished(self, account: Account) -> bool:
        """Whether any of the account's tasks is unfinished (finished ones leave ``active`` on the way)."""
        for task_id in list(account.active):
            task = self.tasks.get(task_id)
            if task is not None and not self.view(task).terminal:
                return True
            del account.active[task_id]
        return False

    def _new_id(self, profile: ApiProfile, now: float, kind: Kind) -> str:
        while (task_id := profile.make_id(self.random, now, kind)) in self.tasks:
            pass
        return task_id

    def _count_poll(self, task: Task) -> None:
        task.polls += 1
        now = self.clock.now()
        while True:
            step, _ = self._locate(task, now)
            current = task.steps[step]
            if current.polls is None:
                return
            self._materialize(task, step)
            if task.poll_step != step:
                task.poll_step, task.polls_in_step = step, 0
            if task.polls_in_step < current.polls:
                task.polls_in_step += 1
                return
            self._announce(task, step)
            task.starts.append(now)
            self._announce(task, step + 1)

    def _force(self, task_id: str, outcome: Step) -> TaskView:
        task = self.get(task_id)
        now = self.clock.now()
        step, _ = self._locate(task, now)
        if task.steps[step].terminal:
            raise TaskStateError(f"task {task_id} has already {task.steps[step].state}")
        self._materialize(task, step)
        self._announce(task, step)
        task.steps[step + 1 :] = [outcome]
        task.starts.append(now)
        self._announce(task, step + 1)
        return self.view(task)

    def _announce(self, task: Task, step: int) -> None:
        """Act on every step up to ``step`` not yet announced: settle held credits at the end, send
        the callbacks in step order, and schedule the timed end of ``step`` when it matters."""
        if task.announced >= step:
            return
        first, task.announced = task.announced + 1, step
        end = self._end_after(task, step, task.starts[step])
        if end is not None and (task.end_queued is None or end < task.end_queued):
            task.end_queued = end
            heapq.heappush(self._finished, (end, next(self._order), task))
        if task.held and task.steps[step].terminal:
            self._settle(task, task.steps[step].state == "succeeded")
        if task.callback_url is not None:
            self._push_callbacks(task, first, step)
        current = task.steps[step]
        # A timed phase end needs an event when it has callbacks to send or credits to settle.
        if current.duration is not None and (task.callback_url is not None or task.held):
            self._push(task.starts[step] + current.duration, _PhaseEnd(task.id, step))

    def _push_callbacks(self, task: Task, first: int, step: int) -> None:
        assert task.callback_url is not None
        policy = self._policy(task.api)
        for entered in range(first, step + 1):
            current = task.steps[entered]
            if entered > 0 and task.steps[entered - 1].state == current.state:
                continue
            if policy.on == "terminal" and not current.terminal:
                continue
            at = task.starts[entered]
            try:
                body = self.profiles[task.api].render_callback(
                    self.view(task, at=at, step=entered), self.settings(task.api)
                )
            except Exception as exc:
                # Nothing can be sent: the failure is the delivery's, and the request goes on.
                self.deliveries.append(
                    DeliveryAttempt(
                        task_id=task.id,
                        url=task.callback_url,
                        attempt=1,
                        at=at,
                        state=current.state,
                        body="",
                        status=None,
                        error=_failure(exc),
                        delivered=False,
                    ),
                    next(self._started),
                )
                self._surprise(f"the {current.state} callback of task {task.id} could not be rendered", exc)
                continue
            delivery = _Delivery(
                task.id, task.api, task.key, task.callback_url, body, current.state, 1, entered, entered == 0
            )
            self._push(at, delivery)

    def _settle(self, task: Task, succeeded: bool) -> None:
        account = self.accounts.authenticate(task.api, task.key)
        if succeeded:
            account.settle(task.cost)
        else:
            account.release(task.cost)
        task.held = False

    def _policy(self, api: str) -> CallbackPolicy:
        policy = self.profiles[api].callbacks
        override = self.scenario.webhooks
        return CallbackPolicy(
            on=policy.on,
            timeout=policy.timeout if override.timeout is None else override.timeout,
            retry_delays=policy.retry_delays
            if override.retry_delays is None
            else tuple(override.retry_delays),
            accept=policy.accept,
        )

    def _push(self, due: float, event: _PhaseEnd | _Delivery) -> None:
        heapq.heappush(self._heap, (due, next(self._order), event))
        self.wakeup()

    def _handle(self, event: _PhaseEnd | _Delivery, due: float) -> None:
        if isinstance(event, _PhaseEnd):
            task = self.tasks.get(event.task_id)
            if task is not None and task.announced == event.step:
                self._materialize(task, event.step + 1)
                self._announce(task, event.step + 1)
            return
        callback = Callback(final=event.state in TERMINAL_STATES, at_submit=event.at_submit)
        # A delivery a latency fault held back has had its fault: it is not counted twice.
        fault = (
            None
            if event.delayed
            else self.faults.pick("webhook", api=event.api, key=event.key, path=event.url, callback=callback)
        )
        plan = Send(event.body) if fault is None else fault.on_delivery(event.body)
        note = event.note if fault is None else fault.describe()
        match plan:
            case Delay(seconds):
                self._push(due + seconds, replace(event, at_submit=False, delayed=True, note=note))
            case HoldBack():
                self._held.setdefault(event.task_id, []).append(replace(event, note=note))
            case _ if self._ended.is_set():
                pass
            case Repeat(times):
                self._start(event, due, Send(event.body), note, copies=times)
            case BeforeAnswer():
                self._answer_waits[event.task_id] = asyncio.Event()
                self._start(event, due, Send(event.body), note, holds_answer=True)
            case _:
                self._start(event, due, plan, note)

    def _start(
        self,
        event: _Delivery,
        due: float,
        plan: Answered | Unreachable | Send,
        note: str | None,
        *,
        copies: int = 1,
        holds_answer: bool = False,
    ) -> None:
        """Hand ``event`` (``copies`` times over, only the first retried) to its task's worker, and
        after it the deliveries of earlier steps held back until now; one task's callbacks reach the
        receiver one at a time, in the order they started; other tasks' do not wait."""
        if copies == 1:
            self._enqueue(_Pending(event, due, plan, next(self._started), note, holds_answer=holds_answer))
        else:
            for copy in range(1, copies + 1):
                copied = f"{note}: copy {copy} of {copies}"
                self._enqueue(_Pending(event, due, plan, next(self._started), copied, retries=copy == 1))
        held = self._held.pop(event.task_id, None)
        if held is None:
            return
        for late in held:
            if late.entered < event.entered:
                after = f"{late.note}: sent after the {event.state} callback"
                self._enqueue(_Pending(late, due, Send(late.body), next(self._started), after))
        later = [late for late in held if late.entered >= event.entered]
        if later:
            self._held[event.task_id] = later

    def _enqueue(self, pending: _Pending) -> None:
        """Hand ``pending`` to its task's worker, started if the task has none."""
        event = pending.event
        queue = self._queues.get(event.task_id)
        if queue is not None:
            queue.append(pending)
            return
        queue = self._queues[event.task_id] = deque([pending])
        worker = asyncio.get_running_loop().create_task(self._work(event.task_id, queue))
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _work(self, task_id: str, queue: deque[_Pending]) -> None:
        try:
            while queue:
                try:
                    await self._deliver(queue[0])
                except Exception as exc:
                    self._surprise(f"the {queue[0].event.state} callback of task {task_id} failed", exc)
                self._release_answer(queue.popleft())
                self._delivery_steps += 1
                self._delivery_done.set()
        finally:
            for cancelled in queue:  # a delivery dropped by a reset or shutdown holds no answer back
                self._release_answer(cancelled)
            del self._queues[task_id]
            self._delivery_done.set()  # even when a surprise hook raised: a waiting shift must wake

    def _release_answer(self, pending: _Pending) -> None:
        """Let the submit's answer go once the delivery it waited for is done."""
        if pending.holds_answer:
            self._answer_waits.pop(pending.event.task_id).set()

    async def _deliver(self, pending: _Pending) -> None:
        event, due = pending.event, pending.due
        policy = self._policy(event.api)
        status: int | None = None
        error: str | None = None
        body = event.body
        match pending.plan:
            case Answered(answered):
                status = answered
            case Unreachable(reason):
                error = reason
            case Send(sent):
                body = sent
                self._sending[event.url] = self._sending.get(event.url, 0) + 1
                try:
                    async with self._slots.slot(event.url):
                        self._delivery_steps += 1
                        try:
                            status = await self._sender(event.url, body, policy.timeout)
                        except DeliveryError as exc:
                            error = str(exc)
                        except Exception as exc:
                            error = _failure(exc)
                            self._surprise(f"the callback of task {event.task_id} to {event.url} failed", exc)
                finally:
                    # No await between here and the log below: a reader never sees a delivery that is
                    # neither on its way nor logged.
                    left = self._sending.pop(event.url) - 1
                    if left:
                        self._sending[event.url] = left
            case _:
                assert_never(pending.plan)
        delivered = status is not None and policy.delivered(status)
        self.deliveries.append(
            DeliveryAttempt(
                task_id=event.task_id,
                url=event.url,
                attempt=event.attempt,
                at=due,
                state=event.state,
                body=body.decode("utf-8", "replace"),
                status=status,
                error=error,
                delivered=delivered,
                note=pending.note,
            ),
            pending.order,
        )
        if not delivered and pending.retries and event.attempt <= len(policy.retry_delays):
            # On the virtual clock a retry falls due a fixed time after its attempt fell due.
            sent_at = due if self.clock.is_virtual else self.clock.now()
            retry = replace(event, attempt=event.attempt + 1, at_submit=False, delayed=False, note=None)
            self._push(sent_at + policy.retry_delays[event.attempt - 1], retry)

    def _surprise(self, what: str, exc: Exception) -> None:
        self.on_surprise(f"{what} in the fake:\n{''.join(traceback.format_exception(exc))}")


def _reported_usage(usage: Usage | None, state: str) -> Usage | None:
    """What a task reports it used: nothing before it ends; once failed, no output (the upstreams
    refund a failed task) though its input was read: tokens in, but no seconds of media."""
    if state == "succeeded":
        return usage
    if state != "failed" or usage is None or usage.type == "duration":
        return None
    return Usage("tokens", usage.input_token_details)


def _weakly(method: Callable[P, R]) -> Callable[P, R]:
    """``method``, not keeping its engine alive: with no cycle through its parts, an engine (and its
    run's tasks) is freed the moment the server drops it, not by a collector pass over all of them."""
    ref = weakref.WeakMethod(method)

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = ref()
        if bound is None:
            raise ReferenceError("the engine this belonged to is gone")
        return bound(*args, **kwargs)

    return call


def _failure(exc: Exception) -> str:
    return f"failed in the fake: {type(exc).__name__}: {exc}"
