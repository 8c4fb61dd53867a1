"""Loading scenarios: bundled names and files, YAML with line numbers, inline data, overrides.

Every error names the source, the line (for text) and the path inside the scenario.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, create_model

from fakeapi.errors import ScenarioError
from fakeapi.scenario.schema import ApisBase, ApiSettings, Scenario

# libyaml's loader parses scenario files about ten times faster; PyYAML without it still works.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ScenarioRef = Scenario | str | Path | dict[str, Any]


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


def bundled_names() -> list[str]:
    """Names of the scenarios shipped with the package."""
    folder = resources.files("fakeapi.scenarios")
    return sorted(e.name.removesuffix(".yaml") for e in folder.iterdir() if e.name.endswith(".yaml"))


def load_scenario(ref: str | Path) -> Scenario:
    """Load a bundled scenario by name, or a scenario file by path."""
    path = Path(ref)
    if _is_file(path):
        return parse_scenario(path.read_text(encoding="utf-8"), source=str(path))
    resource = resources.files("fakeapi.scenarios") / f"{ref}.yaml"
    if isinstance(ref, str) and "/" not in ref and _is_file(resource):
        return parse_scenario(resource.read_text(encoding="utf-8"), source=f"{ref} (bundled)")
    raise ScenarioError(
        f"{ref}: no such scenario file, and no bundled scenario of that name "
        f"(bundled: {', '.join(bundled_names())})"
    )


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
    loader = _YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ScenarioError(f"{where}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return validate_scenario(data, source=source, lines=dict(_node_lines(root, ())))


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
        for err in exc.errors():
            loc = _data_path(data, err["loc"])
            line = _nearest_line(lines or {}, loc)
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {_dotted(loc) or '(top level)'}: {err['msg']}")
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


def _data_path(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The parts of a pydantic error location that name keys or indexes of the data.

    Pydantic adds tags of its own (union members, validator names) that are not in the data; a
    missing key is kept, since it is what the error is about.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and "[" not in part:
            node = None
        else:
            continue
        path.append(part)
    return tuple(path)


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
