"""Loading scenarios: bundled names and files, YAML with line numbers, inline data, overrides.

Every error names the source, the line (for text) and the path inside the scenario. ``ScenarioDirs``
loads for the admin API: only bundled names and files under given directories, and errors that
show nothing of a file that is not a scenario.
"""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError, create_model

from fakeapi.errors import ScenarioError, problem
from fakeapi.scenario.schema import ApisBase, ApiSettings, Scenario

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

# libyaml's loader parses scenario files about ten times faster; PyYAML without it still works.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ScenarioRef = Scenario | str | Path | dict[str, Any]
SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")
MAX_SCENARIO_FILE_BYTES = 1024 * 1024


def registered_settings() -> dict[str, type[ApiSettings]]:
    """Each registered API's settings model, by API name."""
    from fakeapi.providers.registry import REGISTRY  # the providers import the engine, which imports this

    return REGISTRY.settings()


def scenario_model(apis: Mapping[str, type[ApiSettings]] | None = None) -> type[Scenario]:
    """The scenario model whose ``apis`` section has a member for each of ``apis`` (default: the
    registered APIs), each with its own settings model."""
    return _scenario_model(tuple((apis if apis is not None else registered_settings()).items()))


@functools.lru_cache(maxsize=8)
def _scenario_model(apis: tuple[tuple[str, type[ApiSettings]], ...]) -> type[Scenario]:
    fields: dict[str, Any] = {name: (settings, settings()) for name, settings in apis}
    section = create_model(
        "ApisSpec",
        __base__=ApisBase,
        __doc__="Per-API settings, by API name.",
        **fields,
    )
    model: type[Scenario] = create_model(
        "Scenario", __base__=Scenario, __doc__=Scenario.__doc__, apis=(section, section())
    )
    return model


def bundled_folder() -> Traversable:
    """The folder of the scenarios shipped with the package.

    An install maps the source tree's top-level ``scenarios/`` into the package as
    ``fakeapi.scenarios``; when ``fakeapi`` is imported from a source tree instead (``python -m pytest``
    there, next to a non-editable install), that folder is found beside the package.
    """
    try:
        return resources.files("fakeapi.scenarios")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "scenarios"


def bundled_names() -> list[str]:
    """Names of the scenarios shipped with the package."""
    folder = bundled_folder()
    return sorted(e.name.removesuffix(".yaml") for e in folder.iterdir() if e.name.endswith(".yaml"))


def load_scenario(ref: str | Path) -> Scenario:
    """Load a bundled scenario by name, or a scenario file by path."""
    path = Path(ref)
    if _is_file(path):
        return parse_scenario(path.read_text(encoding="utf-8"), source=str(path))
    bundled = _bundled(ref) if isinstance(ref, str) else None
    if bundled is not None:
        return bundled
    raise ScenarioError(f"{ref}: no such scenario file, and {_not_bundled(str(ref))}")


def _not_bundled(name: str) -> str:
    """Why ``name`` is no bundled scenario's, with the nearest bundled name if one is near."""
    names = bundled_names()
    nearest = difflib.get_close_matches(name, names, n=1)
    guess = f"; did you mean {nearest[0]}?" if nearest else ""
    return f"no bundled scenario of that name{guess} (bundled: {', '.join(names)})"


@functools.lru_cache(maxsize=64)
def _bundled(name: str) -> Scenario | None:
    """The bundled scenario ``name``, if there is one.

    Bundled scenarios are package data, fixed for the life of the process, so each is found, read
    and parsed once: the fixture loads its scenario by name before every test.
    """
    if "/" in name or "\0" in name:
        return None
    resource = bundled_folder() / f"{name}.yaml"
    if not _is_file(resource):
        return None
    return parse_scenario(resource.read_text(encoding="utf-8"), source=f"{name} (bundled)")


class ScenarioDirs:
    """Where the admin API may load scenarios from: the bundled ones by name, and files under
    ``dirs`` (default: the current directory; none: bundled names only).

    A file path, relative to each directory in turn or absolute, is resolved with symlinks
    followed and must lie under one of the directories, end in ``.yaml``, ``.yml`` or ``.json``,
    and hold at most ``max_bytes``. Errors name the file and the line but show nothing of a file
    that is not a scenario mapping: the admin API must not become a way to read other files.
    """

    def __init__(
        self, dirs: Sequence[str | Path] | None = None, *, max_bytes: int = MAX_SCENARIO_FILE_BYTES
    ) -> None:
        roots = [Path(d).resolve() for d in (dirs if dirs is not None else [Path.cwd()])]
        for root in roots:
            if not root.is_dir():
                raise ValueError(f"{root}: not a directory, so it cannot hold scenario files")
        self.roots = tuple(roots)
        self.max_bytes = max_bytes

    def load(self, ref: str) -> Scenario:
        """The bundled scenario named ``ref``, else the scenario file at path ``ref``."""
        bundled = _bundled(ref)
        if bundled is not None:
            return bundled
        path = self._find(ref)
        if path.suffix.lower() not in SCENARIO_SUFFIXES:
            raise ScenarioError(f"{ref}: a scenario file ends in {', '.join(SCENARIO_SUFFIXES)}")
        try:
            with path.open("rb") as file:
                data = file.read(self.max_bytes + 1)
        except OSError as exc:
            raise ScenarioError(f"{ref}: cannot be read ({exc.strerror})") from None
        if len(data) > self.max_bytes:
            raise ScenarioError(f"{ref}: larger than {self.max_bytes} bytes, too large for a scenario")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"{ref}: not UTF-8 text (byte {exc.start})") from None
        return parse_untrusted_scenario(text, source=ref)

    def _find(self, ref: str) -> Path:
        inside = False
        try:
            for root in self.roots:
                path = (root / ref).resolve()
                if any(path.is_relative_to(r) for r in self.roots):
                    inside = True
                    if path.is_file():
                        return path
        except (OSError, ValueError, RuntimeError):  # too long, a NUL byte, a symlink loop
            pass
        where = ", ".join(map(str, self.roots)) or "none"
        if inside:
            reason = f"no such scenario file in the scenario directories ({where})"
        else:
            reason = (
                f"outside the scenario directories ({where}); start the server with --scenario-dir DIR "
                "(FakeServer(scenario_dirs=[...])) to load files under DIR"
            )
        raise ScenarioError(f"{ref}: {_not_bundled(ref)}, and {reason}")


def _is_file(path: Path | Traversable) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system, say: no file
        return False


def resolve_scenario(ref: ScenarioRef) -> Scenario:
    """A scenario from a bundled name, a path, a dict of settings, or a ``Scenario``."""
    if isinstance(ref, Scenario):
        return ref
    if isinstance(ref, dict):
        return validate_scenario(ref)
    return load_scenario(ref)


@functools.lru_cache(maxsize=64)
def parse_scenario(text: str, *, source: str = "<inline>") -> Scenario:
    """Validate scenario text (YAML or JSON); errors name ``source``, the line and the path.

    Results are cached by text and source (a ``Scenario`` is immutable), so reloading the same
    scenario before every test costs no parsing.
    """
    try:
        data, root = _yaml_document(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(
            f"{_yaml_error_place(exc, source)}: not valid YAML: {_yaml_problem(exc, source)}"
        ) from None
    return validate_scenario(data, source=source, lines=dict(_node_lines(root, ())))


def parse_untrusted_scenario(text: str, *, source: str) -> Scenario:
    """Validate scenario text as ``parse_scenario`` does, but where the text is no scenario mapping
    (not YAML, or a top-level key that is no scenario setting), say where without quoting it."""
    try:
        data, root = _yaml_document(text)
    except (yaml.YAMLError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
        # PyYAML's messages quote the text (tags, aliases, snippets of the line), so only the place.
        raise ScenarioError(
            f"{_yaml_error_place(exc, source)}: not valid YAML "
            f"(`fakeapi scenarios validate {source}` shows the problem)"
        ) from None
    try:
        lines = dict(_node_lines(root, ()))
    except RecursionError:
        raise ScenarioError(f"{source}: nested too deeply for a scenario") from None
    if isinstance(data, dict):
        settings = scenario_model().model_fields.keys()
        for key in data:
            if not isinstance(key, str) or key not in settings:
                line = lines.get((str(key),))
                raise ScenarioError(
                    f"{f'{source}:{line}' if line else source}: not a scenario: a top-level key is no "
                    f"scenario setting (settings: {', '.join(settings)})"
                )
    return validate_scenario(data, source=source, lines=lines)


def _yaml_document(text: str) -> tuple[Any, yaml.Node | None]:
    """The data of the one YAML (or JSON) document in ``text``, and its root node."""
    loader = _YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        return (loader.construct_document(root) if root is not None else None), root
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    """PyYAML's message in one line, its places in the ``source:line`` style of every scenario error."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return str(exc)
    context_mark = exc.context_mark
    context = (
        f"{exc.context} ({source}:{context_mark.line + 1})" if context_mark and exc.context else exc.context
    )
    return ", ".join(part for part in (context, exc.problem, exc.note) if part)


def _yaml_error_place(exc: BaseException, source: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"{source}:{mark.line + 1}" if mark is not None else source


def validate_scenario(
    data: Any, *, source: str = "<inline>", lines: dict[tuple[str | int, ...], int] | None = None
) -> Scenario:
    """Validate already-parsed scenario data (a dict, e.g. from the fixture or the marker)."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a mapping of settings, not {type(data).__name__}")
    try:
        return scenario_model().model_validate(data)
    except ValidationError as exc:
        problems = []
        for found in (problem(error, data) for error in exc.errors()):
            line = _nearest_line(lines or {}, found.path)
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {_dotted(found.path) or '(top level)'}: {found.message}")
        raise ScenarioError("\n".join(problems)) from None


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, for editors."""
    return scenario_model().model_json_schema(by_alias=True)


def merge_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """``scenario`` with ``overrides`` deep-merged onto its data, validated again.

    Mappings merge key by key; anything else, lists included, replaces what was there. Only the
    settings the scenario sets are carried over, so a setting it leaves out keeps its default.
    """
    data = _merged(scenario.model_dump(by_alias=True, exclude_unset=True), overrides)
    return validate_scenario(data, source="<overrides>")


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            value = _merged(current, value)
        merged[key] = value
    return merged


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_line(lines: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _node_lines(
    node: yaml.Node | None, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], int]]:
    if node is None:
        return
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            yield child, key.start_mark.line + 1
            yield from ((p, n) for p, n in _node_lines(value, child) if p != child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _node_lines(item, (*path, index))
