"""``qsim compare``: variants by dotted-path overrides, common random numbers, the side-by-side
table with the best value marked, JSON and plots.

Scenarios are tiny (a few seconds of simulated time) and run in-process with ``--workers 1``.
"""

import json

from click.testing import CliRunner

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


def test_identical_variants_give_identical_summaries(write_file):
    """Common random numbers: the same scenario under two names gives the same figures."""
    text = BASE + VARIANTS.replace("replicas: 4", "replicas: 2")
    _, variants = load_variants(write_file("s.yaml", text))
    few, many = compare(variants)["variants"].values()
    assert few["queues"] == many["queues"] and few["consumers"] == many["consumers"]


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
    header = result.stdout.splitlines()[1]
    assert header.index("two") < header.index("four")


def test_plot_writes_a_backlog_png_per_queue(write_file, tmp_path):
    """``--plot DIR`` writes one backlog-over-time PNG per queue."""
    result = qsim("compare", write_file("s.yaml", BASE + VARIANTS), "--plot", tmp_path / "plots")
    assert result.exit_code == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "plots").glob("backlog-*.png"))
    assert written == ["backlog-orders.png", "backlog-orders.retry.png"]


def test_malformed_variants_section_is_located(write_file):
    """A variant without a name is one line at its key, exit status 2."""
    result = qsim("compare", write_file("s.yaml", f"{BASE}variants:\n  - overrides: {{}}\n"))
    assert result.exit_code == 2
    assert result.stderr.endswith("s.yaml:19: variants[0].name: expected a non-empty name\n")
