"""``--report``: a folder with a self-contained HTML review, Markdown, the JSON summary, the
sampled series as CSV and the plots; and the summary extensions it draws from.

One short real run (and one comparison) per module, through the command line with
``--workers 1``; each test checks one property of what they wrote.
"""

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, scenario_from

from qsim.cli import main
from qsim.report.bundle import CSV_COLUMNS, write_run_report
from qsim.report.capacity_review import disagreements
from qsim.report.figures import figure_text
from qsim.report.review import slo_verdicts
from qsim.runner import run_scenario

SCENARIO = """\
name: report-check
seed: 5
duration: 10m
warmup: 1m
replications: 2
sample_interval: 10s
slo: {latency: 2s, percentile: 99, backlog: 50}
producers:
  - name: checkout
    to: orders
    rate: 8/s
queues:
  - name: orders
    dead_letter: orders.parked
  - name: orders.parked
consumers:
  - name: workers
    queue: orders
    replicas: 2
    prefetch: 1
    service_time: {dist: exponential, mean: 200ms}
    failures: {nack_probability: 0.01, requeue: false}
"""
VARIANTS = """\
variants:
  - name: two
    overrides: {consumers.workers.replicas: 2}
  - name: three
    overrides: {consumers.workers.replicas: 3}
"""


class Page(HTMLParser):
    """Collects every image source, every src/href and the visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.meta: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "img":
            self.images.append(found.get("src") or "")
        if tag == "meta":
            self.meta.append(found)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data):
        self.text.append(data)


def _qsim(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _only_folder(root: Path) -> Path:
    (folder,) = [p for p in root.glob("*/*") if p.is_dir()]
    return folder


@pytest.fixture(scope="module")
def run_report(tmp_path_factory):
    """A real run with --report and --json: (report folder, JSON summary)."""
    tmp = tmp_path_factory.mktemp("run")
    (tmp / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    out = _qsim(
        "run",
        tmp / "s.yaml",
        "--workers",
        1,
        "--json",
        tmp / "summary.json",
        "--report",
        "--report-dir",
        tmp / "reports",
    )
    assert out.exit_code == 0, out.output
    return _only_folder(tmp / "reports"), json.loads((tmp / "summary.json").read_text())


@pytest.fixture(scope="module")
def page(run_report):
    parser = Page()
    parser.feed((run_report[0] / "report.html").read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_the_report_folder_is_named_by_scenario_kind_and_utc_time(run_report):
    """reports/<scenario>/run-<YYYYmmddTHHMMSSZ>/ (compare- and capacity- for the others)."""
    folder = run_report[0]
    assert folder.parent.name == "report-check"
    assert re.fullmatch(r"run-\d{8}T\d{6}Z", folder.name)


def test_summary_json_is_what_json_writes(run_report):
    folder, summary = run_report
    assert json.loads((folder / "summary.json").read_text()) == summary


def test_every_plot_is_written_as_png_and_svg(run_report):
    folder = run_report[0]
    pngs = {p.stem for p in folder.glob("*.png")}
    assert {
        "backlog",
        "rates",
        "latency-cdf",
        "latency-histogram",
        "replicas",
        "utilization",
        "topology",
    } <= pngs
    assert pngs == {p.stem for p in folder.glob("*.svg")}


def test_the_html_embeds_every_plot_and_links_nothing_outside(run_report, page):
    """Self-contained: one data: image per PNG in the folder, no external source or style."""
    pngs = list(run_report[0].glob("*.png"))
    assert len(page.images) == len(pngs)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert all(link.startswith(("data:", "#")) for link in page.links)


def test_the_html_is_readable_on_a_phone(page):
    """A viewport meta tag: phones lay the page out at their own width."""
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in page.meta


def test_the_html_contains_the_headline_figures_of_the_json_summary(run_report, page):
    """Throughput, latency p50 and p99 of each queue and utilization of the pool, as the
    terminal table formats them (qsim.report.figures), with their 95% intervals."""
    summary, text = run_report[1], "".join(page.text)
    for queue in summary["queues"]:
        assert figure_text(summary, ("queues", queue, "throughput_per_s")) in text
        for p in ("p50", "p99"):
            assert figure_text(summary, ("queues", queue, "latency_s", p), "duration") in text
    assert figure_text(summary, ("consumers", "workers", "utilization"), "percent") in text


def test_the_html_gives_each_slo_a_verdict(run_report, page):
    text = "".join(page.text)
    for verdict in slo_verdicts(run_report[1]):
        assert verdict["verdict"] in {"met", "missed", "undecided", "no data"}
        assert f"{verdict['objective']}" in text


def test_the_html_says_how_to_reproduce_the_run(page):
    text = "".join(page.text)
    assert "qsim run" in text and "--seed 5" in text


def _documented_columns() -> list[str]:
    """The columns listed in docs/report.md's timeseries.csv list, in order."""
    doc = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    listing = doc.split("## `timeseries.csv`", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- \*\*`([a-z_]+)`\*\*", listing, flags=re.MULTILINE)


def test_the_csv_parses_and_its_columns_are_the_documented_ones(run_report):
    folder, summary = run_report
    with (folder / "timeseries.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == _documented_columns() == list(CSV_COLUMNS)
    samples = len(summary["timeseries"]["time_s"])
    assert len(rows) == samples * (len(summary["queues"]) + len(summary["consumers"]))
    for row in rows:
        filled = CSV_COLUMNS[3:9] if row["kind"] == "queue" else CSV_COLUMNS[9:]
        assert all(float(row[c]) >= 0 for c in ("time_s", *filled))


def test_the_markdown_links_the_plots_beside_it(run_report):
    folder = run_report[0]
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (folder / "report.md").read_text())
    assert linked and all((folder / name).exists() for name in linked)


def test_a_comparison_report_overlays_the_variants(tmp_path):
    (tmp_path / "c.yaml").write_text(SCENARIO + VARIANTS, encoding="utf-8")
    out = _qsim(
        "compare",
        tmp_path / "c.yaml",
        "--workers",
        1,
        "--duration",
        "3m",
        "--report",
        "--report-dir",
        tmp_path / "reports",
    )
    assert out.exit_code == 0, out.output
    folder = _only_folder(tmp_path / "reports")
    page = Page()
    page.feed((folder / "report.html").read_text(encoding="utf-8"))
    assert {"two", "three"} <= set(json.loads((folder / "summary.json").read_text())["variants"])
    assert page.images and all(s.startswith("data:image/png;base64,") for s in page.images)
    assert (folder / "backlog-orders.svg").exists()
    with (folder / "timeseries.csv").open(encoding="utf-8") as file:
        header = next(csv.reader(file))
    assert header == ["variant", *CSV_COLUMNS]


CAPACITY = {
    "pool": "workers",
    "slos": ["p99 latency < 2s"],
    "levels": [
        {
            "load": 0.5,
            "replicas": 1,
            "analytic_replicas": 1,
            "latency_p99_s": 1.2,
            "utilization": 0.8,
            "met": True,
        },
        {
            "load": 1.0,
            "replicas": 3,
            "analytic_replicas": 2,
            "latency_p99_s": 1.5,
            "utilization": 0.53,
            "met": True,
        },
        {
            "load": 2.0,
            "replicas": 6,
            "analytic_replicas": 4,
            "latency_p99_s": 1.7,
            "utilization": 0.53,
            "met": True,
        },
        {
            "load": 3.0,
            "replicas": None,
            "analytic_replicas": 6,
            "latency_p99_s": None,
            "utilization": None,
            "met": None,
        },
    ],
    "headroom": 1.3,
}


def test_a_capacity_result_adds_its_section_curve_and_cross_check(tmp_path, run_report):
    summary = run_report[1]
    folder = write_run_report(summary, "qsim capacity s.yaml", tmp_path, capacity=CAPACITY)
    page = Page()
    page.feed((folder / "report.html").read_text(encoding="utf-8"))
    text = "".join(page.text)
    assert (folder / "capacity.png").exists() and (folder / "capacity.svg").exists()
    assert json.loads((folder / "capacity.json").read_text()) == CAPACITY
    assert "At 1x load, workers needs 3 replicas" in text
    assert "With today's 2 replicas, the SLOs hold up to 1.3x load." in text
    assert "differ by more than 1 replica at 2x" in text  # 6 against 4; 3 against 2 is not flagged
    assert "Undecided at 3x" in text
    # the curve is an interactive chart in HTML; Markdown links its PNG
    assert len(page.images) + 1 == len(list(folder.glob("*.png")))
    assert 'data-chart="capacity"' in (folder / "report.html").read_text(encoding="utf-8")
    assert "](capacity.png)" in (folder / "report.md").read_text(encoding="utf-8")


def test_simulated_and_analytic_counts_are_flagged_only_beyond_one_replica():
    assert disagreements(CAPACITY) == [2.0]


def _verdict_summary(attainment, interval):
    return {
        "resolved_scenario": {"slo": {"latency": 2.0, "percentile": 99.0, "backlog": None}},
        "slo": {"q": {"attainment": attainment}},
        "ci95": {"slo": {"q": {"attainment": interval}}},
    }


@pytest.mark.parametrize(
    ("interval", "verdict"),
    [([0.992, 0.998], "met"), ([0.95, 0.985], "missed"), ([0.985, 0.995], "undecided")],
)
def test_an_slo_verdict_rests_on_the_whole_interval(interval, verdict):
    summary = _verdict_summary(sum(interval) / 2, interval)
    assert slo_verdicts(summary)[0]["verdict"] == verdict


def test_an_unwritable_report_folder_is_a_one_line_error(tmp_path):
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    out = _qsim(
        "run",
        tmp_path / "s.yaml",
        "--workers",
        1,
        "--duration",
        "2m",
        "--report",
        "--report-dir",
        tmp_path / "taken" / "reports",
    )
    assert out.exit_code == 2
    assert out.output.strip().splitlines()[-1].startswith("qsim: cannot write the report into")


CONSTANT = """\
name: steady
duration: 100s
sample_interval: 10s
producers: [{name: p, to: q, rate: 10/s, arrivals: constant}]
queues: [{name: q}]
consumers: [{name: c, queue: q, replicas: 1, prefetch: 1, service_time: 50ms}]
"""


def test_publish_and_ack_rates_follow_a_constant_stream():
    """10 messages/s evenly spaced: 100 (+-1 at the step's edges) in every 10 s step."""
    series = run_scenario(scenario_from(CONSTANT))["timeseries"]["queues"]["q"]
    assert all(9.9 <= rate <= 10.1 for rate in series["publish_rate"][1:])
    assert all(9.9 <= rate <= 10.1 for rate in series["ack_rate"][2:])


def test_busy_workers_never_exceed_the_workers_there_are():
    pool = run_scenario(scenario_from(CONSTANT))["timeseries"]["pools"]["c"]
    assert max(pool["busy"]) == 1 and all(
        b <= r for b, r in zip(pool["busy"], pool["replicas"], strict=True)
    )


def test_the_quantile_grid_agrees_with_the_percentiles(run_report):
    """The grid's 0.5 and 0.99 levels are the summary's p50 and p99, to the last bit."""
    for figures in run_report[1]["queues"].values():
        grid, latency = figures["latency_quantiles_s"], figures["latency_s"]
        assert (grid["0.5"], grid["0.99"]) == (latency["p50"], latency["p99"])


def test_a_comparison_names_the_cheapest_variant_meeting_every_objective():
    """Queues without data are not judged; among variants meeting the rest, the lowest
    replica-seconds wins."""
    from qsim.report.comparison_review import _advice

    def verdicts(*found):
        return [{"queue": "q", "objective": "p99 latency within 2s", "verdict": v} for v in found]

    summaries = {
        name: {"consumers": {"c": {"replica_seconds": cost}}}
        for name, cost in (("small", 100.0), ("medium", 200.0), ("large", 300.0))
    }
    found = {
        "small": verdicts("undecided"),
        "medium": verdicts("met", "no data"),
        "large": verdicts("met"),
    }
    advice = list(_advice(summaries, found))
    assert advice[0] == "2 of 3 variants meet every objective: medium, large."
    assert advice[1] == (
        "The cheapest variant that meets every objective: medium, at 200 replica-seconds, "
        "33% below large (the next cheapest of the 2 that meet them)."
    )
    assert advice[2:] == ["small does not surely meet: p99 latency within 2s on q (undecided)."]


def test_with_stream_the_quantile_grid_comes_from_the_same_sketches():
    """Under --stream the grid's 0.99 level is the sketched p99 and the grid never falls."""
    scenario = scenario_from(SCENARIO.replace("duration: 10m", "duration: 3m"))
    figures = run_scenario(scenario, stream=0.01)["queues"]["orders"]
    grid = list(figures["latency_quantiles_s"].values())
    assert figures["latency_quantiles_s"]["0.99"] == figures["latency_s"]["p99"]
    assert grid == sorted(grid)


def test_the_review_opens_with_the_answer_then_the_dashboard(run_report):
    """Title "Run review", then one verdict box per objective and queue before anything else,
    then the interactive dashboard (plotly.js inlined once, nothing loaded from elsewhere)."""
    folder, summary = run_report
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<title>Run review: report-check</title>" in html
    sections = re.findall(r'<section id="([a-z0-9-]+)">', html)
    assert sections[:2] == ["answer", "dashboard"]
    boxes = re.findall(r'<div class="verdict (\w+)" data-state="([^"]+)">', html)
    assert [state for _css, state in boxes] == [v["verdict"] for v in slo_verdicts(summary)]
    assert html.count("* plotly.js v") == 1 and "<script src=" not in html
