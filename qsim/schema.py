"""The JSON Schema of scenario files, generated from the same model that validates them."""

from __future__ import annotations

from typing import Any

from qsim.scenario import Scenario

SCHEMA_ID = "https://qsim.dev/schema/scenario.json"


def scenario_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for yaml-language-server and other editors."""
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }
