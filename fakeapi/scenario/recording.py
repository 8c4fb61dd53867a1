"""Recordings become scenarios: ``fakeapi scenarios from-recording FILE.jsonl``.

A recording (``fakeapi proxy --record``) holds one exchange a line. Each API's ``lifecycle`` reads
the task id and state from its answers; a submit route names the model (APIXO in its path, the
others in the body's ``model``). The scenario written has, per API and model, the time tasks spent
queued and running, the share that failed and why, each figure with a comment saying where it
came from.

Poll timing bounds what can be known: a state is taken to begin midway between the last poll that
showed the state before it and the first poll that showed it (the first state at the submit), so
each figure is off by at most half the time between two polls.
"""

from __future__ import annotations

import json
import statistics
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from fakeapi.contract.lifecycle import Lifecycle
from fakeapi.contract.proxy import RecordedExchange
from fakeapi.contract.proxy import RecordingError as UnreadableRecording
from fakeapi.contract.proxy import read_recording as recorded_exchanges
from fakeapi.contract.verify import value_at
from fakeapi.errors import ScenarioError
from fakeapi.providers import REGISTRY
from fakeapi.providers.apixo.provider import DESCRIPTIONS, PROVIDER_STYLE, UPPER_SNAKE
from fakeapi.providers.base import SubmitRoute, route_for
from fakeapi.scenario.loading import parse_scenario
from fakeapi.scenario.schema import REASON_MESSAGES, FailureSpec
from fakeapi.scenario.types import TERMINAL_STATES, CanonicalState, FailureReason

#: A failure rate is reproduced over this many submits of a model; later submits all succeed.
HORIZON = 1000
CANONICAL: tuple[str, ...] = get_args(CanonicalState)
MIDPOINT = "midway between the last poll showing {before} and the first showing {after}"


class RecordingError(ScenarioError):
    """A recording that cannot be read or holds nothing to reproduce; the message names the file
    (and the line)."""


def read_recording(path: Path) -> list[tuple[int, RecordedExchange]]:
    """The exchanges of a recording with their line numbers, read as ``fakeapi contract check``
    reads them; blank lines are skipped."""
    try:
        exchanges = list(recorded_exchanges(path))
    except UnreadableRecording as exc:
        raise RecordingError(str(exc)) from None
    if not exchanges:
        raise RecordingError(f"{path}: the recording is empty")
    return exchanges


@dataclass(frozen=True, slots=True)
class Seen:
    """A task's state as one answer showed it: when the request came, the canonical state, the
    recording's line."""

    at: float
    state: str
    line: int


@dataclass(slots=True)
class Task:
    """A submitted task and what the recording showed of it."""

    api: str
    model: str
    submitted: float
    line: int
    seen: list[Seen] = field(default_factory=list)
    failure: FailureSpec | None = None

    @property
    def end(self) -> str | None:
        """The terminal state shown, if any."""
        last = self.seen[-1].state if self.seen else None
        return last if last in TERMINAL_STATES else None

    def durations(self) -> dict[str, float]:
        """Seconds spent queued and running (0 for a state never shown), estimated from poll timing."""
        began: dict[str, float] = {}
        for before, after in zip([None, *self.seen], self.seen, strict=False):
            if after.state in began:
                continue
            began[after.state] = self.submitted if before is None else (before.at + after.at) / 2
        out: dict[str, float] = {}
        for index, state in enumerate(CANONICAL[:2]):
            later = [began[s] for s in CANONICAL[index + 1 :] if s in began]
            out[state] = max(0.0, min(later) - began[state]) if state in began and later else 0.0
        return out

    def poll_gaps(self) -> list[float]:
        return [b.at - a.at for a, b in zip(self.seen, self.seen[1:], strict=False)]


@dataclass(frozen=True, slots=True)
class _Api:
    lifecycle: Lifecycle
    canonical: Mapping[str, str]
    submits: tuple[SubmitRoute, ...]


def _apis() -> dict[str, _Api]:
    out: dict[str, _Api] = {}
    for provider in REGISTRY.providers():
        if (lifecycle := provider.lifecycle) is not None:
            canonical = {word: state for state, word in lifecycle.words.items()}
            submits = tuple(r for r in provider.routes() if isinstance(r, SubmitRoute) and not r.sync)
            out[provider.name] = _Api(lifecycle, canonical, submits)
    return out


def _model_of(api: _Api, exchange: RecordedExchange) -> str | None:
    """The model a submit asks for, if the exchange is a submit (APIXO's is in its path)."""
    hit = route_for(api.submits, exchange.method, exchange.path)
    if hit is None:
        return None
    route, params = hit
    if route.model_param is not None:
        return params[route.model_param]
    body = exchange.request_body
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def _codes() -> dict[str, FailureReason]:
    # A word several reasons share (APIXO's CONTENT_VIOLATION) goes back to the first of them.
    out: dict[str, FailureReason] = {}
    reasons: tuple[FailureReason, ...] = get_args(FailureReason)
    for table in ({r: r for r in reasons}, UPPER_SNAKE, PROVIDER_STYLE):
        for reason in reasons:
            out.setdefault(table[reason], reason)
    return out


# Every API's words for a failure: its messages (RixAPI, FoxAPI and Pixapi show the scenario's
# default text, APIXO its own descriptions) and its codes (FoxAPI the reason itself, APIXO its failCodes).
MESSAGE_REASONS: dict[str, FailureReason] = {
    text: reason for table in (REASON_MESSAGES, DESCRIPTIONS) for reason, text in table.items()
}
CODE_REASONS = _codes()


def failure_of(lifecycle: Lifecycle, answer: Any) -> FailureSpec:
    """A failed task's reason, read back from the fields its API shows only when a task failed
    (RixAPI's ``error`` text, FoxAPI's and Pixapi's ``error`` object, APIXO's ``failCode`` and
    ``failMsg``). Words other than the fake's default ones for the reason (APIXO's provider-style
    failCodes, a service's own messages) are kept as the failure's message and code."""
    failed = frozenset({lifecycle.words["failed"]})
    message: str | None = None
    code: str | None = None
    for spec in lifecycle.fields:
        if spec.only != failed or spec.required != failed:
            continue
        value = value_at(answer, spec.path)[1]
        if isinstance(value, dict):
            message = _text(value.get("message")) or message
            code = _text(value.get("code")) or code
        elif isinstance(value, str) and spec.path.lower().endswith("code"):
            code = value
        elif isinstance(value, str):
            message = value
    reason = MESSAGE_REASONS.get(message or "") or CODE_REASONS.get(code or "") or "generation_failed"
    return FailureSpec(
        reason=reason,
        message=None if message in (REASON_MESSAGES[reason], DESCRIPTIONS[reason]) else message,
        code=None if code in (reason, UPPER_SNAKE[reason]) else code,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def trace_tasks(exchanges: Iterable[tuple[int, RecordedExchange]]) -> list[Task]:
    """Every task a recorded submit created, with the states later answers showed, in time order."""
    apis = _apis()
    tasks: dict[tuple[str, str], Task] = {}
    for line, exchange in sorted(exchanges, key=lambda pair: pair[1].at):
        api = apis.get(exchange.api)
        answer = exchange.response_body
        if api is None or exchange.status != 200 or not isinstance(answer, dict):
            continue
        task_id = value_at(answer, api.lifecycle.task_id)[1]
        if not isinstance(task_id, str):
            continue
        task = tasks.get((exchange.api, task_id))
        if task is None:
            model = _model_of(api, exchange)
            if model is None:
                continue
            task = tasks[exchange.api, task_id] = Task(exchange.api, model, exchange.at, line)
        word = value_at(answer, api.lifecycle.status)[1]
        state = api.canonical.get(word) if isinstance(word, str) else None
        if state is None or task.end is not None:
            continue
        task.seen.append(Seen(exchange.at, state, line))
        if state == "failed":
            task.failure = failure_of(api.lifecycle, answer)
    return list(tasks.values())


# -- writing the scenario ----------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{round(value, 3):g}s"


def _lines(tasks: Sequence[Task]) -> str:
    numbers = sorted({task.line for task in tasks} | {seen.line for task in tasks for seen in task.seen})
    return f"lines {numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else f"line {numbers[0]}"


def _poll_pace(tasks: Sequence[Task]) -> str:
    gaps = [gap for task in tasks for gap in task.poll_gaps()]
    return f"polls {_seconds(statistics.median(gaps))} apart (median)" if gaps else "no poll between"


def _phases(tasks: Sequence[Task], words: Mapping[str, str], end: str, who: str) -> list[str]:
    """The queued and running phases of ``tasks`` (a state no task showed is left out), as YAML
    lines with their comments."""
    out: list[str] = []
    durations = [task.durations() for task in tasks]
    states = ("queued", "running", end)
    for index, state in enumerate(states[:2]):
        values = [d[state] for d in durations]
        if not any(values):
            continue
        low, high = min(values), max(values)
        fixed = round(low, 3) == round(high, 3)
        figure = _seconds(low) if fixed else f"{{uniform: [{_seconds(low)}, {_seconds(high)}]}}"
        nexts = "/".join(words[s] for s in states[index + 1 :])
        began = "the submit" if index == 0 else MIDPOINT.format(before=words["queued"], after=words[state])
        spread = "" if fixed else f", mean {_seconds(statistics.mean(values))}"
        out.append(
            f"      - {{state: {state}, for: {figure}}}   # {len(tasks)} {who} task(s), {_lines(tasks)}: "
            f"from {began} to {MIDPOINT.format(before=words[state], after=nexts)}{spread}; "
            f"{_poll_pace(tasks)}"
        )
    return out


def failure_counts(kinds: Sequence[int], finished: int, horizon: int = HORIZON) -> list[list[int]]:
    """For failures seen ``kinds[i]`` times each among ``finished`` tasks: the submit counts (from
    1) at which rule ``i`` takes a submit, spread evenly over ``horizon`` submits. Rule ``i`` counts
    only the submits the rules before it left, as a scenario's counted rules do."""
    failed = sum(kinds)
    taken: list[list[int]] = [[] for _ in kinds]
    shown = 0
    for n in range(1, horizon + 1):
        if n * failed // finished > shown:
            shown += 1
            # The kind furthest behind its share so far takes this failure.
            behind = max(range(len(kinds)), key=lambda i: kinds[i] * shown / failed - len(taken[i]))
            taken[behind].append(n)
    counts: list[list[int]] = []
    for index, positions in enumerate(taken):
        earlier = sorted(p for other in taken[:index] for p in other)
        counts.append([p - bisect_left(earlier, p) for p in positions])
    return counts


def _error(spec: FailureSpec) -> str:
    parts = [f"reason: {spec.reason}"]
    if spec.message is not None:
        parts.append(f"message: {_quote(spec.message)}")
    if spec.code is not None:
        parts.append(f"code: {_quote(spec.code)}")
    return "{" + ", ".join(parts) + "}"


def _match(api: str, model: str, nth: Sequence[int] | None = None) -> list[str]:
    out = ["    match:", f"      api: {api}", f"      model: {_quote(_escaped(model))}"]
    if nth is not None:
        rows = [", ".join(map(str, nth[i : i + 20])) for i in range(0, len(nth), 20)]
        out.append("      nth: [" + ",\n        ".join(rows) + "]")
    return out


def _model_rules(api: str, model: str, tasks: Sequence[Task], words: Mapping[str, str]) -> list[str]:
    finished = [task for task in tasks if task.end is not None]
    if not finished:
        seen = f"{len(tasks)} task(s), none seen to end ({_lines(tasks)})"
        return [f"  # {api} {_quote(model)}: {seen}: left to the fallback rule"]
    succeeded = [task for task in finished if task.end == "succeeded"]
    failed = [task for task in finished if task.end == "failed"]
    out: list[str] = []
    if failed:
        kinds = Counter(task.failure or FailureSpec() for task in failed).most_common()
        counts = failure_counts([count for _, count in kinds], len(finished))
        phases = _phases(failed, words, "failed", "failed")
        rate = f"{len(failed)} of {len(finished)} finished task(s) failed ({len(failed) / len(finished):.0%})"
        for index, ((spec, count), nth) in enumerate(zip(kinds, counts, strict=True)):
            these = _lines([task for task in failed if task.failure == spec])
            out.append(
                f"  - name: {_quote(f'{api} {model}: {spec.reason}')}   # {rate}; {count} this way, {these}"
            )
            if not succeeded and index == len(kinds) - 1:
                out.extend(_match(api, model))
            else:
                out.append(
                    f"    # the {count} in {len(finished)} spread evenly over the model's first {HORIZON} "
                    "submits; later ones do not fail this way"
                )
                out.extend(_match(api, model, nth))
            out += ["    phases:", *phases]
            out.append(
                f"      - {{state: failed, error: {_error(spec)}}}   # read back from the failed answers"
            )
    if succeeded:
        out.append(f"  - name: {_quote(f'{api} {model}')}   # {len(succeeded)} of {len(finished)} succeeded")
        out += [*_match(api, model), "    phases:", *_phases(succeeded, words, "succeeded", "succeeded")]
        out.append("      - {state: succeeded}")
    return out


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _escaped(model: str) -> str:
    # The rule's model is a glob: a model whose name has glob characters matches only itself.
    return "".join(f"[{c}]" if c in "*?[" else c for c in model)


def scenario_text(tasks: Sequence[Task], source: str) -> str:
    """The scenario (YAML) reproducing ``tasks``, commented; ``source`` names the recording."""
    apis = _apis()
    finished = [task for task in tasks if task.end is not None]
    if not finished:
        raise RecordingError(f"{source}: none of the {len(tasks)} task(s) submitted was seen to end")
    groups: dict[tuple[str, str], list[Task]] = {}
    for task in tasks:
        groups.setdefault((task.api, task.model), []).append(task)
    lines = [
        f"# Written by `fakeapi scenarios from-recording` from {source}: {len(tasks)} task(s), "
        f"{len(finished)} seen to end.",
        "# A state is taken to begin midway between the last poll showing the state before it and the",
        "# first poll showing it (the first state at the submit): each duration is off by at most half",
        "# the time between two polls. A model whose tasks varied draws its durations (seeded) between",
        "# the shortest and the longest seen.",
        f"description: {_quote(f'Reproduces the recording {source}, per API and model.')}",
        "seed: 0",
        "# The recorded service took these models, whether or not the fake's catalogue lists them.",
        "models: {accept_unknown: true}",
        "rules:",
    ]
    for (api, model), group in sorted(groups.items()):
        lines.extend(_model_rules(api, model, group, apis[api].lifecycle.words))
    pooled = [task for task in finished if task.end == "succeeded"] or finished
    lines += [
        "  - name: fallback   # models not in the recording: every succeeded task's timing together",
        "    phases:",
    ]
    lines.extend(_phases(pooled, {state: state for state in CANONICAL}, "succeeded", "recorded"))
    lines.append("      - {state: succeeded}")
    return "\n".join(lines) + "\n"


def scenario_from_recording(path: Path) -> str:
    """The scenario text reproducing the recording at ``path``, validated as a scenario."""
    exchanges = read_recording(path)
    tasks = trace_tasks(exchanges)
    if not tasks:
        raise RecordingError(
            f"{path}: no task in the recording ({len(exchanges)} exchange(s), none a submit whose answer "
            "names a task)"
        )
    text = scenario_text(tasks, str(path))
    parse_scenario(text, source=f"the scenario from {path}")
    return text


def run_from_recording(recording: str, output: str | None) -> int:
    """``fakeapi scenarios from-recording``: write the scenario to ``output``, else print it."""
    text = scenario_from_recording(Path(recording))
    if output is None:
        print(text, end="")
    else:
        Path(output).write_text(text, encoding="utf-8")
    return 0
