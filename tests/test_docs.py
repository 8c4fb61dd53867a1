"""The shell sessions the docs show run, in order, against a fresh ``fakeapi serve``, and print what
the docs say they print.

A session is a ```` ```console ```` block: ``$ `` starts a command (a line ending in ``\\`` goes on
to the next), the lines up to the next command are its output, in which ``...`` stands for any text
(ids, times). ``A=URL`` sets a variable for the commands after it. The sandbox's address in the
docs, ``127.0.0.1:8000``, becomes the test server's.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from admin_client import free_ports
from test_cli import Served

from fakeapi.scenario.loading import bundled_names

ROOT = Path(__file__).parents[1]
DOCS_ADDRESS = "127.0.0.1:8000"
ASSIGNMENT = re.compile(r"([A-Za-z_]\w*)=(\S+)")
# The sessions on each page run against one server, in the order the page shows them.
SESSION_PAGES = ["README.md", "docs/admin.md"]
BANNER_PAGES = ["README.md", "docs/sandbox.md", "docs/reaching.md"]
# The ports the pages show for `--api-ports 8001`.
DOCS_API_PORTS = range(8001, 8005)


@dataclass(frozen=True)
class Step:
    """One command of a session and the output the page shows for it."""

    line: int
    command: str
    shown: str

    def expects(self, printed: str) -> bool:
        """Whether ``printed`` is what the page shows, ``...`` standing for any text."""
        pattern = ".*?".join(re.escape(part) for part in self.shown.split("..."))
        return re.fullmatch(pattern, printed.replace("\r\n", "\n").strip("\n"), flags=re.S) is not None


def sessions(page: str) -> list[Step]:
    """Every command of the page's console blocks, in page order, with the output shown after it."""
    steps: list[Step] = []
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    in_console = False
    command: list[str] = []
    shown: list[str] = []
    start = 0

    def close() -> None:
        if command:
            steps.append(Step(start, "\n".join(command), "\n".join(shown).strip("\n")))
        command.clear()
        shown.clear()

    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            in_console = line == "```console" and not in_console
            if not in_console:
                close()
        elif in_console and (line.startswith("$ ") or (command and not shown and command[-1].endswith("\\"))):
            if line.startswith("$ "):
                close()
                start = number
            command.append(line.removeprefix("$ "))
        elif in_console:
            shown.append(line)
    return steps


def _environment() -> dict[str, str]:
    """This process's environment without proxies: curl must reach the server on 127.0.0.1."""
    return {name: value for name, value in os.environ.items() if "proxy" not in name.lower()}


@pytest.mark.parametrize("page", SESSION_PAGES)
def test_page_sessions_print_what_the_page_shows(page: str) -> None:
    steps = sessions(page)
    assert steps, f"{page} shows no console session"
    served = Served("--host", "127.0.0.1", "--port", "0")
    try:
        port = served.wait_for_line(r"^\s+admin\s+http://127\.0\.0\.1:(\d+)/_fakeapi/$").group(1)
        address = f"127.0.0.1:{port}"
        environment = _environment()
        for step in steps:
            command = step.command.replace(DOCS_ADDRESS, address)
            if assignment := ASSIGNMENT.fullmatch(command):
                environment[assignment.group(1)] = os.path.expandvars(assignment.group(2))
                continue
            run = subprocess.run(
                ["bash", "-c", command],
                env=environment,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            printed = run.stdout
            wanted = Step(step.line, command, step.shown.replace(DOCS_ADDRESS, address))
            assert wanted.expects(printed), (
                f"{page}:{step.line}: {command}\n--- the page shows:\n{wanted.shown}\n--- it printed:\n"
                f"{printed}{run.stderr}"
            )
    finally:
        served.stop()


@pytest.mark.parametrize("page", SESSION_PAGES)
def test_every_curl_on_a_session_page_is_run(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```([^\n]*)\n(.*?)^```$", text, flags=re.S | re.M)
    assert any(info == "console" for info, _ in blocks)
    assert [body for info, body in blocks if info != "console" and "curl " in body] == []


def test_every_bundled_scenario_is_named_in_the_readme_and_described_in_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    described = re.findall(
        r"^\| `([a-z0-9-]+)` \|", (ROOT / "docs/scenarios.md").read_text(encoding="utf-8"), re.M
    )
    assert [name for name in bundled_names() if f"`{name}`" not in readme] == []
    assert sorted(described) == sorted(bundled_names())


@pytest.mark.parametrize("page", BANNER_PAGES)
def test_the_banner_a_page_shows_is_what_fakeapi_serve_prints(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    [(options, shown)] = re.findall(
        r"^```\n(?:\$ fakeapi serve(.*)\n)?(fakeapi serving .*?)^```$", text, flags=re.S | re.M
    )
    first_api_port = free_ports(len(DOCS_API_PORTS))
    api_ports = {str(docs): str(first_api_port + offset) for offset, docs in enumerate(DOCS_API_PORTS)}
    # A page without a command shows `make serve`'s banner.
    given = [api_ports.get(word, word) for word in shlex.split(options)] or ["--scenario", "default"]
    served = Served("--host", "127.0.0.1", "--port", "0", *given)
    try:
        served.wait_for_line(r"^Press Ctrl-C to stop\.$")
    finally:
        served.stop()
    printed = "\n".join(served.seen)
    port = re.search(r"http://127\.0\.0\.1:(\d+)/", printed)
    assert port is not None, served.seen
    as_in_the_docs = {f"127.0.0.1:{port.group(1)}": DOCS_ADDRESS} | {
        f"127.0.0.1:{test}": f"127.0.0.1:{docs}" for docs, test in api_ports.items()
    }
    for test, docs in as_in_the_docs.items():
        printed = printed.replace(test, docs)
    assert printed == shown.rstrip("\n")


def test_the_readme_links_to_every_docs_page_and_only_to_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert [link for link in links if not (ROOT / link).is_file()] == []
    assert {path.relative_to(ROOT).as_posix() for path in (ROOT / "docs").glob("*.md")} <= set(links)
