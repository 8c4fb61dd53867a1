"""The provider boundary: a fifth API written only here, the registry's checks, a pure engine."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, NamedTuple

import aiohttp
import pytest
from pydantic import BaseModel, ConfigDict, Field

from fakeapi import FakeServer, ScenarioError
from fakeapi.catalogue import Catalogue, Kind, ModelInfo
from fakeapi.engine import ApiProfile, SubmitRequest, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.providers import REGISTRY, ProviderError
from fakeapi.providers.base import (
    AnyRoute,
    ErrorContext,
    Incoming,
    PollRoute,
    Provider,
    SubmitRoute,
    provider_problems,
    task_in_path,
)
from fakeapi.randomness import Randomness
from fakeapi.scenario import ApiSettings, validate_scenario
from fakeapi.webhooks import CallbackPolicy
from fakeapi.wire import compact_json, parse_body

# -- a toy fifth API, written only in this module ------------------------------------------------


class JobBody(BaseModel):
    """``POST /jobs``."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    prompt: str = ""


class Job(BaseModel):
    """Every answer about a job."""

    model_config = ConfigDict(extra="forbid", strict=True)

    job: str
    state: str


class ToyError(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    oops: str
    why: str


class ToySettings(ApiSettings):
    """The toy's settings: a choice of its own, and a documented rate limit of 100 a minute."""

    rpm: int | None = Field(default=100, gt=0)
    shout: bool = False


class Row(NamedTuple):
    status: int
    word: str


ERRORS = {kind: Row(500 if kind is ErrorKind.SERVER_ERROR else 400, kind.value) for kind in ErrorKind}
ERRORS.update(
    {
        ErrorKind.UNAUTHORIZED: Row(401, "who"),
        ErrorKind.NOT_FOUND: Row(404, "gone"),
        ErrorKind.RATE_LIMITED: Row(429, "slow"),
        ErrorKind.UNAVAILABLE: Row(503, "down"),
    }
)


def _id(random: Randomness, now: float, kind: Kind) -> str:
    return "job-" + random.token(6)


def _job(view: TaskView, settings: ApiSettings) -> bytes:
    loud = isinstance(settings, ToySettings) and settings.shout
    return compact_json({"job": view.id, "state": view.state.upper() if loud else view.state})


def _submit(request: Incoming) -> SubmitRequest:
    body = parse_body(JobBody, request.json())
    if body.model_extra:
        request.note(f"undocumented: {', '.join(sorted(body.model_extra))}")
    return SubmitRequest(api="toyapi", key=request.key, model=body.model, prompt=body.prompt)


class ToyApi(Provider):
    profile = ApiProfile(
        name="toyapi",
        make_id=_id,
        catalogue=Catalogue((("toy-*", ModelInfo("image", "per_call")),)),
        callbacks=CallbackPolicy(on="terminal", timeout=5.0, retry_delays=()),
        render_callback=_job,
        settings=ToySettings,
    )
    mount = "/toyapi"
    errors = ERRORS
    error_model = ToyError

    def routes(self) -> Sequence[AnyRoute]:
        return [
            SubmitRoute(
                method="POST",
                path="/jobs",
                body="json",
                request=JobBody,
                answer=Job,
                parse=_submit,
                render=lambda outcome: _job(outcome.view, outcome.request.settings),
            ),
            PollRoute(
                method="GET",
                path="/jobs/{task_id}",
                answer=Job,
                parse=task_in_path,
                render=_job,
            ),
        ]

    def render_error(self, error: FakeApiError, context: ErrorContext) -> tuple[int, bytes]:
        row = ERRORS[error.kind]
        return row.status, compact_json({"oops": row.word, "why": error.message})


class HalfDoneApi(ToyApi):
    """The toy with its ``prompt_rejected`` row forgotten, and a mount of its own."""

    errors: ClassVar[dict[ErrorKind, Row]] = {
        kind: row for kind, row in ERRORS.items() if kind is not ErrorKind.PROMPT_REJECTED
    }
    mount = "/halfdone"


@pytest.fixture
def toyapi() -> Iterator[Provider]:
    with REGISTRY.added(ToyApi()) as provider:  # the one registration line
        yield provider


# -- the toy is served, configured, faulted and journaled like the others ------------------------

TOY_SCENARIO: dict[str, Any] = {
    "apis": {"toyapi": {"shout": True, "rpm": 4}},
    "faults": [{"at": "poll", "api": "toyapi", "effect": "status", "status": 503, "when": {"nth": 2}}],
    "rules": [{"phases": [{"state": "queued", "for": "5s"}, {"state": "succeeded"}]}],
}


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    headers = {"Authorization": "Bearer sk-toy"}
    async with http.request(method, url, headers=headers, **kw) as response:
        return response.status, json.loads(await response.read())


async def test_a_fifth_api_written_in_tests_is_served_like_the_others(toyapi: Provider) -> None:
    async with FakeServer(TOY_SCENARIO, clock="virtual") as server, aiohttp.ClientSession() as http:
        base = server.url_for("toyapi")
        status, job = await _call(http, "POST", base + "/jobs", json={"model": "toy-1", "colour": "red"})
        assert (status, job["state"]) == (200, "QUEUED")  # apis.toyapi.shout from the scenario
        Job.model_validate(job)
        url = f"{base}/jobs/{job['job']}"
        assert await _call(http, "GET", url) == (200, {"job": job["job"], "state": "QUEUED"})
        status, error = await _call(http, "GET", url)  # the scenario's fault: the 2nd poll
        assert (status, error["oops"]) == (503, "down")
        ToyError.model_validate(error)
        await server.engine.shift(5)
        assert await _call(http, "GET", url) == (200, {"job": job["job"], "state": "SUCCEEDED"})
        assert (await _call(http, "GET", url))[0] == 200  # the faulted poll never reached the engine
        status, error = await _call(http, "GET", url)  # apis.toyapi.rpm: 4 a minute
        assert (status, error["oops"]) == (429, "slow")
        assert await _call(http, "GET", base + "/jobs/nope") == (
            429,
            {"oops": "slow", "why": "rate limit of 4 requests per minute reached"},
        )
        journal = list(server.recorder.journal)
        assert [e.status for e in journal] == [200, 200, 503, 200, 200, 429, 429]
        assert journal[0].notes == ("undocumented: colour",)
        assert journal[2].notes == ("fault: status 503",)


def test_a_scenario_configures_only_registered_apis(toyapi: Provider) -> None:
    settings = validate_scenario(TOY_SCENARIO).apis.get("toyapi")
    assert isinstance(settings, ToySettings)
    assert (settings.shout, settings.rpm) == (True, 4)
    with pytest.raises(ScenarioError, match=r"apis\.toyapi\.shout: Input should be a valid boolean"):
        validate_scenario({**TOY_SCENARIO, "apis": {"toyapi": {"shout": "loudly"}}})


def test_an_unregistered_api_has_no_settings() -> None:
    with pytest.raises(ScenarioError, match=r"apis\.toyapi: Extra inputs are not permitted"):
        validate_scenario(TOY_SCENARIO)


# -- the registry's checks -----------------------------------------------------------------------


@pytest.mark.parametrize("provider", REGISTRY.providers(), ids=lambda p: p.name)
def test_every_registered_provider_is_complete(provider: Provider) -> None:
    assert provider_problems(provider) == []
    assert set(provider.errors) == set(ErrorKind)


def test_a_missing_error_row_is_caught() -> None:
    half_done = HalfDoneApi()
    assert provider_problems(half_done) == ["toyapi: no error row for prompt_rejected"]
    with pytest.raises(ProviderError, match="toyapi: no error row for prompt_rejected"):
        REGISTRY.register(half_done)
    assert "toyapi" not in REGISTRY.settings()


def test_the_registry_refuses_a_taken_name_or_mount(toyapi: Provider) -> None:
    with pytest.raises(ProviderError, match="an API named 'toyapi' is already registered"):
        REGISTRY.register(ToyApi())

    class Squatter(ToyApi):
        profile = ApiProfile(
            name="squatter",
            make_id=_id,
            catalogue=ToyApi.profile.catalogue,
            callbacks=ToyApi.profile.callbacks,
            render_callback=_job,
        )
        mount = "/rixapi"

    with pytest.raises(ProviderError, match="rixapi is already mounted at /rixapi"):
        REGISTRY.register(Squatter())


# -- a pure engine -------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["fakeapi.engine", "fakeapi.scenario", "fakeapi.providers"])
def test_the_engine_scenarios_and_providers_import_no_http(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# -- the fault effects ---------------------------------------------------------------------------


def test_every_fault_effect_has_one_class() -> None:
    from fakeapi.scenario.faults import EFFECTS, FaultBase

    effects = [cls.effect_name for cls in EFFECTS]
    assert len(set(effects)) == len(effects)
    assert {cls.effect_name for cls in FaultBase.__subclasses__()} == set(effects)
