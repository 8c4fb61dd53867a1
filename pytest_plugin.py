"""The fakeapi pytest plugin: a ``fakeapi`` fixture and a ``callback_sink`` fixture (installed as
``fakeapi.pytest_plugin``), and ``afakeapi`` where pytest-asyncio runs (``fakeapi.pytest_aio``).

One fake server per test session (port 0, so each pytest-xdist worker has its own, unless
``--fakeapi-port`` fixes it), reset before each test to the scenario the ``fakeapi`` marker,
``--fakeapi-scenario`` or the ``fakeapi_scenario`` ini option names. The clock is virtual: it stands
still until the test shifts it. Each API also has a port of its own where it answers at its real root
paths (``fakeapi.root_url_for(api)``): binding them costs well under a millisecond. In strict mode
(the marker's ``strict``, ``--fakeapi-strict``, the ``fakeapi_strict`` ini option) a test whose
client broke the APIs' etiquette fails at teardown with the list (see ``fakeapi.etiquette``).

Importing this module costs next to nothing: it imports only pytest and the standard library, and
the fake itself once a test asks for a fixture. Relative scenario paths in the ini option and the
marker are read from the ini file's directory (the rootdir), ``--fakeapi-scenario`` from the current
directory, as any command-line path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fakeapi.fixture import FakeApi
    from fakeapi.server import BackgroundServer
    from fakeapi.sink import CallbackSink

MARKER_ARGUMENTS = ("scenario", "seed", "overrides", "strict", "allow_surprises")
# A fixed port's block: the root URL, then one port for each of the four APIs.
PORTS_PER_SERVER = 5


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakeapi")
    group.addoption(
        "--fakeapi-scenario",
        default=None,
        help="scenario (bundled name or path) the fakeapi fixture starts each test with",
    )
    group.addoption(
        "--fakeapi-strict",
        action="store_true",
        default=None,
        help="strict mode for every test: etiquette violations and contract notes fail it at teardown",
    )
    group.addoption(
        "--fakeapi-port",
        type=int,
        default=None,
        help="the fake's port (the APIs' own ports follow it), so URLs are the same every run; "
        f"pytest-xdist worker N adds {PORTS_PER_SERVER}*N",
    )
    parser.addini("fakeapi_scenario", "default scenario of the fakeapi fixture", default="default")
    parser.addini(
        "fakeapi_strict", "strict mode for every test of the fakeapi fixture", type="bool", default=False
    )
    parser.addini("fakeapi_port", "fixed port of the fakeapi fixture's server (see --fakeapi-port)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fakeapi(scenario=None, *, seed=None, overrides=None, strict=None, allow_surprises=()): the "
        "scenario (bundled name, path or dict), the overrides deep-merged onto it and the seed the "
        "fakeapi fixture starts this test with, strict mode (etiquette violations fail the test at "
        "teardown), and the surprises the test expects",
    )
    fixed_port(config)
    scenario = default_scenario(config)
    if scenario != "default":  # a scenario the user named: a bad one stops the run here, once
        from fakeapi.errors import ScenarioError
        from fakeapi.scenario import resolve_scenario

        try:
            resolve_scenario(scenario)
        except ScenarioError as exc:
            raise pytest.UsageError(f"fakeapi: {exc}") from None
    if config.pluginmanager.has_plugin("asyncio"):
        from fakeapi import pytest_aio

        config.pluginmanager.register(pytest_aio, "fakeapi.pytest_aio")


def default_scenario(config: pytest.Config) -> str:
    """The scenario of a test with no marker: ``--fakeapi-scenario``, else the ini option."""
    option: str | None = config.getoption("fakeapi_scenario")
    return option or from_root(config, config.getini("fakeapi_scenario"))


def from_root(config: pytest.Config, scenario: Any) -> Any:
    """A relative scenario path as read from the ini file's directory (the rootdir), where that file
    exists; anything else (a bundled name, a mapping) as it is."""
    if isinstance(scenario, Path):
        scenario = str(scenario)
    if not isinstance(scenario, str) or os.path.isabs(scenario):
        return scenario
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    path = base / scenario
    return str(path) if path.is_file() else scenario


def fixed_port(config: pytest.Config) -> int | None:
    """The first port of this process's block, if the user fixed one (each xdist worker its own)."""
    port: int | None = config.getoption("fakeapi_port")
    if port is None and (ini := config.getini("fakeapi_port")):
        try:
            port = int(ini)
        except ValueError:
            raise pytest.UsageError(f"fakeapi: fakeapi_port = {ini}: not a port number") from None
    if port is None:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    first = port + PORTS_PER_SERVER * int(worker.removeprefix("gw") or 0)
    if not 1 <= first <= 65535 - PORTS_PER_SERVER:
        raise pytest.UsageError(f"fakeapi: port {first} leaves no room for the APIs' ports")
    return first


@dataclass(frozen=True)
class Options:
    """What a test's fake starts with: its marker's arguments over the command line and ini file."""

    scenario: Any
    seed: int | None = None
    overrides: dict[str, Any] | None = None
    strict: bool | None = None
    allow_surprises: tuple[str, ...] = ()


def marker_options(request: pytest.FixtureRequest) -> Options:
    """The options of the requesting test; a marker mistake fails it with one line."""
    config = request.config
    marker = request.node.get_closest_marker("fakeapi")
    args, kwargs = (marker.args, dict(marker.kwargs)) if marker is not None else ((), {})
    unknown = sorted(set(kwargs) - set(MARKER_ARGUMENTS))
    if unknown:
        given = ", ".join(f"{name}=" for name in unknown)
        pytest.fail(
            f"fakeapi marker: unknown argument {given} (arguments: {', '.join(MARKER_ARGUMENTS)})",
            pytrace=False,
        )
    if len(args) > 1:
        pytest.fail(
            f"fakeapi marker: one scenario, not {len(args)} ({', '.join(map(repr, args))})", pytrace=False
        )
    if args and "scenario" in kwargs:
        pytest.fail(
            f"fakeapi marker: the scenario is given twice: {args[0]!r} and scenario={kwargs['scenario']!r}",
            pytrace=False,
        )
    scenario = kwargs.pop("scenario", args[0] if args else None)
    scenario = default_scenario(config) if scenario is None else from_root(config, scenario)
    if kwargs.get("strict") is None and (
        config.getoption("fakeapi_strict") or config.getini("fakeapi_strict")
    ):
        kwargs["strict"] = True
    allowed = kwargs.pop("allow_surprises", ())
    if isinstance(allowed, str):
        allowed = (allowed,)
    return Options(scenario, allow_surprises=tuple(allowed), **kwargs)


def failed_scenario(exc: Exception) -> str:
    """A scenario that could not be loaded, as one failure line (no frames)."""
    return f"{type(exc).__name__}: {exc}"


def check_at_teardown(handle: FakeApi) -> None:
    """Fail the test if the fake saw what it did not expect (reported once: no exception chained)."""
    from fakeapi.fixture import SurpriseError

    try:
        handle.check()
    except SurpriseError as exc:
        failure = str(exc)
    else:
        return
    pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def fakeapi_server(pytestconfig: pytest.Config) -> Iterator[BackgroundServer]:
    """The session's fake server, running in a background thread (on a free port, or the fixed one)."""
    from fakeapi.providers import REGISTRY
    from fakeapi.server import BackgroundServer, FakeServer

    first = fixed_port(pytestconfig)
    names = [provider.name for provider in REGISTRY.providers()]
    api_ports = {name: 0 if first is None else first + 1 + n for n, name in enumerate(names)}
    server = FakeServer(default_scenario(pytestconfig), clock="virtual", port=first or 0, api_ports=api_ports)
    with BackgroundServer(server) as background:
        yield background


@pytest.fixture
def fakeapi(fakeapi_server: BackgroundServer, request: pytest.FixtureRequest) -> Iterator[FakeApi]:
    """The fake, reset for this test; see ``fakeapi.fixture.FakeApi`` for what it offers."""
    from fakeapi.errors import ScenarioError, UsageError
    from fakeapi.fixture import FakeApi

    options = marker_options(request)
    handle = FakeApi(fakeapi_server)
    try:
        handle.load_scenario(
            options.scenario, seed=options.seed, overrides=options.overrides, strict=options.strict
        )
    except (ScenarioError, UsageError) as exc:  # the marker's scenario, seed or overrides
        failure: str | None = failed_scenario(exc)
    else:
        failure = None
    if failure is not None:
        pytest.fail(failure, pytrace=False)  # out of the except block: reported once, not chained
    handle.allow_surprises(*options.allow_surprises)
    yield handle
    check_at_teardown(handle)


@pytest.fixture(scope="session")
def _fakeapi_sink(fakeapi_server: BackgroundServer) -> Iterator[CallbackSink]:
    from fakeapi.sink import CallbackSink

    sink = CallbackSink()
    fakeapi_server.run(sink.start())
    yield sink
    fakeapi_server.run(sink.stop())


@pytest.fixture
def callback_sink(
    _fakeapi_sink: CallbackSink, fakeapi: FakeApi, fakeapi_server: BackgroundServer
) -> CallbackSink:
    """A real HTTP receiver: pass ``callback_sink.url`` as a callback URL, then ``wait_for``.

    It depends on ``fakeapi`` so that the fake is reset (and the previous test's deliveries are
    cancelled) before the sink forgets what it received; ``wait_for`` returns once no callback of
    the fake is on its way to the sink, so ``fakeapi.deliveries`` has every one the sink received.
    """
    sink = _fakeapi_sink
    sink.clear()
    prefix = sink.url_for("")
    sink.sending = lambda: fakeapi_server.call(lambda: fakeapi_server.server.engine.sending_to(prefix))
    return sink
