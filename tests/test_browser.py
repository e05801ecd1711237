"""Each report kind (run review, comparison, capacity plan) opened in a real browser: Debian's
``chromium`` driven through ``chromium-driver`` by Selenium, headless.

On every page: no console error, no request that leaves the file (everything is inline), every
chart drawn (plotly.js made its SVG and one path per trace), and a hover on a point shows a
tooltip whose value is the one in summary.json (capacity.json for the capacity curve). Marked
``browser``: ``make test`` runs these on their own phase; without chromium they skip and say how
to get it, unless ``QSIM_REQUIRE_BROWSER=1`` (CI, ``.ci/run`` installs it) makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from qsim.cli import main

pytestmark = pytest.mark.browser

SCENARIO = """\
name: browser-check
seed: 2
duration: 6m
warmup: 30s
start: "09:30"
replications: 2
sample_interval: 10s
slo: {latency: 1s, percentile: 95, backlog: 40}
prices: {currency: EUR, replica_hour: 0.1}
producers:
  - name: checkout
    to: orders
    schedule:
      - {at: 0s, rate: 8/s}
      - {at: 2m, rate: 15/s}
      - {at: 4m, rate: 8/s}
queues:
  - name: orders
consumers:
  - name: workers
    queue: orders
    replicas: 2
    prefetch: 1
    service_time: {dist: exponential, mean: 100ms}
"""
VARIANTS = """\
variants:
  - {name: two, overrides: {consumers.workers.replicas: 2}}
  - {name: three, overrides: {consumers.workers.replicas: 3}}
"""
HOW = "install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"


def _browser_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if Path(browser).exists() and Path(driver).exists():
        return browser, driver
    if os.environ.get("QSIM_REQUIRE_BROWSER") == "1":
        pytest.fail(f"QSIM_REQUIRE_BROWSER=1 but chromium or chromedriver is missing: {HOW}")
    pytest.skip(HOW)


@pytest.fixture(scope="module")
def driver():
    """A headless Chromium logging console messages and network requests."""
    browser, executable = _browser_paths()
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = webdriver.ChromeService(executable_path=executable)
    chrome = webdriver.Chrome(options=options, service=service)
    chrome.set_page_load_timeout(30)
    yield chrome
    chrome.quit()


def _qsim(tmp: Path, *args: object) -> Path:
    """Run qsim with --report into ``tmp/reports``; return the one folder written."""
    out = CliRunner().invoke(
        main, [*map(str, args), "--workers", "1", "--report", "--report-dir", str(tmp / "reports")]
    )
    assert out.exit_code == 0, out.output
    (folder,) = (tmp / "reports").glob("*/*")
    return folder


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The three report kinds of one small scenario: {kind: folder}."""
    tmp = tmp_path_factory.mktemp("browser")
    (tmp / "run.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp / "compare.yaml").write_text(SCENARIO + VARIANTS, encoding="utf-8")
    folders = {
        "run": _qsim(tmp / "r", "run", tmp / "run.yaml"),
        "compare": _qsim(tmp / "c", "compare", tmp / "compare.yaml", "--duration", "4m"),
        "capacity": _qsim(
            tmp / "p", "capacity", tmp / "run.yaml", "--slo", "utilization < 0.9",
            "--load", "1x..2x", "--steps", "2", "--duration", "90s", "--replications", "2",
        ),
    }  # fmt: skip
    return folders


def _open(driver, folder: Path) -> None:
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get_log("performance")
    driver.get((folder / "report.html").as_uri())
    driver.execute_script("window.scrollTo(0, 0)")


def _requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _charts(driver) -> list[dict]:
    """Every chart on the page: its id, traces in its figure and trace paths plotly drew."""
    return driver.execute_script(
        """return [...document.querySelectorAll('div.chart')].map(d => ({
             id: d.id, traces: (d.data || []).length,
             drawn: d.querySelectorAll('.scatterlayer .trace').length,
             svg: d.querySelectorAll('svg.main-svg').length}));"""
    )


def _hover(driver, chart: str, trace: int, point: int) -> str:
    """Move the mouse onto point ``point`` of trace ``trace`` of ``chart``; the tooltip text."""
    from selenium.webdriver.common.action_chains import ActionChains

    element = driver.find_element("id", chart)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    x, y = driver.execute_script(
        """const gd = arguments[0], t = gd.data[arguments[1]], i = arguments[2];
           const full = gd._fullData[arguments[1]], L = gd._fullLayout;
           const xa = L[full.xaxis.replace('x', 'xaxis')], ya = L[full.yaxis.replace('y', 'yaxis')];
           return [xa._offset + xa.d2p(t.x[i]), ya._offset + ya.d2p(t.y[i])];""",
        element,
        trace,
        point,
    )
    size = element.size
    offset = (round(x - size["width"] / 2), round(y - size["height"] / 2))
    ActionChains(driver).move_to_element_with_offset(element, *offset).perform()
    return driver.execute_script(
        """const texts = [...arguments[0].querySelectorAll('.hoverlayer text')];
           return texts.map(t => t.textContent).join('\\n');""",
        element,
    )


def _check_page(driver, folder: Path) -> list[dict]:
    _open(driver, folder)
    charts = _charts(driver)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    outside = [u for u in _requests(driver) if not u.startswith(("file:", "data:", "blob:"))]
    assert not errors, errors
    assert not outside, outside
    assert charts and all(c["svg"] and c["drawn"] >= c["traces"] > 0 for c in charts), charts
    return charts


def _clock_index(tooltip: str, summary: dict) -> int:
    """The sample a unified tooltip's header time (HH:MM:SS, t = 0 at the scenario's start)
    stands for."""
    header = re.search(r"\b(\d\d:\d\d:\d\d)\b", tooltip)
    assert header, tooltip
    start = datetime.strptime(summary["resolved_scenario"]["start"], "%H:%M")
    seconds = (datetime.strptime(header.group(1), "%H:%M:%S") - start).total_seconds()
    return summary["timeseries"]["time_s"].index(seconds)


def _value(tooltip: str, name: str) -> float:
    found = re.search(rf"{re.escape(name)}\s*:\s*([-\d.,e+]+)", tooltip)
    assert found, (name, tooltip)
    return float(found.group(1).replace(",", ""))


def test_the_run_review_hovers_the_backlog_of_summary_json(driver, reports):
    """Hover the backlog line halfway through the run: the tooltip's value is the summary's
    ``timeseries.queues.orders.ready`` at the sample its header time names (4 significant
    digits, as the tooltip prints)."""
    summary = json.loads((reports["run"] / "summary.json").read_text(encoding="utf-8"))
    _check_page(driver, reports["run"])
    point = len(summary["timeseries"]["time_s"]) // 2
    tooltip = _hover(driver, "chart-dashboard", 0, point)
    sample = _clock_index(tooltip, summary)
    expected = summary["timeseries"]["queues"]["orders"]["ready"][sample]
    assert _value(tooltip, "orders") == pytest.approx(float(f"{expected:.4g}"), abs=1e-9)


def test_the_comparison_overlays_each_variant_and_hovers_its_replicas(driver, reports):
    """Hover the replicas line of variant three: the tooltip says three's replicas."""
    result = json.loads((reports["compare"] / "summary.json").read_text(encoding="utf-8"))
    _check_page(driver, reports["compare"])
    names = driver.execute_script(
        "return document.getElementById('chart-dashboard').data.map(t => t.name)"
    )
    trace = names.index("three · workers")
    tooltip = _hover(driver, "chart-dashboard", trace, 5)
    summary = result["variants"]["three"]
    sample = _clock_index(tooltip, summary)
    expected = summary["timeseries"]["pools"]["workers"]["replicas"][sample]
    assert _value(tooltip, "three · workers") == pytest.approx(float(f"{expected:.4g}"))


def test_the_capacity_plan_hovers_the_simulated_count_of_capacity_json(driver, reports):
    """Hover the simulated count at today's load (1x): the tooltip names the count that
    capacity.json gives."""
    study = json.loads((reports["capacity"] / "capacity.json").read_text(encoding="utf-8"))
    charts = _check_page(driver, reports["capacity"])
    assert {"chart-dashboard", "chart-capacity"} <= {c["id"] for c in charts}
    tooltip = _hover(driver, "chart-capacity", 1, 0)
    level = next(lv for lv in study["levels"] if lv["replicas"] is not None)
    assert f"{level['load']:g}x load: {level['replicas']} replicas (simulated)" in tooltip
