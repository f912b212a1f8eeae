"""The results schema and its validator."""

from __future__ import annotations

import copy
from typing import Any

from queuekit_bench.schema import load_schema, validate

from tests.bench.benchdata import sample_document


def test_the_sample_document_is_valid() -> None:
    assert validate(sample_document()) == []


def test_schema_is_versioned() -> None:
    schema = load_schema()
    assert schema["properties"]["schema_version"] == {"const": 1}


def _broken(change: Any) -> list[str]:
    document = copy.deepcopy(sample_document())
    change(document)
    return validate(document)


def test_missing_and_mistyped_fields_are_named() -> None:
    errors = _broken(lambda d: d.pop("environment"))
    assert errors == ["$: missing 'environment'"]
    errors = _broken(lambda d: d["backends"][0].update(status="great"))
    assert any("'great' is not one of" in e for e in errors)
    errors = _broken(lambda d: d.update(interrupted="no"))
    assert errors == ["$.interrupted: expected boolean, got str"]


def test_a_figure_without_samples_is_rejected() -> None:
    def drop(d: dict[str, Any]) -> None:
        del d["backends"][0]["scenarios"]["enqueue"]["figures"]["single"]["samples"]

    assert any("enqueue: matches none" in e for e in _broken(drop))


def test_a_failed_scenario_needs_only_its_reason() -> None:
    def fail(d: dict[str, Any]) -> None:
        d["backends"][0]["scenarios"]["drain"] = {"status": "failed", "reason": "boom", "seconds": 1.0}

    assert _broken(fail) == []


def test_unknown_scenarios_are_rejected() -> None:
    errors = _broken(lambda d: d["backends"][0]["scenarios"].update(teleport={}))
    assert any("unexpected key 'teleport'" in e for e in errors)


def test_a_workflow_result_needs_both_figures_and_its_callback_check() -> None:
    def drop(d: dict[str, Any]) -> None:
        workflow = d["backends"][0]["scenarios"]["workflow"]
        del workflow["figures"]["members_per_s"]
        del workflow["callback_total"]

    errors = _broken(drop)
    assert any("workflow: matches none" in e for e in errors)
