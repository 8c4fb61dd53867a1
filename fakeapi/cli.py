"""The ``fakeapi`` command: ``serve`` the sandbox, ``proxy`` a client's traffic, ``scenarios
list|validate|schema|from-recording``, ``contract openapi|verify|check``."""

# The rest of fakeapi is imported inside the functions that use it, so that it loads after ``main``
# has paused the garbage collector.

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import shutil
import signal
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from fakeapi.server import FakeServer

T = TypeVar("T")
DESCRIPTION = (
    "A deterministic fake of async-task AI generation APIs (RixAPI, APIXO, FoxAPI, Pixapi): "
    "serve it as a sandbox, check clients and recordings against the APIs' contracts."
)
# Where the help's descriptions of options and subcommands begin.
HELP_COLUMN = 26
# The narrowest column `scenarios list` wraps descriptions to, however narrow the terminal.
MIN_DESCRIPTION = 20


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fakeapi`` console script."""
    # Starting up (loading the modules, the scenario, the app) makes objects that live until exit:
    # collecting garbage among them is wasted work, about a tenth of `fakeapi serve`'s start-up.
    enabled = gc.isenabled()  # as the caller had it, when main is called in-process
    gc.disable()
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader went away (`fakeapi scenarios list | head`): nothing more to say, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        if enabled:
            gc.enable()
        else:
            gc.disable()


def _run(argv: Sequence[str] | None) -> int:
    from fakeapi.errors import ScenarioError
    from fakeapi.etiquette import registered_lifecycles
    from fakeapi.providers import REGISTRY
    from fakeapi.scenario import scenario_json_schema

    parser = argparse.ArgumentParser(prog="fakeapi", description=DESCRIPTION, formatter_class=_HelpFormatter)
    parser.add_argument(
        "--version", action="version", version=_version(), help="print the distribution and its version"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")

    apis = [provider.name for provider in REGISTRY.providers()]
    serve = _command(commands, "serve", "serve every emulated API until Ctrl-C or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8000, help="the port to listen on (default: 8000; 0: a free one)"
    )
    serve.add_argument(
        "--scenario",
        default="default",
        metavar="NAME|FILE",
        help="a bundled scenario (see: fakeapi scenarios list) or a scenario file (default: default)",
    )
    serve.add_argument("--seed", type=int, default=None, metavar="N", help="overrides the scenario's seed")
    clock = serve.add_argument_group("clock").add_mutually_exclusive_group()
    clock.add_argument(
        "--speed",
        type=float,
        default=None,
        metavar="FACTOR",
        help="run the system clock FACTOR times as fast, e.g. 60: a minute a second",
    )
    clock.add_argument(
        "--virtual-clock",
        action="store_true",
        help="a clock that stands still until shifted (POST /_fakeapi/clock/shift)",
    )
    output = serve.add_argument_group("output")
    output.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="a line per request and callback: text (coloured on a terminal unless NO_COLOR is set) "
        "or json (JSON Lines; the banner goes to stderr)",
    )
    output.add_argument("--quiet", action="store_true", help="no line per request or callback")
    output.add_argument(
        "--strict",
        action="store_true",
        help="strict mode: print each etiquette violation of a client as it happens, with its request "
        "(the admin API's load_scenario turns it on or off too)",
    )

    admin = serve.add_argument_group("admin API (/_fakeapi/)")
    admin.add_argument(
        "--admin-token",
        default=os.environ.get("FAKEAPI_ADMIN_TOKEN") or None,
        metavar="TOKEN",
        help="every admin request must send 'Authorization: Bearer TOKEN' (default: "
        "$FAKEAPI_ADMIN_TOKEN); without one the admin API is open on a loopback host, off on others",
    )
    admin.add_argument(
        "--scenario-dir",
        action="append",
        type=_directory,
        dest="scenario_dirs",
        metavar="DIR",
        help="the admin API loads scenario files by path only from under DIR (repeatable; default: "
        "the current directory); bundled scenarios load by name",
    )
    admin.add_argument(
        "--allowed-host",
        action="append",
        type=_allowed_host,
        default=[],
        dest="allowed_hosts",
        metavar="NAME",
        help="the admin API also answers requests sent to host name NAME (repeatable); by default "
        "only to IP addresses and localhost, so that a DNS-rebinding web page cannot reach it",
    )
    reach = serve.add_argument_group("reaching the APIs")
    reach.add_argument(
        "--api-port",
        action="append",
        type=_api_pair(apis, _port),
        default=[],
        dest="api_ports",
        metavar="API=PORT",
        help="also serve API at its real root paths on PORT, e.g. apixo=8002 (repeatable; 0: a free port)",
    )
    reach.add_argument(
        "--api-ports",
        type=_port,
        default=None,
        dest="first_api_port",
        metavar="FIRST",
        help=f"give each API a port of its own from FIRST on, in this order: {', '.join(apis)} "
        "(0: free ports)",
    )
    reach.add_argument(
        "--api-host",
        action="append",
        type=_api_pair(apis, _allowed_host),
        default=[],
        dest="api_hosts",
        metavar="API=NAME",
        help="a request whose Host is NAME reaches API at its real root paths, e.g. apixo=apixo.test "
        "(repeatable), as do requests to the real service's host names",
    )
    reach.add_argument(
        "--public-url",
        type=_base_url,
        default=None,
        metavar="URL",
        help="result URLs begin with URL, e.g. http://192.0.2.2:8000 (default: the scheme and host each "
        "submit was sent to, as Host or X-Forwarded-Host and X-Forwarded-Proto say)",
    )
    reach.add_argument(
        "--cors",
        action="store_true",
        help="let web pages of any origin call the APIs and read result files (the admin API stays "
        "closed to them)",
    )

    scenarios = _command(commands, "scenarios", "list, validate or describe scenario files")
    actions = scenarios.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    _command(actions, "list", "the bundled scenarios and what each is for")
    validate = _command(actions, "validate", "check scenario files; every error is listed")
    validate.add_argument("paths", nargs="+", metavar="FILE", help="a scenario file (YAML or JSON)")
    _command(actions, "schema", "print the JSON Schema of the scenario format")
    from_recording = _command(
        actions, "from-recording", "write a scenario that reproduces a recording's timings and failures"
    )
    from_recording.add_argument("recording", metavar="FILE.jsonl", help="made by fakeapi proxy --record")
    from_recording.add_argument("-o", "--output", metavar="OUT.yaml", help="write it here, not to stdout")

    contract = _command(commands, "contract", "the APIs' contracts: OpenAPI documents, verify a server")
    contract_actions = contract.add_subparsers(
        dest="action", required=True, metavar="ACTION", title="actions"
    )
    openapi = _command(contract_actions, "openapi", "print an API's OpenAPI 3.1 document")
    openapi.add_argument("--api", required=True, choices=[*apis, "admin"], help="an API, or admin")
    openapi.add_argument(
        "--base-url",
        default="http://127.0.0.1:8000",
        metavar="URL",
        help="where the fake is served (default: http://127.0.0.1:8000)",
    )
    verify = _command(
        contract_actions, "verify", "drive an API's canonical flow against a server, checking each answer"
    )
    verify.epilog = "exit status: 0 the server conforms, 1 drift, 2 a usage error or a server it cannot reach"
    checkable = list(registered_lifecycles())
    _add_verify_arguments(verify, checkable)
    _add_check_arguments(
        _command(
            contract_actions,
            "check",
            "check a recording made by fakeapi proxy: contract and etiquette, offline",
        )
    )
    _add_proxy_arguments(
        _command(
            commands,
            "proxy",
            "forward a client's traffic to an API, checking each exchange against its contract",
        ),
        checkable,
    )

    args = parser.parse_args(argv)
    if args.command != "serve":
        gc.enable()  # started: a command may run for minutes (contract verify)
    try:
        if args.command == "contract" and args.action == "openapi":
            print(json.dumps(_openapi(args.api, args.base_url.rstrip("/")), indent=2, ensure_ascii=False))
            return 0
        if args.command == "proxy":
            from fakeapi.contract.proxy import run_proxy

            return run_proxy(args)
        if args.command == "contract" and args.action == "check":
            from fakeapi.contract.proxy import run_check

            return run_check(args)
        if args.command == "contract":
            from fakeapi.contract.verify import run_verify

            return run_verify(args)
        if args.command == "serve":
            if args.speed is not None and args.speed <= 0:
                parser.error("--speed must be positive")
            if args.admin_token == "":
                parser.error("--admin-token must not be empty")
            if args.first_api_port and args.first_api_port + len(apis) - 1 > 65535:
                last = f"the last of {len(apis)} ports is past 65535"
                parser.error(f"--api-ports {args.first_api_port}: {last}")
            from fakeapi.server import loops

            return loops.run(_serve(args))
        if args.action == "from-recording":
            from fakeapi.scenario.recording import run_from_recording

            return run_from_recording(args.recording, args.output)
        if args.action == "list":
            _list_scenarios()
            return 0
        if args.action == "schema":
            print(json.dumps(scenario_json_schema(), indent=2))
            return 0
        return _validate(args.paths)
    except ScenarioError as exc:
        print(f"fakeapi: {exc}", file=sys.stderr)
        return 2


def _list_scenarios() -> None:
    """Each bundled scenario and its description: on one line each for a pipe, wrapped to the
    terminal's width (``COLUMNS``, if set) beside the names for a person."""
    from fakeapi.scenario import bundled_names, load_scenario

    names = bundled_names()
    width = max(map(len, names)) + 2
    wrap = "COLUMNS" in os.environ or sys.stdout.isatty()
    room = max(shutil.get_terminal_size().columns - width, MIN_DESCRIPTION)
    for name in names:
        description = " ".join(load_scenario(name).description.split())
        lines = textwrap.wrap(description, room) if wrap else [description]
        print(f"{name:<{width}}{lines[0] if lines else ''}")
        for line in lines[1:]:
            print(" " * width + line)


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> argparse.ArgumentParser:
    """A subcommand whose ``summary`` shows in its parent's help and heads its own."""
    description = summary[0].upper() + summary[1:] + "."
    return commands.add_parser(name, help=summary, description=description, formatter_class=_HelpFormatter)


class _HelpFormatter(argparse.HelpFormatter):
    """Help whose descriptions start in one column, past the longest subcommand name."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=HELP_COLUMN)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            # argparse lists subcommands two columns in from their section, but measures them as if
            # they were not: the longest name then pushes its description onto a line of its own.
            longest = max(map(len, action.choices), default=0)
            self._action_max_length = max(self._action_max_length, longest + self._current_indent + 2)


def _version() -> str:
    from fakeapi import DISTRIBUTION, package_version

    return f"{DISTRIBUTION} {package_version()}"


def _openapi(api: str, base_url: str) -> dict[str, Any]:
    from fakeapi.contract.openapi import admin_document, api_document
    from fakeapi.providers import REGISTRY
    from fakeapi.server import FakeServer

    if api == "admin":
        admin = FakeServer().admin
        return admin_document(admin.routes(), base_url + admin.mount)
    [provider] = [p for p in REGISTRY.providers() if p.name == api]
    return api_document(provider, base_url)


def _directory(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: not a directory")
    return path


def _allowed_host(value: str) -> str:
    from fakeapi.admin import host_name

    try:
        return host_name(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(value: str) -> int:
    number = int(value) if value.isascii() and value.isdigit() else -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("must be a port number, 0 to 65535")
    return number


def _api_pair(apis: list[str], convert: Callable[[str], T]) -> Callable[[str], tuple[str, T]]:
    """The type of an ``API=VALUE`` option: the API's name (one of ``apis``) and ``convert(VALUE)``."""

    def parse(value: str) -> tuple[str, T]:
        api, equals, rest = value.partition("=")
        if not equals or api not in apis:
            raise argparse.ArgumentTypeError(f"must be API=VALUE with API one of {', '.join(apis)}")
        return api, convert(rest)

    return parse


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return number


def _base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("must be an http:// or https:// URL")
    return value


def _add_verify_arguments(parser: argparse.ArgumentParser, apis: list[str]) -> None:
    """The options of ``fakeapi contract verify``, which ``run_verify`` reads; ``apis``: those it can
    verify."""
    parser.add_argument("--api", required=True, choices=apis, help="the API to verify")
    parser.add_argument(
        "--base-url",
        required=True,
        type=_base_url,
        metavar="URL",
        help="the API's root, e.g. http://127.0.0.1:8000/rixapi (the fake) or the real service's",
    )
    parser.add_argument(
        "--key",
        default=os.environ.get("FAKEAPI_VERIFY_KEY"),
        metavar="KEY",
        help="API key (default: $FAKEAPI_VERIFY_KEY)",
    )
    parser.add_argument(
        "--model", metavar="MODEL", help="submit one job with this model instead of the cheapest of each kind"
    )
    parser.add_argument(
        "--max-submits", type=_count, default=2, metavar="N", help="jobs created at most (default: 2)"
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=600.0, metavar="SECONDS", help="for the whole run (default: 600)"
    )
    parser.add_argument(
        "--poll-every",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="between polls (default: the API's documented pace)",
    )
    parser.add_argument(
        "--callback-host",
        metavar="HOST",
        help="receive the first job's callbacks on this host and check them",
    )
    parser.add_argument(
        "--report", choices=("human", "json", "junit"), default="human", help="how to report (default: human)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and its cost; send nothing")


def _add_proxy_arguments(parser: argparse.ArgumentParser, apis: list[str]) -> None:
    """The options of ``fakeapi proxy``, which ``run_proxy`` reads; ``apis``: those it can check."""
    parser.add_argument("--api", required=True, choices=apis, help="the API the client talks to")
    parser.add_argument(
        "--upstream",
        required=True,
        type=_base_url,
        metavar="URL",
        help="the API's root URL, e.g. https://api.elkapi.com or http://127.0.0.1:8000/rixapi (the fake)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8080, help="the port to listen on (default: 8080)")
    parser.add_argument(
        "--record", type=Path, metavar="FILE.jsonl", help="write every exchange to FILE.jsonl"
    )


def _add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fakeapi contract check``, which ``run_check`` reads."""
    parser.add_argument(
        "recording", type=Path, metavar="FILE.jsonl", help="a recording made by fakeapi proxy"
    )
    parser.add_argument(
        "--report", choices=("human", "json"), default="human", help="how to report (default: human)"
    )


def _validate(paths: list[str]) -> int:
    from fakeapi.errors import ScenarioError
    from fakeapi.scenario import load_scenario

    failed = 0
    for path in paths:
        try:
            load_scenario(path)
        except ScenarioError as exc:
            failed += 1
            print(exc, file=sys.stderr)
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


async def _serve(args: argparse.Namespace) -> int:
    from fakeapi.admin import is_loopback, scenario_name
    from fakeapi.etiquette import strictly
    from fakeapi.providers import REGISTRY
    from fakeapi.scenario import load_scenario
    from fakeapi.server import FakeServer, heap
    from fakeapi.server.request_log import RequestLog, wants_colour

    api_ports: dict[str, int] = {}
    if args.first_api_port is not None:
        for offset, provider in enumerate(REGISTRY.providers()):
            api_ports[provider.name] = args.first_api_port and args.first_api_port + offset
    api_ports.update(args.api_ports)
    api_hosts: dict[str, list[str]] = {}
    for api, name in args.api_hosts:
        api_hosts.setdefault(api, []).append(name)
    scenario = load_scenario(args.scenario)
    if args.speed is not None and scenario.clock.mode == "virtual":
        print(
            f"fakeapi serve: error: --speed {args.speed:g} for the scenario {args.scenario}, whose clock is "
            "virtual (clock.mode: virtual): it stands still until shifted (POST /_fakeapi/clock/shift); "
            "drop --speed, or give --speed with a scenario on the system clock",
            file=sys.stderr,
        )
        return 2
    log = RequestLog(sys.stdout, args.log_format, colour=wants_colour(sys.stdout))
    # In JSON, stdout carries only the log's lines: what is said to a person goes to stderr.
    say = functools.partial(print, file=sys.stderr if args.log_format == "json" else sys.stdout, flush=True)
    try:
        server = FakeServer(
            strictly(scenario, True) if args.strict else scenario,
            seed=args.seed,
            host=args.host,
            port=args.port,
            clock="virtual" if args.virtual_clock else None,
            speed=args.speed,
            admin_token=args.admin_token,
            scenario_dirs=args.scenario_dirs,
            allowed_hosts=args.allowed_hosts,
            api_ports=api_ports,
            api_hosts=api_hosts,
            public_url=args.public_url,
            cors=args.cors,
            request_log=None if args.quiet else log,
        )
    except (
        ValueError
    ) as exc:  # options that contradict each other or the scenario (a speed for a virtual clock)
        print(f"fakeapi serve: error: {exc}", file=sys.stderr)
        return 2
    server.admin.scenario_name = scenario_name(args.scenario)
    try:
        await server.start()
    except OSError as exc:
        also = f" and the API ports {sorted(api_ports.values())}" if api_ports else ""
        print(f"fakeapi: cannot listen on {args.host}:{args.port}{also}: {exc.strerror}", file=sys.stderr)
        return 1
    # What start-up made lives as long as the server, and so do most tasks: later collections skip
    # them (see fakeapi.server.heap).
    server.current.announce = log.note
    heap.freeze_survivors()
    gc.enable()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    engine = server.engine
    say(f"fakeapi serving scenario {args.scenario!r} (seed {engine.seed})")
    for provider in server.providers:
        name = provider.name
        root = f"  (root paths: {server.root_url_for(name)}/)" if name in api_ports else ""
        say(f"  {name:<9} {server.url_for(name)}{root}")
    say(f"  {'admin':<9} {_admin_status(server)}")
    if server.admin_token is not None:
        say(
            f"  {'dashboard':<9} off: a browser cannot send the admin token; use the admin API with "
            "'Authorization: Bearer TOKEN'"
        )
    elif is_loopback(server.host):
        say(f"  {'dashboard':<9} {server.base_url}{server.admin.mount}/ (in a browser)")
    say(f"  {'health':<9} {server.base_url}{server.admin.mount}/health")
    clock = engine.clock
    if clock.is_virtual:
        say("  clock: virtual, standing still until shifted (POST /_fakeapi/clock/shift)")
    else:
        say(f"  clock: system, speed {clock.speed:g}x")
    if server.public_url is not None:
        say(f"  result URLs begin with {server.public_url}")
    if args.cors:
        say("  CORS: web pages of any origin may call the APIs")
    if server.engine.scenario.etiquette.strict:
        say("  strict: each etiquette violation is printed as it happens")
    if args.quiet:
        say("  quiet: no line per request")
    say("Press Ctrl-C to stop.")
    await stop.wait()
    await server.stop()
    say("fakeapi stopped.")
    return 0


def _admin_status(server: FakeServer) -> str:
    from fakeapi.admin import is_loopback

    url = server.base_url + server.admin.mount + "/"
    if server.admin_token is not None:
        return f"{url} (token required)"
    if is_loopback(server.host):
        return url
    return f"off: {server.host} is not a loopback address; start with --admin-token TOKEN to use it"
