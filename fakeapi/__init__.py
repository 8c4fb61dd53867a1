"""fakeapi: a faithful, deterministic fake of hosted async-task AI generation APIs."""

from __future__ import annotations

from fakeapi.clock import ManualClock, SystemClock
from fakeapi.engine import SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ErrorKind, FakeApiError, ScenarioError, TaskStateError
from fakeapi.fixture import FakeApi, SurpriseError
from fakeapi.scenario import Scenario, load_scenario, parse_scenario
from fakeapi.server import BackgroundServer, FakeServer
from fakeapi.sink import CallbackSink

__all__ = [
    "BackgroundServer",
    "CallbackSink",
    "ErrorKind",
    "FakeApi",
    "FakeApiError",
    "FakeServer",
    "ManualClock",
    "Scenario",
    "ScenarioError",
    "SubmitRequest",
    "SurpriseError",
    "SystemClock",
    "TaskEngine",
    "TaskStateError",
    "TaskView",
    "load_scenario",
    "parse_scenario",
]
