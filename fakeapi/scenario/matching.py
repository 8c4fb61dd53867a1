"""Matching at run time: which rule takes a submit, and the glob and count tests rules and faults share."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random

    from fakeapi.scenario.schema import Match, Rule, Step


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


def counted_in(count: int, nth: Sequence[int] | None, first: int | None) -> bool:
    """Whether the ``count``-th match (1-based) is among the ``nth`` ones and the ``first`` N."""
    return (nth is None or count in nth) and (first is None or count <= first)


def submit_matches(
    match: Match,
    *,
    api: str,
    model: str,
    kind: str,
    prompt: str,
    key: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Whether a submit matches every field of ``match`` but the counted ones (``nth``, ``first``)."""
    return (
        (match.api is None or match.api == api)
        and (match.model is None or fnmatchcase(model, match.model))
        and (match.model_pattern is None or re.fullmatch(match.model_pattern, model) is not None)
        and (match.kind is None or match.kind == kind)
        and (match.prompt is None or re.search(match.prompt, prompt) is not None)
        and glob_matches(match.key, key)
        and headers_match(match.header, headers or {})
    )


class RuleBook:
    """A scenario's rules and the submit counts of those that take only some submits."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = rules
        self._counts: dict[tuple[int, str], int] = {}
        # Every submit resolves its rule's phases: those that draw nothing are resolved once.
        self._fixed = {id(phase): phase.fixed() for rule in rules for phase in rule.phases}

    def steps(self, rule: Rule, rng: random.Random) -> list[Step]:
        """The phases of ``rule`` resolved for one task (durations drawn from ``rng``)."""
        fixed = self._fixed
        return [fixed[id(phase)] or phase.resolve(rng) for phase in rule.phases]

    def rule_for(
        self,
        *,
        api: str,
        model: str,
        kind: str,
        prompt: str,
        key: str | None,
        headers: Mapping[str, str],
    ) -> Rule:
        """The first rule that matches the submit and, if it counts submits, takes this one."""
        for index, rule in enumerate(self.rules):
            match = rule.match
            if not submit_matches(
                match, api=api, model=model, kind=kind, prompt=prompt, key=key, headers=headers
            ):
                continue
            if match.counted:
                by = {"rule": "", "prompt": prompt, "key": key or ""}[match.count_by]
                count = self._counts[index, by] = self._counts.get((index, by), 0) + 1
                if not counted_in(count, match.nth, match.first):
                    continue
            return rule
        raise AssertionError("a scenario's last rule matches every submit")
