"""The package as a downstream project installs it: its name, the plugin module it ships, and what
importing the plugin costs a pytest run that never asks for the fixture."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

import fakeapi

PROJECT = Path(__file__).resolve().parents[1]
# What the plugin must not import until a test asks for a fixture.
HEAVY = ("aiohttp", "pydantic", "faker", "yaml", "uvloop", "ulid", "multidict", "yarl")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source distribution, built from a clean copy of the repository (as a release would be)."""
    source = tmp_path_factory.mktemp("src")
    shutil.copytree(
        PROJECT,
        source,
        dirs_exist_ok=True,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".venv*", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    dist = tmp_path_factory.mktemp("dist")
    script = f"from setuptools import build_meta; print(build_meta.build_sdist({str(dist)!r}))"
    name = run(sys.executable, "-c", script, cwd=source).splitlines()[-1]
    return dist / name


@pytest.fixture(scope="module")
def wheel(sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from the source distribution (what an install from the index gets)."""
    wheels = tmp_path_factory.mktemp("wheels")
    pip = (sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--no-build-isolation")
    run(*pip, "--wheel-dir", wheels, sdist, cwd=wheels)
    (built,) = wheels.glob("*.whl")
    return built


def test_the_distribution_has_a_name_of_its_own(wheel: Path) -> None:
    assert fakeapi.DISTRIBUTION == "fakeapi-sandbox"
    assert wheel.name.startswith("fakeapi_sandbox-0.1.0-")
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        assert "[pytest11]\nfakeapi = fakeapi.pytest_plugin\n" in archive.read(entry_points).decode()


def test_the_plugin_ships_inside_the_package_as_a_file(sdist: Path, wheel: Path) -> None:
    source = (PROJECT / "pytest_plugin.py").read_bytes()
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "pytest_plugin.py" not in names  # no top-level module a project's own could shadow
        assert archive.read("fakeapi/pytest_plugin.py") == source
    with tarfile.open(sdist) as archive:
        root = sdist.name.removesuffix(".tar.gz")
        member = archive.getmember(f"{root}/fakeapi/pytest_plugin.py")
        assert member.isfile()  # the repository's symlink, as the file it points to
        shipped = archive.extractfile(member)
        assert shipped is not None
        assert shipped.read() == source


OWN_PLUGIN = '''
"""The downstream project's own pytest_plugin.py."""

import pytest


@pytest.fixture
def mine():
    return "the project's own"
'''

DOWNSTREAM_TEST = """
import json
import urllib.request

import fakeapi
import pytest_plugin

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_both_plugins(fakeapi, mine):
    assert mine == "the project's own"
    assert pytest_plugin.__doc__ == "The downstream project's own pytest_plugin.py."
    body = json.dumps({"model": "kling-v2", "input": {"prompt": "a fox"}}).encode()
    request = urllib.request.Request(
        fakeapi.url_for("rixapi") + "/v1/task/submit",
        data=body,
        headers={"Authorization": "Bearer sk-x", "Content-Type": "application/json"},
    )
    with OPENER.open(request, timeout=10) as answer:
        assert json.load(answer)["status"] == "queued"
    fakeapi.clock.shift(60)
    assert [task.state for task in fakeapi.tasks] == ["succeeded"]


def test_the_installed_copy():
    import fakeapi as package

    print("PACKAGE", package.__file__)
"""


def test_the_wheel_in_a_fresh_venv_beside_a_project_with_its_own_pytest_plugin(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path).strip()
    )
    # The dependencies come from this interpreter's site-packages (appended to the new one's path,
    # its .pth files unread: no editable fakeapi), so that the test needs no index and no downloads.
    ours = Path(
        run(sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    )
    (site / "dependencies.pth").write_text(f"{ours.as_posix().strip()}\n")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--ignore-installed",  # next to a non-editable install (make test-installed) pip sees it there
        wheel,
        cwd=tmp_path,
    )

    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest_plugin.py").write_text(textwrap.dedent(OWN_PLUGIN).lstrip())
    (project / "conftest.py").write_text('pytest_plugins = ["pytest_plugin"]\n')
    (project / "test_downstream.py").write_text(DOWNSTREAM_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    options = ("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist", "-s", "-q")
    output = run(python, "-m", "pytest", *options, cwd=project, env=env)
    assert "2 passed" in output
    package = next(line.split("PACKAGE ", 1)[1] for line in output.splitlines() if "PACKAGE " in line)
    assert Path(package).is_relative_to(site)  # the wheel's copy, not the repository's
    assert (project / "pytest_plugin.py").read_text() == textwrap.dedent(OWN_PLUGIN).lstrip()


def test_importing_the_plugin_imports_nothing_heavy(tmp_path: Path) -> None:
    script = (
        "import sys, fakeapi.pytest_plugin\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('fakeapi')))\n"
    )
    assert run(sys.executable, "-c", script, cwd=tmp_path).strip() == "['fakeapi', 'fakeapi.pytest_plugin']"


@pytest.mark.parametrize("scenario", [None, "instant", "mine.yaml"])
def test_a_run_that_never_asks_for_the_fixture_never_imports_the_fake(
    pytester: pytest.Pytester, scenario: str | None
) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys


        def test_plain():
            pass


        def test_zz_last():
            loaded = sorted(m for m in sys.modules if m.startswith("fakeapi"))
            assert set(loaded) <= {"fakeapi", "fakeapi.pytest_plugin", "fakeapi.pytest_aio"}, loaded
        """
    )
    (pytester.path / "mine.yaml").write_text("rules:\n  - phases: [{state: succeeded}]\n")
    options = () if scenario is None else ("--fakeapi-scenario", scenario)
    result = pytester.runpytest_subprocess("-p", "no:randomly", *options)
    result.assert_outcomes(passed=2)


def test_the_test_extra_builds_with_the_build_systems_setuptools() -> None:
    pyproject = (PROJECT / "pyproject.toml").read_text()
    build = re.search(r'^requires = \["(setuptools[^"]*)"\]$', pyproject, re.MULTILINE)
    test = re.search(r"^test = \[\n(.*?)^\]$", pyproject, re.MULTILINE | re.DOTALL)
    assert build is not None
    assert test is not None
    # test_install builds the package with --no-build-isolation: with the test extra's setuptools
    assert f'"{build[1]}",' in test[1].split(), test[1]
