"""The ``fakeapi`` command, run as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

FAKEAPI = Path(sys.executable).parent / "fakeapi"
PROJECT = Path(__file__).parents[1]
BUNDLED = [
    "content-violation",
    "default",
    "flaky-5xx",
    "instant",
    "manual",
    "out-of-credits",
    "poll-count",
    "rate-limited",
    "slow-queue",
    "webhook-receiver-down",
]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

GOOD = """\
description: one rule, two phases
rules:
  - name: everything
    phases:
      - {state: queued, for: 2s}
      - {state: succeeded}
"""

# Two mistakes: a duration that is no duration (line 6) and an unknown top-level key (line 8).
BAD = """\
description: broken
rules:
  - name: videos
    match: {kind: video}
    phases:
      - {state: queued, for: soon}
      - {state: succeeded}
colour: blue
"""


def run(*args: str, cwd: Path | None = None, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """The command's run; ``columns``: the terminal width it is told (``COLUMNS``), else none (a pipe)."""
    env = {name: value for name, value in os.environ.items() if name != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [str(FAKEAPI), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_console_script_is_installed() -> None:
    assert FAKEAPI.is_file(), f"no console script at {FAKEAPI}"
    assert os.access(FAKEAPI, os.X_OK)


def test_scenarios_list() -> None:
    result = run("scenarios", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == BUNDLED
    by_name = {line.split()[0]: line.split(None, 1)[1] for line in lines}
    assert by_name["instant"] == "Every task completes at once, on submit."
    assert by_name["default"].startswith("The everyday sandbox:")
    assert "videos after about 30 s" in by_name["default"]
    assert by_name["manual"].startswith("Tasks run until a test")
    assert by_name["poll-count"].startswith("Progress by polls")
    assert "\n" not in by_name["poll-count"]  # folded YAML becomes one line


def test_scenarios_validate_good_file(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    result = run("scenarios", "validate", "good.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "good.yaml: ok"
    assert result.stderr == ""


def test_scenarios_validate_bad_files_name_file_line_and_path(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = run("scenarios", "validate", "bad.yaml", "good.yaml", "missing.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.strip() == "good.yaml: ok"  # every file is checked
    errors = result.stderr.splitlines()
    assert len(errors) == 3, result.stderr
    assert errors[0].startswith("bad.yaml:6: rules[0].phases[0].for: ")
    assert "a duration is a number of seconds" in errors[0]
    assert errors[1].startswith("bad.yaml:8: colour: ")
    assert errors[2].startswith("missing.yaml: no such scenario file")
    assert "Traceback" not in result.stderr


def test_scenarios_schema() -> None:
    result = run("scenarios", "schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert "rules" in schema["properties"]
    assert "rules" in schema["required"]
    assert schema["properties"]["rules"]["type"] == "array"


class Served:
    """A ``fakeapi serve`` subprocess whose output lines are read in a thread, with deadlines."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [str(FAKEAPI), "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=None if env is None else {**os.environ, **env},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for_line(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {timeout}s; saw {self.seen}") from None
            if line is None:
                raise AssertionError(f"output ended without {pattern!r}; saw {self.seen}")
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match

    def rest(self) -> list[str]:
        self._reader.join(timeout=10)
        while (line := self.lines.get_nowait()) is not None:
            self.seen.append(line)
        return self.seen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)  # it reads stdout to its end: closed under it, it would raise
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def http(
    method: str, url: str, body: dict[str, Any] | None = None, host: str | None = None
) -> tuple[int, str, bytes]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": "Bearer sk-cli", "Content-Type": "application/json"}
    if host is not None:
        headers["Host"] = host
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_answers_and_stops_on_signal(signum: signal.Signals) -> None:
    served = Served("--host", "127.0.0.1", "--port", "0", "--scenario", "instant", "--seed", "7")
    try:
        served.wait_for_line(r"^fakeapi serving scenario 'instant' \(seed 7\)$")
        base = served.wait_for_line(r"^\s+rixapi\s+(http://127\.0\.0\.1:(\d+)/rixapi)$")
        base_url, port = base.group(1), int(base.group(2))
        assert port != 0  # --port 0 prints the port actually bound
        served.wait_for_line(rf"^\s+admin\s+http://127\.0\.0\.1:{port}/_fakeapi/$")
        served.wait_for_line(r"^Press Ctrl-C to stop\.$")
        status, _, raw = http("GET", f"http://127.0.0.1:{port}/_fakeapi/seed")
        assert (status, json.loads(raw)) == (200, {"seed": 7})

        status, ctype, raw = http(
            "POST", base_url + "/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "a boat"}}
        )
        assert (status, ctype) == (200, "application/json"), raw
        task = json.loads(raw)
        assert task["status"] == "completed"  # instant: done on submit
        status, _, raw = http("GET", base_url + "/v1/task/" + task["id"])
        assert status == 200
        assert json.loads(raw) == task
        (output,) = task["outputs"]
        assert output.startswith(f"http://127.0.0.1:{port}/files/{task['id']}/")
        status, ctype, media = http("GET", output)
        assert (status, ctype) == (200, "image/png")
        assert media.startswith(b"\x89PNG\r\n\x1a\n")

        served.process.send_signal(signum)
        assert served.process.wait(timeout=10) == 0
        assert served.rest()[-1] == "fakeapi stopped."
        assert served.process.stderr is not None
        assert "Traceback" not in served.process.stderr.read()
    finally:
        served.stop()


def test_serve_on_a_virtual_clock_answers_its_first_requests() -> None:
    # The command bench/startup.py times. In a fresh process each model is built on its first use,
    # so these are the first checks of a submit, an invalid submit and an admin body.
    served = Served("--host", "127.0.0.1", "--port", "0", "--virtual-clock")
    try:
        served.wait_for_line(r"^fakeapi serving scenario 'default' \(seed 0\)$")
        base = served.wait_for_line(r"^\s+rixapi\s+(http://127\.0\.0\.1:(\d+)/rixapi)$")
        base_url, port = base.group(1), int(base.group(2))
        served.wait_for_line(r"^Press Ctrl-C to stop\.$")
        admin = f"http://127.0.0.1:{port}/_fakeapi"

        status, _, raw = http("GET", base_url + "/v1/task/task_none")
        assert status == 404
        assert json.loads(raw)["error"]["code"] == "task_not_exist"
        status, _, raw = http("POST", base_url + "/v1/task/submit", {"model": "flux-pro"})
        assert status == 400
        assert json.loads(raw)["error"]["message"].startswith("input: Field required")
        status, _, raw = http("POST", base_url + "/v1/task/submit", {"model": "flux-pro", "input": {}})
        assert status == 200, raw
        task = json.loads(raw)
        assert task["status"] == "queued"

        status, _, raw = http("GET", admin + "/clock")
        assert (status, json.loads(raw)["virtual"], json.loads(raw)["speed"]) == (200, True, 0.0)
        status, _, raw = http("POST", admin + "/clock/shift", {"seconds": 10})
        assert status == 200, raw
        status, _, raw = http("GET", base_url + "/v1/task/" + task["id"])
        assert (status, json.loads(raw)["status"]) == (200, "completed")  # images take 5 s

        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=10) == 0
        assert served.rest()[-1] == "fakeapi stopped."
    finally:
        served.stop()


def test_serve_help_shows_the_admin_token() -> None:
    result = run("serve", "--help")
    assert result.returncode == 0, result.stderr
    assert "--admin-token TOKEN" in result.stdout
    assert run("serve", "--admin-token", "").returncode == 2  # an empty token protects nothing


def test_serve_loads_scenario_files_only_from_its_scenario_dirs(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "seeded.yaml").write_text("seed: 21\n" + GOOD, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("seed: 5\n" + GOOD, encoding="utf-8")
    served = Served(
        "--port",
        "0",
        "--scenario",
        "instant",
        "--scenario-dir",
        str(scenarios),
        "--allowed-host",
        "sandbox.test",
    )
    try:
        port = int(served.wait_for_line(r"^\s+admin\s+http://127\.0\.0\.1:(\d+)/_fakeapi/$").group(1))
        admin = f"http://127.0.0.1:{port}/_fakeapi"
        status, _, raw = http("POST", admin + "/load_scenario", {"scenario": "seeded.yaml"})
        assert (status, json.loads(raw)) == (200, {"seed": 21})
        status, _, raw = http("POST", admin + "/load_scenario", {"scenario": str(elsewhere)})
        assert status == 400
        message = json.loads(raw)["error"]["message"]
        assert f"and outside the scenario directories ({scenarios.resolve()})" in message

        status, _, raw = http("GET", admin + "/seed", host=f"sandbox.test:{port}")
        assert (status, json.loads(raw)) == (200, {"seed": 21})
        status, _, raw = http("GET", admin + "/seed", host=f"rebind.test:{port}")
        assert status == 403
        assert "--allowed-host" in json.loads(raw)["error"]["message"]

        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=10) == 0
    finally:
        served.stop()


def test_serve_help_shows_scenario_dirs_and_allowed_hosts(tmp_path: Path) -> None:
    result = run("serve", "--help")
    assert result.returncode == 0, result.stderr
    assert "--scenario-dir DIR" in result.stdout
    assert "--allowed-host NAME" in result.stdout
    result = run("serve", "--scenario-dir", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert f"argument --scenario-dir: {tmp_path / 'nope'}: not a directory" in result.stderr
    result = run("serve", "--allowed-host", "sandbox.test:8000")
    assert result.returncode == 2
    assert "argument --allowed-host: 'sandbox.test:8000' is not a host name" in result.stderr


def test_serve_unknown_scenario_lists_the_bundled_ones() -> None:
    result = run("serve", "--port", "0", "--scenario", "nope")
    assert result.returncode != 0
    assert "nope: no such scenario file" in result.stderr
    assert "bundled: " + ", ".join(BUNDLED) in result.stderr
    assert "Traceback" not in result.stderr
    assert "serving" not in result.stdout


def test_serve_on_a_busy_port_fails_cleanly() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--host", "127.0.0.1", "--port", str(port), "--scenario", "instant")
    assert result.returncode == 1
    assert f"fakeapi: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_bundled_scenarios_load_from_a_regular_install(tmp_path: Path) -> None:
    # Build from a clean copy, so the source tree gets no build/ folder and no stale one is reused.
    source = tmp_path / "src"
    shutil.copytree(
        PROJECT,
        source,
        symlinks=True,  # as a checkout has them: fakeapi/pytest_plugin.py is one
        ignore=shutil.ignore_patterns(
            ".venv*", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (target / "fakeapi" / "scenarios" / "default.yaml").is_file()

    script = (
        "import fakeapi, fakeapi.pytest_plugin as pytest_plugin\n"
        "from fakeapi.media import mp4\n"
        "from fakeapi.scenario import bundled_names, load_scenario\n"
        "print(load_scenario('default').rules[0].name)\n"
        "print(' '.join(bundled_names()))\n"
        "print(fakeapi.__file__)\n"
        "print(pytest_plugin.__file__)\n"
        "print(mp4()[4:8].decode())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    name, names, package, plugin, brand = result.stdout.splitlines()
    assert name == "images"
    assert names.split() == BUNDLED
    assert Path(package).is_relative_to(target)  # the installed copy, not the source tree
    assert Path(plugin).is_relative_to(target)
    assert Path(plugin) == target / "fakeapi" / "pytest_plugin.py"
    assert not Path(plugin).is_symlink()  # the repository's symlink ships as the file it points to
    assert brand == "ftyp"
