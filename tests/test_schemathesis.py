"""Schemathesis against each API's served OpenAPI document.

The fake runs the default scenario (no faults) with every API's rate and concurrency limits off, so
429s do not drown the other answers, on a virtual clock. For each operation of each document,
schemathesis generates requests that fit the document and requests that do not (a fixed seed:
``derandomize``), sends them with a valid key and checks every answer: no 5xx, a documented status,
a documented content type, a body that fits the document's schema for that status.

A random model name or task id is only ever an error, so the requests that fit the document name,
some of the time, a model of the API's catalogue and a task the run has made: the fake's success
answers are checked too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fakeapi.contract.openapi import model_names
from fakeapi.providers import REGISTRY
from fakeapi.scenario import merge_overrides, resolve_scenario
from fakeapi.server import BackgroundServer, FakeServer

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
KEY = "sk-schemathesis"
# Cases per operation and generation mode: the whole file stays under ~30 s on two cores.
CASES = 30
PROVIDERS = {provider.name: provider for provider in REGISTRY.providers()}


@pytest.fixture(scope="module")
def fake() -> Iterator[BackgroundServer]:
    unlimited = {api: {"rpm": None, "max_concurrent": None} for api in PROVIDERS}
    scenario = merge_overrides(resolve_scenario("default"), {"apis": unlimited})
    with BackgroundServer(FakeServer(scenario, seed=13, clock="virtual")) as background:
        yield background


@pytest.mark.parametrize("api", PROVIDERS)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_failure(fake: BackgroundServer, api: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(fake.server.url_for(api) + "/openapi.json")
    models = model_names(PROVIDERS[api])
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            pytest.fail(f"{api}: the document has an operation schemathesis cannot use: {result.err()}")
        operation = result.ok()

        @settings(
            max_examples=CASES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), known=st.booleans(), pick=st.integers(0))
        def call(case: Case[Any], known: bool, pick: int) -> None:
            if mode is GenerationMode.POSITIVE and known:
                _name_known(fake, case, models[pick % len(models)], pick)
            response = case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS)
            statuses[response.status_code] += 1

        call()
    cases = statuses.total()
    print(f"{api} {mode.value}: {cases} cases in {time.perf_counter() - started:.1f} s: {dict(statuses)}")
    assert cases >= CASES * len(list(schema.get_all_operations()))
    if mode is GenerationMode.POSITIVE:
        assert statuses[200] > 0, statuses
    assert not fake.server.recorder.surprises


def _name_known(fake: BackgroundServer, case: Case[Any], model: str, pick: int) -> None:
    """Name a catalogue model (in the path or the body) and a task of this run (in the path)."""
    if "model" in (case.path_parameters or {}):
        case.path_parameters["model"] = model
    if isinstance(case.body, dict) and "model" in case.body:
        case.body["model"] = model
    if "task_id" in (case.path_parameters or {}):
        ids = fake.call(lambda: [task.id for task in fake.server.engine.tasks.values() if task.key == KEY])
        if ids:
            case.path_parameters["task_id"] = ids[pick % len(ids)]
