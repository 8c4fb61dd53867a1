"""Scenarios: what the fake does, as validated data (``schema``), loaded from files, names or
mappings (``loading``), and matched against requests at run time (``matching``, ``faults``)."""

from __future__ import annotations

from fakeapi.scenario.faults import Fault, FaultBase, FaultBook, FaultPoint
from fakeapi.scenario.loading import (
    ScenarioRef,
    bundled_names,
    load_scenario,
    merge_overrides,
    parse_scenario,
    resolve_scenario,
    scenario_json_schema,
    scenario_model,
    validate_scenario,
)
from fakeapi.scenario.schema import (
    REASON_MESSAGES,
    ApiSettings,
    FailureSpec,
    LimitsSpec,
    Phase,
    Rule,
    Scenario,
    Step,
)
from fakeapi.scenario.types import TERMINAL_STATES, FailureReason

__all__ = [
    "REASON_MESSAGES",
    "TERMINAL_STATES",
    "ApiSettings",
    "FailureReason",
    "FailureSpec",
    "Fault",
    "FaultBase",
    "FaultBook",
    "FaultPoint",
    "LimitsSpec",
    "Phase",
    "Rule",
    "Scenario",
    "ScenarioRef",
    "Step",
    "bundled_names",
    "load_scenario",
    "merge_overrides",
    "parse_scenario",
    "resolve_scenario",
    "scenario_json_schema",
    "scenario_model",
    "validate_scenario",
]
