"""The README's examples run as a downstream suite would run them, and are the tested example files
the docs include."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fakeapi.scenario import parse_scenario

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
EXAMPLES = ROOT / "tests" / "examples"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_fixture_example_is_the_tested_example() -> None:
    runnable = [block for block in _python_blocks() if "def test_" in block and "..." not in block]
    assert runnable == [(EXAMPLES / "test_first_job.py").read_text(encoding="utf-8")]


def test_readme_fixture_examples_pass(pytester: pytest.Pytester) -> None:
    runnable = [block for block in _python_blocks() if "def test_" in block and "..." not in block]
    assert len(runnable) == 1, "expected the first-fixture-test example"
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_first_job=runnable[0],
        test_callbacks=(EXAMPLES / "test_callbacks.py").read_text(encoding="utf-8"),
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_scenario_reference_example_is_valid() -> None:
    scenario = parse_scenario(
        (EXAMPLES / "scenario-reference.yaml").read_text(encoding="utf-8"), source="scenario-reference.yaml"
    )
    assert scenario.rules[-1].match.is_fallback
    apixo = scenario.apis.get("apixo")
    assert apixo is not None
    assert apixo.result_ttl == 24 * 3600
