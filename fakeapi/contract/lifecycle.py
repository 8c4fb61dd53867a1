"""An API's lifecycle as data: the facts ``contract verify`` checks beyond the wire models.

A provider declares one ``Lifecycle`` (``Provider.lifecycle``): where its answers put the task's id
and state, the state words in the order a task moves through them, which fields each state shows
or hides, the unit of each timestamp, the shape of its ids, the pace its docs ask clients to poll
at, and the canonical job of each kind (the cheapest model the provider knows, and its body).
JSON paths are dotted (``data.state``), relative to the answer's root.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fakeapi.catalogue import Kind
from fakeapi.scenario.types import TERMINAL_STATES

Unit = Literal["s", "ms"]


@dataclass(frozen=True, slots=True)
class FieldByState:
    """A field that depends on the state: present (not null) only in ``only``, and always in ``required``."""

    path: str
    only: frozenset[str]
    required: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Job:
    """A canonical job of one kind: the submit route it goes to, the models it may use (the
    cheapest by the provider's prices is taken, else the first) and its body for a model and an
    optional callback URL."""

    kind: Kind
    route: str
    models: tuple[str, ...]
    body: Callable[[str, str | None], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """What an API's task answers promise, beyond their models (see the module's docstring).

    ``words`` maps each canonical state to the API's word for it (the provider's own table), first
    to last; ``result_urls`` reads the result files' URLs from a finished task's answer;
    ``unknown_id`` is a well-formed id no task has; ``price_unit`` words the unit of the provider's
    ``price`` function.
    """

    task_id: str
    status: str
    words: Mapping[str, str]
    fields: tuple[FieldByState, ...]
    timestamps: Mapping[str, Unit]
    id_pattern: str
    poll_every: float
    jobs: tuple[Job, ...]
    result_urls: Callable[[Any], list[str]]
    unknown_id: str
    price_unit: str = ""

    @property
    def order(self) -> tuple[str, ...]:
        """The state words first to last (the terminal ones last)."""
        return tuple(self.words.values())

    @property
    def terminal(self) -> frozenset[str]:
        """The words of the terminal states."""
        return terminal_words(self.words)


def terminal_words(words: Mapping[str, str]) -> frozenset[str]:
    """The words an API shows for the terminal canonical states, from its table of state words."""
    return frozenset(words[state] for state in TERMINAL_STATES)
