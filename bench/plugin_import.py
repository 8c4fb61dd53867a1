"""What the fakeapi pytest plugin costs a pytest run that never asks for its fixtures.

Runs a one-test project that does not use the fake with the plugin and without it, interleaved,
several rounds each, and prints the medians and their difference; then ``python -X importtime`` of
the plugin module alone, pytest already imported (as in a pytest run). The runs load no other plugin
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``; the plugin by ``-p fakeapi.pytest_plugin``), so that the ones a
development environment has installed do not drown the difference in their noise. The issue's goal:
at most 30 ms. ``python bench/plugin_import.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
ALONE = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def timed_run(project: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run([*PYTEST, *extra], cwd=project, env=ALONE, check=True, capture_output=True)
    return time.perf_counter() - started


def import_time() -> float:
    """The import of the plugin module (and of ``fakeapi``, inside it), in seconds, pytest imported
    first as in a pytest run (``-X importtime``, cumulative)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import fakeapi.pytest_plugin"],
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(line for line in result.stderr.splitlines() if line.endswith("| fakeapi.pytest_plugin"))
    return int(line.split("|")[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "test_plain.py").write_text("def test_plain():\n    assert True\n")
        timed_run(project)  # warm the file cache and the byte-code
        with_plugin: list[float] = []
        without: list[float] = []
        for _ in range(rounds):
            with_plugin.append(timed_run(project, "-p", "fakeapi.pytest_plugin"))
            without.append(timed_run(project))
    plugin, bare = statistics.median(with_plugin), statistics.median(without)
    print(f"pytest run that never uses the fixture, median of {rounds} rounds:")
    print(f"  with the fakeapi plugin   {plugin * 1000:7.1f} ms")
    print(f"  without it                {bare * 1000:7.1f} ms")
    print(f"  the plugin's cost         {(plugin - bare) * 1000:7.1f} ms")
    print(f"import fakeapi.pytest_plugin after pytest (-X importtime): {import_time() * 1000:.1f} ms")


if __name__ == "__main__":
    main()
