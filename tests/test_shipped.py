"""Everything shipped works: the scenarios validate and run with balanced books, the committed
JSON Schema is the one the code generates, and it accepts every shipped scenario."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from conftest import ROOT, SCENARIOS

from qsim.engine import simulate
from qsim.scenario import Scenario, load_scenario, with_overrides
from qsim.schema import scenario_schema

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
STATES = ("acked", "rejected", "dropped", "expired", "nacked", "over_limit")


def test_the_four_scenarios_of_the_core_issue_are_shipped():
    """food-delivery, ride-requests, video-encoding and activity-stream are in scenarios/."""
    names = {path.stem for path in SHIPPED}
    assert {"food-delivery", "ride-requests", "video-encoding", "activity-stream"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_runs_and_every_message_is_accounted_for(path):
    """A shortened run of each shipped scenario: published = sum of end states, per queue (for
    a kafka topic: retained + removed by retention + in producers' open batches; for a lease
    queue: deleted + dead-lettered + exhausted + expired + deduplicated + delayed + visible +
    in flight)."""
    scenario = load_scenario(path)
    short = with_overrides(scenario, duration=scenario.warmup + min(scenario.duration / 6, 600))
    result = simulate(short)
    for queue in result.queues:
        if queue.kafka is not None:
            kept = queue.counts["retained"] + queue.counts["removed"] + queue.kafka.lingering
            assert queue.counts["published"] == kept, queue.name
            continue
        if queue.lease is not None:
            lease = queue.lease
            ended = lease.deleted + lease.dead_lettered + lease.exhausted + lease.expired
            ended += lease.deduplicated
            held = lease.delayed.final + lease.visible.final + lease.in_flight.final
            assert queue.counts["published"] == ended + held, queue.name
            continue
        ends = sum(queue.counts[s] for s in STATES) + queue.backlog_final + queue.unacked_final
        assert queue.counts["published"] == ends, queue.name


def test_committed_schema_matches_the_generated_one():
    """schema/scenario.schema.json is regenerated with `qsim schema > schema/...` when it drifts."""
    committed = json.loads((ROOT / "schema" / "scenario.schema.json").read_text())
    assert committed == scenario_schema()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_schema_accepts_every_shipped_scenario(path):
    """Editors using the schema see no error in the scenarios we ship."""
    jsonschema.validate(yaml.safe_load(path.read_text()), scenario_schema())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_resolved_scenario_in_a_summary_reloads_to_the_same_scenario(path):
    """A summary's resolved_scenario reproduces the run: validated again (relative files from
    the scenario's folder) it is the same scenario."""
    scenario = load_scenario(path)
    resolved = scenario.model_dump(mode="json", by_alias=True)
    again = Scenario.model_validate(resolved, context={"base_dir": str(path.parent)})
    assert again == scenario
