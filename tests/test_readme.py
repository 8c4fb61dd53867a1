"""The README's examples run as a downstream suite would run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fakeapi.scenario import parse_scenario

README = Path(__file__).parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_fixture_examples_pass(pytester: pytest.Pytester) -> None:
    runnable = [block for block in _python_blocks() if "def test_" in block and "..." not in block]
    assert len(runnable) == 2, "expected the first-fixture-test and callback_sink examples"
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_from_readme="\n\n".join(runnable))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_readme_scenario_example_is_valid() -> None:
    [block] = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    scenario = parse_scenario(block, source="README.md")
    assert scenario.rules[-1].match.is_fallback
    apixo = scenario.apis.get("apixo")
    assert apixo is not None
    assert apixo.result_ttl == 24 * 3600
