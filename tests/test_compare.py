"""``qsim compare``: variants by dotted-path overrides, common random numbers, the side-by-side
table with the best value marked, JSON and plots.

Scenarios are tiny (a few seconds of simulated time) and run in-process with ``--workers 1``.
"""

import json

import numpy as np
from click.testing import CliRunner
from conftest import run_once
from pytest import approx

from qsim.cli import main
from qsim.compare import apply_override, compare, load_variants
from qsim.report.compare import LOWER, best_columns, comparison_table

BASE = """\
name: tiny
seed: 7
duration: 60s
replications: 2
producers:
  - name: checkout
    to: orders
    rate: 20/s
queues:
  - name: orders
  - name: orders.retry
consumers:
  - name: workers
    queue: orders
    replicas: 2
    prefetch: 1
    service_time: {dist: exponential, mean: 80ms}
"""

VARIANTS = """\
variants:
  - name: few
    overrides: {consumers.workers.replicas: 2}
  - name: many
    overrides: {consumers.workers.replicas: 4}
"""


def one_variant(name: str, overrides: str) -> str:
    """BASE with a single variant ``name`` whose overrides are the flow mapping ``overrides``."""
    return f"{BASE}variants:\n  - name: {name}\n    overrides: {{{overrides}}}\n"


def qsim(*args: object):
    """Run ``qsim`` in-process (one worker) and return click's result."""
    return CliRunner().invoke(main, [*(str(arg) for arg in args), "--workers", "1"])


def test_override_addresses_list_items_by_name():
    """``consumers.workers.replicas`` sets the replicas of the pool named workers."""
    data = {"consumers": [{"name": "other"}, {"name": "workers", "replicas": 2}]}
    path = apply_override(data, "consumers.workers.replicas", 12)
    assert (data["consumers"][1]["replicas"], path) == (12, ("consumers", 1, "replicas"))


def test_override_finds_names_with_dots():
    """A name that contains dots (``orders.retry``) is matched whole."""
    data = {"queues": [{"name": "orders"}, {"name": "orders.retry"}]}
    apply_override(data, "queues.orders.retry.max_length", 10)
    assert data["queues"][1] == {"name": "orders.retry", "max_length": 10}


def test_override_can_add_a_whole_scaling_section(write_file):
    """An override may set a key the base file leaves out, validated like any scenario."""
    scaling = "{policy: queue_length, target: 50, min: 1, max: 8}"
    text = one_variant("auto", f"consumers.workers.scaling: {scaling}")
    _, variants = load_variants(write_file("s.yaml", text))
    assert variants[0].scenario.consumers[0].scaling.policy == "queue_length"


def test_unknown_override_path_is_one_located_line(write_file):
    """A misspelt name in a path exits 2 with one line naming file, variant and path."""
    text = one_variant("typo", "consumers.worker.replicas: 3")
    path = write_file("s.yaml", text)
    result = qsim("compare", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"qsim: {path}:20: variant 'typo': consumers.worker.replicas: "
        "no item named 'worker' (did you mean 'workers'?); known: workers"
    ]


def test_bad_override_value_names_the_variant(write_file):
    """A value the model rejects is reported at the override's line, naming the variant."""
    text = one_variant("bad", "consumers.workers.replicas: lots")
    result = qsim("compare", write_file("s.yaml", text))
    assert result.exit_code == 2
    assert "s.yaml:20: variant 'bad': consumers[0].replicas:" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_file_without_variants_is_an_error(write_file):
    """Comparing one file needs its ``variants:`` section."""
    result = qsim("compare", write_file("s.yaml", BASE))
    assert result.exit_code == 2 and "no variants" in result.stderr


def test_run_simulates_the_base_scenario_of_a_file_with_variants(write_file):
    """``qsim run`` reads a file with ``variants:`` and runs the file as written, without them."""
    result = qsim("run", write_file("s.yaml", BASE + VARIANTS), "--json", "-", "--replications", 1)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["resolved_scenario"]["consumers"][0]["replicas"] == 2


def test_validate_checks_every_variant(write_file):
    """A variant that would not load makes the file invalid, located at its override."""
    path = write_file("s.yaml", one_variant("broken", "consumers.workers.prefetch: -1"))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "s.yaml:20: variant 'broken': consumers[0].prefetch: expected" in result.stderr


def test_identical_variants_give_identical_summaries(write_file):
    """Common random numbers: the same scenario under two names gives the same figures."""
    text = BASE + VARIANTS.replace("replicas: 4", "replicas: 2")
    _, variants = load_variants(write_file("s.yaml", text))
    few, many = compare(variants)["variants"].values()
    assert few["queues"] == many["queues"] and few["consumers"] == many["consumers"]


RUSH = """
    name: rush
    duration: 900s
    producers: [{name: p, to: q, rate: 1.6/s}]
    queues: [{name: q}]
    consumers:
      - name: c
        queue: q
        replicas: 1
        prefetch: 10
        service_time: {dist: exponential, mean: 1s}
    """
AUTOSCALED = RUSH.replace(
    "prefetch: 10\n",
    "prefetch: 10\n"
    "        scaling: {policy: queue_length, target: 20, max: 6, interval: 30s, startup: 20s}\n",
)


def per_message(result) -> dict[float, tuple[float, float]]:
    """(wait, service time) of each completed message, keyed by its publish time."""
    records = result.records
    service = records["latency"] - records["wait"]
    return dict(
        zip(records["published_at"], zip(records["wait"], service, strict=True), strict=True)
    )


def test_every_message_takes_the_same_service_time_whatever_the_scaling():
    """Common random numbers per message: overloaded fixed 1 replica and a pool scaled up to 6
    see the same arrivals, and each message takes as long in both, although after the first
    scale-up the replicas (prefetching 10 each) start the messages in another order."""
    fixed, scaled = per_message(run_once(RUSH)), per_message(run_once(AUTOSCALED))
    both = sorted(fixed.keys() & scaled.keys())
    assert len(both) > 500
    same = np.isclose([fixed[t][1] for t in both], [scaled[t][1] for t in both], rtol=1e-9)
    assert same.all()  # service = latency - wait: equal up to the rounding of that difference


def test_fixed_and_autoscaled_differ_only_once_the_strategy_acts():
    """Every message completed before the autoscaler's first replica starts consuming has the
    same wait in both runs; messages after it wait less in the scaled pool."""
    fixed, scaled = run_once(RUSH), run_once(AUTOSCALED)
    first_scale_up = scaled.timeseries["time"][np.argmax(scaled.timeseries["pool:c:replicas"] > 1)]
    done = scaled.records["published_at"] + scaled.records["latency"]
    early = scaled.records["published_at"][done < first_scale_up]
    waits_fixed, waits_scaled = per_message(fixed), per_message(scaled)
    assert len(early) > 40
    assert all(waits_fixed[t] == waits_scaled[t] for t in early)
    late = sorted(waits_fixed.keys() & waits_scaled.keys())[-100:]
    assert all(waits_scaled[t][0] < waits_fixed[t][0] for t in late)


def test_more_replicas_lower_latency_p99(write_file):
    """With the same arrivals, four replicas wait less than two at 80% load."""
    _, variants = load_variants(write_file("s.yaml", BASE + VARIANTS))
    result = compare(variants)["variants"]
    p99 = {name: s["queues"]["orders"]["latency_s"]["p99"] for name, s in result.items()}
    assert p99["many"] < p99["few"]


def test_json_maps_variant_names_to_run_summaries(write_file):
    """``--json -`` prints ``{"variants": {NAME: summary}}``."""
    result = qsim("compare", write_file("s.yaml", BASE + VARIANTS), "--json", "-")
    output = json.loads(result.stdout)
    assert list(output) == ["variants"] and list(output["variants"]) == ["few", "many"]
    assert output["variants"]["many"]["resolved_scenario"]["consumers"][0]["replicas"] == 4


def test_best_value_is_marked(write_file):
    """The lowest p99 (and, for throughput, the highest) carries the mark; ties mark nothing."""
    assert best_columns([3.0, 1.0, None, 2.0], LOWER) == {1}
    assert best_columns([5.0, 5.0], max) == set()
    _, variants = load_variants(write_file("s.yaml", BASE + VARIANTS))
    table = comparison_table(compare(variants)["variants"])
    p99_row = list(table.columns[1].cells).index("latency p99")
    assert "*" in list(table.columns[3].cells)[p99_row]
    assert "*" not in list(table.columns[2].cells)[p99_row]


def test_compare_two_files_names_variants_by_stem(write_file):
    """``qsim compare A.yaml B.yaml`` compares whole files, each column named by its stem."""
    a = write_file("two.yaml", BASE)
    b = write_file("four.yaml", BASE.replace("replicas: 2", "replicas: 4"))
    result = qsim("compare", a, b, "--duration", "20s")
    assert result.exit_code == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "figure" in line)
    assert header.index("two") < header.index("four")


def test_plot_writes_a_backlog_png_per_queue(write_file, tmp_path):
    """``--plot DIR`` writes one backlog-over-time PNG per queue."""
    result = qsim("compare", write_file("s.yaml", BASE + VARIANTS), "--plot", tmp_path / "plots")
    assert result.exit_code == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "plots").glob("backlog-*.png"))
    assert written == ["backlog-orders.png", "backlog-orders.retry.png"]


def test_plot_writes_a_latency_cdf_per_queue_with_completed_messages(write_file, tmp_path):
    """``--plot DIR`` overlays the variants' latency CDFs; orders.retry gets none: nothing
    completed there, so no variant has a latency grid for it."""
    result = qsim("compare", write_file("s.yaml", BASE + VARIANTS), "--plot", tmp_path / "plots")
    assert result.exit_code == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "plots").glob("latency-cdf-*.png"))
    assert written == ["latency-cdf-orders.png"]


def test_malformed_variants_section_is_located(write_file):
    """A variant without a name is one line at its key, exit status 2."""
    result = qsim("compare", write_file("s.yaml", f"{BASE}variants:\n  - overrides: {{}}\n"))
    assert result.exit_code == 2
    assert result.stderr.endswith("s.yaml:19: variants[0].name: expected a non-empty name\n")


def test_with_prices_the_cheaper_variant_is_marked_in_the_cost_rows(write_file):
    """2 replicas for 60 s at 3.60 a replica-hour cost 0.12 (172.80 a day), 4 cost twice that:
    the cost rows mark ``few``, while the latency rows mark ``many``: which strategy is cheaper
    at which p99 reads off one table."""
    priced = BASE + "prices: {replica_hour: 3.6}\n" + VARIANTS
    _, variants = load_variants(write_file("s.yaml", priced))
    summaries = compare(variants)["variants"]
    per_day = {name: s["cost"]["per_day"] for name, s in summaries.items()}
    assert per_day == {"few": approx(172.8), "many": approx(345.6)}
    table = comparison_table(summaries)
    groups, labels = list(table.columns[0].cells), list(table.columns[1].cells)
    row = groups.index("cost (USD)")
    assert labels[row] == "per day"
    few, many = list(table.columns[2].cells)[row], list(table.columns[3].cells)[row]
    assert "*" in few and "*" not in many


def test_variants_priced_in_different_currencies_are_refused(write_file):
    a = write_file("a.yaml", BASE + "prices: {replica_hour: 1}\n")
    b = write_file("b.yaml", BASE + "prices: {currency: EUR, replica_hour: 1}\n")
    result = qsim("compare", a, b)
    assert (result.exit_code, result.stderr) == (
        2,
        "qsim: variants price in different currencies (a in USD, b in EUR): use one to compare\n",
    )
