"""The JSON Schema of scenario files, generated from the same model that validates them."""

from __future__ import annotations

from typing import Any

from qsim.scenario import Scenario

SCHEMA_ID = "https://qsim.dev/schema/scenario.json"
VARIANTS = {
    "title": "Variants",
    "description": "Contenders for `qsim compare`: each a name and overrides by dotted path "
    "(list items by name), e.g. {consumers.delivery-service.replicas: 12}.",
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "overrides": {"type": "object"},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
}


def scenario_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for yaml-language-server and other editors."""
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    schema["properties"]["variants"] = VARIANTS  # read beside the model: see qsim.scenario.variants
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }
