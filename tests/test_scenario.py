"""Scenario files: bundled and user files load, and a wrong file is named with its line and path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fakeapi.errors import ScenarioError
from fakeapi.scenario import (
    Scenario,
    bundled_names,
    load_scenario,
    parse_scenario,
    scenario_json_schema,
    validate_scenario,
)
from fakeapi.scenario.matching import submit_matches
from fakeapi.scenario.schema import Price
from fakeapi.scenario.types import parse_duration

FALLBACK: dict[str, Any] = {"phases": [{"state": "succeeded"}]}


def invalid(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as error:
        validate_scenario(data)
    return str(error.value)


def invalid_text(text: str, source: str = "s.yaml") -> str:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text, source=source)
    return str(error.value)


def rules(*phases: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [{"phases": list(phases)}]}


# -- loading -------------------------------------------------------------------------------------------


def test_the_bundled_scenarios_are_listed() -> None:
    names = bundled_names()
    assert {"default", "instant", "manual", "poll-count"} <= set(names)
    assert names == sorted(names)
    assert not any(n.endswith(".yaml") for n in names)


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_scenario_loads_by_name(name: str) -> None:
    scenario = load_scenario(name)
    assert isinstance(scenario, Scenario)
    assert scenario.description
    assert scenario.rules[-1].match.is_fallback
    assert all(rule.phases[-1].terminal for rule in scenario.rules)


def test_bundled_scenarios_say_what_they_do() -> None:
    manual = load_scenario("manual").rules[0].phases
    assert [(p.state, p.duration, p.polls) for p in manual] == [
        ("queued", 1.0, None),
        ("running", None, None),
        ("succeeded", None, None),
    ]
    polls = load_scenario("poll-count").rules[0].phases
    assert [(p.state, p.polls) for p in polls] == [("queued", 1), ("running", 2), ("succeeded", None)]
    instant = load_scenario("instant").rules[0].phases
    assert all(p.duration in (0.0, None) for p in instant)


def test_a_scenario_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "seed: 9\n"
        "prices: {'kling-*': 0.4}\n"
        "rules:\n"
        "  - phases: [{state: queued, for: 3s}, {state: succeeded}]\n",
        encoding="utf-8",
    )
    for ref in (path, str(path)):
        scenario = load_scenario(ref)
        assert scenario.seed == 9
        assert scenario.rules[0].phases[0].duration == 3.0
        assert scenario.price_for("kling-v2") == Price(per_call=0.4)


def test_a_file_edited_between_loads_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("seed: 1\nrules: [{phases: [{state: succeeded}]}]\n", encoding="utf-8")
    assert load_scenario(path).seed == 1
    path.write_text("seed: 2\nrules: [{phases: [{state: succeeded}]}]\n", encoding="utf-8")
    assert load_scenario(path).seed == 2
    path.write_text("seed: [\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)


def test_a_json_scenario_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"description": "json", **rules({"state": "failed"})}), encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.description == "json"
    assert scenario.rules[0].phases[0].state == "failed"


def test_an_unknown_name_lists_the_bundled_names() -> None:
    with pytest.raises(ScenarioError) as error:
        load_scenario("no-such-scenario")
    message = str(error.value)
    assert "no-such-scenario" in message
    for name in bundled_names():
        assert name in message


def test_a_misspelt_name_is_told_the_bundled_name_it_is_nearest() -> None:
    with pytest.raises(ScenarioError) as error:
        load_scenario("instnat")
    assert str(error.value).startswith(
        "instnat: no such scenario file, and no bundled scenario of that name; did you mean instant? "
    )
    with pytest.raises(ScenarioError) as error:
        load_scenario("no-such-scenario")
    assert "did you mean" not in str(error.value)


def test_a_missing_path_is_not_looked_up_among_the_bundled(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "default")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario("somewhere/default")


def test_the_json_schema_describes_the_format() -> None:
    schema = scenario_json_schema()
    assert isinstance(schema, dict)
    assert "rules" in schema["properties"]
    assert "rules" in schema["required"]
    assert "for" in json.dumps(schema["$defs"]["Phase"]["properties"])
    assert schema["$defs"]["Phase"]["additionalProperties"] is False
    json.dumps(schema)


# -- durations -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("2m", 120.0),
        ("250ms", 0.25),
        (5, 5.0),
        (2.5, 2.5),
        ("1.5m", 90.0),
        ("2h", 7200.0),
        ("10", 10.0),
        (" 3 s ", 3.0),
        (0, 0.0),
    ],
)
def test_durations_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "5 minutes", "-5s", "1d", "", True, None, [1], -1])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_durations_parse_inside_a_scenario() -> None:
    scenario = validate_scenario(
        {
            "webhooks": {"retry_delays": ["250ms", "2m", 5], "timeout": "30s"},
            **rules({"state": "queued", "for": "250ms", "jitter": "100ms"}, {"state": "succeeded"}),
        }
    )
    phase = scenario.rules[0].phases[0]
    assert (phase.duration, phase.jitter) == (0.25, 0.1)
    assert scenario.webhooks.retry_delays == [0.25, 120.0, 5.0]
    assert scenario.webhooks.timeout == 30.0


@pytest.mark.parametrize("text", [".nan", ".inf"])
def test_non_finite_durations_are_refused(text: str) -> None:
    invalid_text(f"rules:\n  - phases: [{{state: queued, for: {text}}}, {{state: succeeded}}]\n")


# -- error messages: file, line, path ------------------------------------------------------------------

BAD_FOR = """\
description: a slow video
rules:
  - name: slow
    phases:
      - state: queued
        for: 1s
      - state: running
        for: soon
      - state: succeeded
"""


def test_an_error_names_the_file_the_line_and_the_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_FOR, encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    assert f"{path}:8: rules[0].phases[1].for: " in message
    assert "a duration is a number of seconds" in message


def test_an_error_in_flow_style_names_its_line() -> None:
    text = """\
rules:
  - match: {kind: video}
    phases:
      - {state: queued, for: 1s}
      - {state: running, for: 4s}
      - {state: succeeded}
  - phases:
      - {state: queued, for: 1s}
      - {state: running, for: later}
      - {state: succeeded}
"""
    assert invalid_text(text).startswith("s.yaml:9: rules[1].phases[1].for: ")


def test_every_problem_is_listed_on_its_own_line() -> None:
    text = """\
seed: many
rules:
  - phases:
      - {state: waiting}
      - {state: succeeded}
"""
    lines = invalid_text(text).splitlines()
    assert lines[0].startswith("s.yaml:1: seed: ")
    assert lines[1].startswith("s.yaml:4: rules[0].phases[0].state: ")
    assert len(lines) == 2


def test_an_inline_error_names_the_path_without_a_line() -> None:
    message = invalid(rules({"state": "queued", "for": "soon"}, {"state": "succeeded"}))
    assert message.startswith("<inline>: rules[0].phases[0].for: ")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"colour": "red", "rules": [FALLBACK]}, "colour"),
        (rules({"state": "succeeded", "color": 1}), "rules[0].phases[0].color"),
        ({"rules": [{"match": {"models": "x"}, **FALLBACK}, FALLBACK]}, "rules[0].match.models"),
        ({"accounts": {"keys": {"k1": {"credits": 3}}}, "rules": [FALLBACK]}, "accounts.keys.k1.credits"),
        ({"webhooks": {"retries": 3}, "rules": [FALLBACK]}, "webhooks.retries"),
    ],
)
def test_unknown_keys_are_rejected(data: dict[str, Any], path: str) -> None:
    message = invalid(data)
    assert f": {path}: Extra inputs are not permitted" in message


def test_an_unknown_key_names_its_line() -> None:
    text = "rules:\n  - phases:\n      - state: succeeded\n        colour: red\n"
    assert invalid_text(text).startswith("s.yaml:4: rules[0].phases[0].colour: Extra inputs")


def test_the_last_rule_must_be_a_fallback() -> None:
    message = invalid({"rules": [{"match": {"kind": "video"}, **FALLBACK}]})
    assert "(top level)" in message
    assert "the last rule must be a fallback" in message
    validate_scenario({"rules": [{"match": {"kind": "video"}, **FALLBACK}, FALLBACK]})


def test_a_rule_must_end_in_a_terminal_phase() -> None:
    text = (
        "rules:\n  - name: stuck\n    phases:\n      - {state: queued, for: 1s}\n      - {state: running}\n"
    )
    message = invalid_text(text)
    assert message.startswith("s.yaml:2: rules[0]: ")
    assert "the last phase must be 'succeeded' or 'failed'" in message


def test_only_the_last_phase_may_be_terminal() -> None:
    message = invalid(rules({"state": "succeeded"}, {"state": "failed"}))
    assert "rules[0]: " in message
    assert "only the last phase may be terminal" in message


def test_for_and_polls_together_are_rejected() -> None:
    text = "rules:\n  - phases:\n      - {state: queued, for: 1s, polls: 2}\n      - {state: succeeded}\n"
    message = invalid_text(text)
    assert message.startswith("s.yaml:3: rules[0].phases[0]: ")
    assert "not both" in message


@pytest.mark.parametrize(
    ("phase", "words"),
    [
        ({"state": "succeeded", "for": "1s"}, "is terminal"),
        ({"state": "failed", "polls": 1}, "is terminal"),
        ({"state": "queued", "jitter": "1s"}, "'jitter' needs a fixed 'for'"),
        ({"state": "running", "error": {"message": "x"}}, "only a 'failed' phase takes 'error'"),
        ({"state": "queued", "polls": -1}, "greater than or equal to 0"),
        ({"state": "cancelled"}, "Input should be"),
    ],
)
def test_inconsistent_phases_are_rejected(phase: dict[str, Any], words: str) -> None:
    message = invalid(rules(phase, {"state": "succeeded"}))
    assert "rules[0].phases[0]" in message
    assert words in message


@pytest.mark.parametrize("field", ["prompt", "model_pattern"])
def test_a_bad_regex_in_a_match_is_rejected(field: str) -> None:
    text = (
        "rules:\n"
        f'  - match: {{{field}: "(?i)nsfw("}}\n'
        "    phases: [{state: failed}]\n"
        "  - {phases: [{state: succeeded}]}\n"
    )
    message = invalid_text(text)
    assert message.startswith("s.yaml:2: rules[0].match: ")
    assert f"{field}: not a regular expression" in message


def test_an_api_name_no_api_has_is_refused_where_it_is_written() -> None:
    text = (
        "rules:\n"
        "  - match: {api: rixap}\n"
        "    phases: [{state: failed}]\n"
        "  - {phases: [{state: succeeded}]}\n"
        "faults:\n"
        "  - {at: submit, api: APIXO, effect: status, status: 500}\n"
    )
    problems = sorted(invalid_text(text).splitlines())  # by line
    assert len(problems) == 2, problems
    assert problems[0].startswith("s.yaml:2: rules[0].match.api: ")
    assert problems[0].endswith("no API named 'rixap': the APIs are rixapi, apixo, foxapi, pixapi")
    assert problems[1].startswith("s.yaml:6: faults[0].api: ")
    assert problems[1].endswith("no API named 'APIXO': the APIs are rixapi, apixo, foxapi, pixapi")


@pytest.mark.parametrize(
    "data",
    [
        {"rules": []},
        {"rules": [{"phases": []}]},
        {"description": "no rules"},
        {"accounts": {"keys": {"k": {"max_concurrent": 0}}}, "rules": [FALLBACK]},
        {"accounts": {"keys": {"k": {"rpm": 0}}}, "rules": [FALLBACK]},
        {"prices": {"x": -1}, "rules": [FALLBACK]},
        {"clock": {"speed": 0}, "rules": [FALLBACK]},
        {"models": {"unknown_kind": "hologram"}, "rules": [FALLBACK]},
    ],
)
def test_out_of_range_settings_are_rejected(data: dict[str, Any]) -> None:
    assert invalid(data).startswith("<inline>: ")


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("rules:\n  - phases: [{state: succeeded}\n  - x\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert re.match(rf"{re.escape(str(path))}:3: not valid YAML", str(error.value))


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("", "NoneType"), ("42\n", "int")])
def test_a_scenario_must_be_a_mapping(text: str, kind: str) -> None:
    assert invalid_text(text) == f"s.yaml: a scenario is a mapping of settings, not {kind}"


def test_an_error_under_a_bracketed_glob_keeps_its_path() -> None:
    text = "prices:\n  'kling-v[12]*': {per_call: -1}\nrules:\n  - phases: [{state: succeeded}]\n"
    assert invalid_text(text).startswith("s.yaml:2: prices.kling-v[12]*.per_call: ")


# -- what a valid scenario means -----------------------------------------------------------------------


def test_prices_take_a_number_or_a_mapping_and_the_first_glob_wins() -> None:
    scenario = validate_scenario(
        {"prices": {"kling-v2*": 1, "kling-*": {"per_second": 0.1}, "*": 0.01}, "rules": [FALLBACK]}
    )
    assert scenario.price_for("kling-v2-master") == Price(per_call=1.0)
    assert scenario.price_for("kling-v1") == Price(per_second=0.1)
    assert scenario.price_for("flux-pro") == Price(per_call=0.01)
    assert validate_scenario({"rules": [FALLBACK]}).price_for("anything") is None


def test_the_first_matching_rule_wins() -> None:
    scenario = validate_scenario(
        {
            "rules": [
                {"name": "nsfw", "match": {"prompt": "(?i)nsfw"}, "phases": [{"state": "failed"}]},
                {"name": "kling", "match": {"model": "kling-*", "kind": "video"}, **FALLBACK},
                {"name": "exact", "match": {"model_pattern": "flux-(pro|dev)"}, **FALLBACK},
                {"name": "other-api", "match": {"api": "apixo"}, **FALLBACK},
                {"name": "rest", **FALLBACK},
            ]
        }
    )

    def pick(model: str, prompt: str = "", kind: str = "video", api: str = "rixapi") -> str | None:
        return next(
            r
            for r in scenario.rules
            if submit_matches(r.match, api=api, model=model, kind=kind, prompt=prompt)
        ).name

    assert pick("kling-v2", "an NSFW cat") == "nsfw"
    assert pick("kling-v2", "a cat") == "kling"
    assert pick("kling-v2-image", kind="image") == "rest"
    assert pick("flux-pro", kind="image") == "exact"
    assert pick("flux-pro-ultra", kind="image") == "rest", "model_pattern must match the whole name"
    assert pick("sora-2", api="apixo") == "other-api"
    assert pick("sora-2") == "rest"


def test_defaults_of_an_empty_scenario() -> None:
    scenario = validate_scenario({"rules": [FALLBACK]})
    assert scenario.seed == 0
    assert scenario.accounts.open is True
    assert scenario.accounts.keys == {}
    assert scenario.models.accept_unknown is False
    assert (scenario.webhooks.retry_delays, scenario.webhooks.timeout) == (None, None)
    assert scenario.clock.mode is None
    assert scenario.clock.start_seconds == 1_767_225_600.0


def test_scenarios_are_frozen() -> None:
    scenario = validate_scenario({"rules": [FALLBACK]})
    with pytest.raises(ValueError, match="frozen"):
        scenario.seed = 3


def test_each_kind_of_fault_and_rule_error_names_its_line_and_path() -> None:
    text = """\
faults:
  - {at: submit, effect: latency}
  - {at: upload, effect: reset}
  - {at: poll, effect: status, status: 200}
  - {at: poll, effect: reset, when: {probability: 1.5}}
rules:
  - match: {first: -1, count_by: model}
    phases:
      - {state: queued, for: {uniform: [5s, 1s]}}
      - {state: running, for: {lognormal: {median: soon}}}
      - {state: succeeded}
  - phases: [{state: succeeded}]
"""
    lines = invalid_text(text).splitlines()
    assert [line.split(": ")[0] + ": " + line.split(": ")[1] for line in lines] == [
        "s.yaml:2: faults[0]",
        "s.yaml:3: faults[1].at",
        "s.yaml:4: faults[2].status",
        "s.yaml:5: faults[3].when.probability",
        "s.yaml:7: rules[0].match.first",
        "s.yaml:7: rules[0].match.count_by",
        "s.yaml:9: rules[0].phases[0].for",
        "s.yaml:10: rules[0].phases[1].for.lognormal.median",
    ]
    assert "a 'latency' fault needs 'latency'" in lines[0]
    assert "the first bound must not exceed the second" in lines[6]


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ({"match": {"nth": 0}}, "rules[0].match.nth", "greater than or equal to 1"),
        ({"match": {"nth": []}}, "rules[0].match.nth", "at least 1 item"),
        ({"match": {"first": 0}}, "rules[0].match.first", "greater than or equal to 1"),
        ({"match": {"count_by": "prompt"}}, "rules[0].match", "'count_by' needs 'nth' or 'first'"),
    ],
)
def test_counted_matches_that_could_never_match_are_refused(
    data: dict[str, Any], path: str, words: str
) -> None:
    message = invalid({"rules": [{**data, "phases": [{"state": "succeeded"}]}, FALLBACK]})
    assert message.startswith(f"<inline>: {path}: ")
    assert words in message


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"at": [], "effect": "reset"}, "at least 1 item"),
        ({"at": "webhook", "effect": "reset", "header": {"X-A": "b"}}, "no request headers"),
        ({"at": "poll", "effect": "hang", "message": "m"}, "belong to a 'status' fault"),
        ({"at": "poll", "effect": "reset", "latency": "1s"}, "'latency' belongs to"),
        ({"at": "poll", "effect": "reset", "when": {"nth": 0}}, "greater than or equal to 1"),
    ],
)
def test_faults_that_would_be_ignored_are_refused(fault: dict[str, Any], words: str) -> None:
    message = invalid({"faults": [fault], "rules": [FALLBACK]})
    assert message.startswith("<inline>: faults[0]")
    assert words in message


# -- messages in the file's own terms, as `fakeapi scenarios validate` prints them -----------------------

FAKEAPI = Path(sys.executable).parent / "fakeapi"
PYDANTIC_WORDING = """\
prices:
  kling-*: [1]
faults:
  - {at: poll, effect: reset}
  - {at: webhook, effect: out_of_order, api: apixo}
rules:
  - phases:
      - {state: queued, for: soon}
      - {state: running, for: {uniform: [5s, 1s]}}
      - {state: succeeded}
  - 7
"""


def test_scenarios_validate_speaks_of_the_files_data_not_of_pydantics_checks(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(PYDANTIC_WORDING, encoding="utf-8")
    command = [str(FAKEAPI), "scenarios", "validate", "bad.yaml"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "bad.yaml:2: prices.kling-*: Input should be an object",
        "bad.yaml:5: faults[1]: apixo calls back only when a task ends, so it has no earlier callback to "
        "deliver late: an 'out_of_order' fault needs an API that calls back on every change",
        "bad.yaml:8: rules[0].phases[0].for: a duration is a number of seconds or a string such as '30s' "
        "or '2m'",
        "bad.yaml:9: rules[0].phases[1].for: uniform: the first bound must not exceed the second",
        "bad.yaml:11: rules[1]: Input should be an object",
    ]
