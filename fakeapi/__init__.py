"""fakeapi: a faithful, deterministic fake of hosted async-task AI generation APIs.

The names below load on first use, so importing a part (``fakeapi.engine``, ``fakeapi.scenario``)
does not import the HTTP server. ``DISTRIBUTION`` is the name the package is installed under
(``pip install fakeapi-sandbox``), ``package_version()`` its installed version.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

DISTRIBUTION = "fakeapi-sandbox"


@functools.cache
def package_version() -> str:
    """The installed distribution's version, read once (a health probe every few seconds should not
    read the installed metadata every time)."""
    from importlib.metadata import version

    return version(DISTRIBUTION)


if TYPE_CHECKING:
    from fakeapi.clock import ManualClock, SystemClock
    from fakeapi.engine import SubmitRequest, TaskEngine, TaskView
    from fakeapi.errors import ErrorKind, FakeApiError, ScenarioError, TaskStateError, UnknownTask, UsageError
    from fakeapi.fixture import FakeApi, SurpriseError
    from fakeapi.scenario import Scenario, load_scenario, parse_scenario
    from fakeapi.server import BackgroundServer, FakeServer
    from fakeapi.sink import CallbackSink

_HOMES = {
    "BackgroundServer": "fakeapi.server",
    "CallbackSink": "fakeapi.sink",
    "ErrorKind": "fakeapi.errors",
    "FakeApi": "fakeapi.fixture",
    "FakeApiError": "fakeapi.errors",
    "FakeServer": "fakeapi.server",
    "ManualClock": "fakeapi.clock",
    "Scenario": "fakeapi.scenario",
    "ScenarioError": "fakeapi.errors",
    "SubmitRequest": "fakeapi.engine",
    "SurpriseError": "fakeapi.fixture",
    "SystemClock": "fakeapi.clock",
    "TaskEngine": "fakeapi.engine",
    "TaskStateError": "fakeapi.errors",
    "TaskView": "fakeapi.engine",
    "UnknownTask": "fakeapi.errors",
    "UsageError": "fakeapi.errors",
    "load_scenario": "fakeapi.scenario",
    "parse_scenario": "fakeapi.scenario",
}
__all__ = [
    "DISTRIBUTION",
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
    "UnknownTask",
    "UsageError",
    "load_scenario",
    "package_version",
    "parse_scenario",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'fakeapi' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
