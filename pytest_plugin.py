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
the fake itself once a test asks for a fixture (a scenario named in the options is only looked for
until then; one that does not load stops the run, once). Relative scenario paths in the ini option
and the marker are read from the ini file's directory (the rootdir), ``--fakeapi-scenario`` from the
directory pytest started in, as any command-line path, whatever directory a test changes to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

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
    option: str | None = config.getoption("fakeapi_scenario")
    if option is not None and os.path.isfile(option):  # as named from here, whatever a test's cwd
        config.option.fakeapi_scenario = os.path.abspath(option)
    scenario = default_scenario(config)
    if not os.path.isfile(scenario) and not is_bundled(scenario) and (problem := scenario_problem(scenario)):
        raise pytest.UsageError(problem)  # no such scenario: the loader's words, once
    if config.pluginmanager.has_plugin("asyncio"):
        from fakeapi import pytest_aio

        config.pluginmanager.register(pytest_aio, "fakeapi.pytest_aio")


def is_bundled(name: str) -> bool:
    """Whether ``name`` is a bundled scenario's, found without importing the loader (and pydantic):
    a run that never asks for the fixture pays nothing for a scenario it names."""
    from importlib.util import find_spec

    if "/" in name or "\0" in name:
        return False
    spec = find_spec("fakeapi.scenarios")  # found, not imported
    folders = (spec.submodule_search_locations if spec is not None else None) or []
    return any(os.path.isfile(os.path.join(folder, f"{name}.yaml")) for folder in folders)


def scenario_problem(scenario: str) -> str | None:
    """Why ``scenario`` does not load, as the loader says it in one line (``None``: it loads)."""
    from fakeapi.errors import ScenarioError
    from fakeapi.scenario import resolve_scenario

    try:
        resolve_scenario(scenario)
    except ScenarioError as exc:
        return f"fakeapi: {exc}"
    return None


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
    if not 1 <= port <= 65535:
        raise pytest.UsageError(
            f"fakeapi: port {port}: a fixed port is one of 1 to 65535 "
            "(without one, the fixture takes free ports)"
        )
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    first = port + PORTS_PER_SERVER * int(worker.removeprefix("gw") or 0)
    if first + PORTS_PER_SERVER - 1 > 65535:
        raise pytest.UsageError(
            f"fakeapi: port {first} leaves no room for the APIs' {PORTS_PER_SERVER - 1} ports after it"
        )
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
    if not isinstance(allowed, (list, tuple)) or not all(isinstance(pattern, str) for pattern in allowed):
        pytest.fail(
            f"fakeapi marker: allow_surprises={allowed!r}: a pattern or a list of patterns (strings), "
            "e.g. allow_surprises=['GET /rixapi/v1/nope']",
            pytrace=False,
        )
    return Options(scenario, allow_surprises=tuple(allowed), **kwargs)


async def load_test_scenario(handle: FakeApi, options: Options) -> str | None:
    """Start the test's fake with its scenario, seed and overrides (awaited on the fake's loop, so
    that both fixtures share it): ``None``, or why they do not load, as one failure line."""
    from fakeapi.errors import ScenarioError, UsageError

    try:
        await handle.aload_scenario(
            options.scenario, seed=options.seed, overrides=options.overrides, strict=options.strict
        )
    except (ScenarioError, UsageError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def begin_test(handle: FakeApi, options: Options, failure: str | None) -> None:
    """Fail the test with ``failure`` (reported once: outside any except block, so not chained), or
    allow the surprises it expects."""
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    handle.allow_surprises(*options.allow_surprises)


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
def _fakeapi_default_scenario(pytestconfig: pytest.Config) -> str:
    """The scenario of a test with no marker, loaded once: one that does not load stops the run."""
    scenario = default_scenario(pytestconfig)
    if problem := scenario_problem(scenario):
        stop_run(pytestconfig, problem)
    return scenario


def stop_run(config: pytest.Config, problem: str) -> NoReturn:
    """Stop the run with one line; in a pytest-xdist worker (where ``pytest.exit`` is the controller's
    internal error) every test that asks for the fake fails with that line instead."""
    if hasattr(config, "workerinput"):
        pytest.fail(problem, pytrace=False)
    pytest.exit(problem, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def fakeapi_server(pytestconfig: pytest.Config, _fakeapi_default_scenario: str) -> Iterator[BackgroundServer]:
    """The session's fake server, running in a background thread (on a free port, or the fixed one)."""
    from fakeapi.providers import REGISTRY
    from fakeapi.server import BackgroundServer, FakeServer

    first = fixed_port(pytestconfig)
    names = [provider.name for provider in REGISTRY.providers()]
    api_ports = {name: 0 if first is None else first + 1 + n for n, name in enumerate(names)}
    server = FakeServer(_fakeapi_default_scenario, clock="virtual", port=first or 0, api_ports=api_ports)
    background = BackgroundServer(server)
    try:
        background.start()
    except OSError as exc:
        background.stop()
        if first is None:
            raise
        busy: str | None = port_in_use(pytestconfig, first, exc)
    else:
        busy = None
    if busy is not None:
        stop_run(pytestconfig, busy)  # out of the except block: not chained
    try:
        yield background
    finally:
        background.stop()


def port_in_use(config: pytest.Config, first: int, exc: OSError) -> str:
    """The fixed block's port that is taken, as one line naming the option that fixed it."""
    import socket

    option = config.getoption("fakeapi_port")
    ini = config.getini("fakeapi_port")
    named = f"--fakeapi-port {option}" if option is not None else f"fakeapi_port = {ini}"
    for port in range(first, first + PORTS_PER_SERVER):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return (
                    f"fakeapi: {named}: port {port} is in use (ports {first}-{first + PORTS_PER_SERVER - 1} "
                    "are the fake's and its APIs'): stop what holds it, or fix another port"
                )
    return f"fakeapi: {named}: {exc.strerror or exc}"


@pytest.fixture
def fakeapi(fakeapi_server: BackgroundServer, request: pytest.FixtureRequest) -> Iterator[FakeApi]:
    """The fake, reset for this test; see ``fakeapi.fixture.FakeApi`` for what it offers."""
    from fakeapi.fixture import FakeApi

    options = marker_options(request)
    handle = FakeApi(fakeapi_server)
    begin_test(handle, options, fakeapi_server.run(load_test_scenario(handle, options)))
    yield handle
    check_at_teardown(handle)


@pytest.fixture(scope="session")
def _fakeapi_sink(fakeapi_server: BackgroundServer) -> Iterator[CallbackSink]:
    from fakeapi.sink import CallbackSink

    sink = CallbackSink()
    fakeapi_server.run(sink.start())
    prefix = sink.url_for("")
    sink.sending = lambda: fakeapi_server.call(lambda: fakeapi_server.server.engine.sending_to(prefix))
    yield sink
    fakeapi_server.run(sink.stop())


@pytest.fixture
def callback_sink(_fakeapi_sink: CallbackSink, fakeapi: FakeApi) -> CallbackSink:
    """A real HTTP receiver: pass ``callback_sink.url`` as a callback URL, then ``wait_for``.

    It depends on ``fakeapi`` so that the fake is reset (and the previous test's deliveries are
    cancelled) before the sink forgets what it received; ``wait_for`` returns once no callback of
    the fake is on its way to the sink, so ``fakeapi.deliveries`` has every one the sink received.
    """
    _fakeapi_sink.clear()
    return _fakeapi_sink
