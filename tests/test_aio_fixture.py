"""The ``afakeapi`` fixture: the fake on an async test's own loop, beside pytest-aiohttp's fixtures.

The inner test files are what a downstream project with pytest-aiohttp writes; the first one is the
documentation's example, ``tests/examples/test_afakeapi.py`` (docs/fixture.md includes its
``test_a_service_and_its_callback_receiver``), run here as such a project runs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from admin_client import write_ini

EXAMPLE = Path(__file__).parent / "examples" / "test_afakeapi.py"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    write_ini(pytester, "asyncio_mode = auto")
    return pytester


def test_afakeapi_beside_pytest_aiohttp(project: pytest.Pytester) -> None:
    project.makepyfile(test_example=EXAMPLE.read_text(encoding="utf-8"))
    result = project.runpytest("-q")
    result.assert_outcomes(passed=3)


def test_afakeapi_reports_surprises_at_teardown(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_surprise="""
        import aiohttp


        async def test_typo(afakeapi):
            async with aiohttp.ClientSession() as session:
                async with session.get(afakeapi.url_for("apixo") + "/nope") as answer:
                    assert answer.status == 404
        """
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_typo*", "*- GET /apixo/nope matched no route*"])


def test_without_pytest_asyncio_there_is_no_afakeapi(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    pytester.makepyfile(test_plain="def test_plain(afakeapi):\n    pass\n")
    result = pytester.runpytest("-p", "no:asyncio", "-p", "no:aiohttp")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'afakeapi' not found*"])
