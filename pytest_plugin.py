"""The fakeapi pytest plugin: a ``fakeapi`` fixture and a ``callback_sink`` fixture.

One fake server per test session (port 0, so each pytest-xdist worker has its own), reset before
each test to the scenario the ``fakeapi`` marker, ``--fakeapi-scenario`` or the ``fakeapi_scenario``
ini option names. The clock is virtual: it stands still until the test shifts it. Each API also has
a free port of its own where it answers at its real root paths (``fakeapi.root_url_for(api)``):
binding them costs well under a millisecond. In strict mode (the marker's ``strict``,
``--fakeapi-strict``, the ``fakeapi_strict`` ini option) a test whose client broke the APIs' etiquette
fails at teardown with the list (see ``fakeapi.etiquette``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakeapi.fixture import FakeApi, SurpriseError
from fakeapi.providers import REGISTRY
from fakeapi.server import BackgroundServer, FakeServer
from fakeapi.sink import CallbackSink


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
    parser.addini("fakeapi_scenario", "default scenario of the fakeapi fixture", default="default")
    parser.addini(
        "fakeapi_strict", "strict mode for every test of the fakeapi fixture", type="bool", default=False
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fakeapi(scenario=None, *, seed=None, overrides=None, strict=None): the scenario (bundled name, "
        "path or dict), the overrides deep-merged onto it and the seed the fakeapi fixture starts this "
        "test with, and strict mode (etiquette violations fail the test at teardown)",
    )


@pytest.fixture(scope="session")
def fakeapi_server(pytestconfig: pytest.Config) -> Iterator[BackgroundServer]:
    """The session's fake server, running in a background thread on a free port."""
    scenario = pytestconfig.getoption("fakeapi_scenario") or pytestconfig.getini("fakeapi_scenario")
    api_ports = {provider.name: 0 for provider in REGISTRY.providers()}
    with BackgroundServer(FakeServer(scenario, clock="virtual", api_ports=api_ports)) as background:
        yield background


@pytest.fixture
def fakeapi(fakeapi_server: BackgroundServer, request: pytest.FixtureRequest) -> Iterator[FakeApi]:
    """The fake, reset for this test; see ``fakeapi.control.FakeApi`` for what it offers."""
    config = request.config
    marker = request.node.get_closest_marker("fakeapi")
    args, options = (marker.args, marker.kwargs) if marker is not None else ((), {})
    scenario = options.get("scenario", args[0] if args else None)
    if scenario is None:
        scenario = config.getoption("fakeapi_scenario") or config.getini("fakeapi_scenario")
    strict = options.get("strict")
    if strict is None and (config.getoption("fakeapi_strict") or config.getini("fakeapi_strict")):
        strict = True
    handle = FakeApi(fakeapi_server)
    handle.load_scenario(
        scenario, seed=options.get("seed"), overrides=options.get("overrides"), strict=strict
    )
    yield handle
    try:
        handle.check()
    except SurpriseError as exc:
        failure = str(exc)
    else:
        return
    pytest.fail(failure, pytrace=False)  # out of the except block: reported once, not chained


@pytest.fixture(scope="session")
def _fakeapi_sink(fakeapi_server: BackgroundServer) -> Iterator[CallbackSink]:
    sink = CallbackSink()
    fakeapi_server.run(sink.start())
    yield sink
    fakeapi_server.run(sink.stop())


@pytest.fixture
def callback_sink(_fakeapi_sink: CallbackSink, fakeapi: FakeApi) -> CallbackSink:
    """A real HTTP receiver: pass ``callback_sink.url`` as a callback URL, then ``wait_for``.

    It depends on ``fakeapi`` so that the fake is reset (and the previous test's deliveries are
    cancelled) before the sink forgets what it received.
    """
    _fakeapi_sink.clear()
    return _fakeapi_sink
