"""Golden-style checks of ``qsim fit`` and ``qsim live`` in a terminal: at 80 and 120 columns
every headline number appears whole, on one line, in the row or clause it belongs to. The
numbers are read from the result objects and formatted as the reports format them; the live
run's "broker" is a second simulation of the scenario with another seed, so no broker runs."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

from qsim.cli import main
from qsim.engine.arrivals import arrival_times
from qsim.fit.families import FAMILIES
from qsim.live import session
from qsim.live.settings import LiveSettings, Measured
from qsim.report.console import format_duration, format_number
from qsim.report.fit import parameter_items, render_arrivals, render_service_fit
from qsim.report.live import cell_text, one_run_text, render_live
from qsim.runner import run_scenario
from qsim.scenario import Producer, load_scenario, with_overrides

WIDTHS = (80, 120)
CHECKS = Path(__file__).parent / "live" / "checks.yaml"
HYPER_ERLANG = {"p1": 0.35, "mean1": 0.6, "k1": 6.0, "mean2": 0.1, "k2": 3.0}


def _printed(render, result, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    render(result, console)
    return console.export_text()


def _assert_fits(lines: list[str], width: int) -> None:
    assert max(len(line) for line in lines) <= width, "\n".join(lines)
    assert not any("…" in line for line in lines)


def _row(text: str, *cells: str) -> str | None:
    """The line holding ``cells`` in order, each whole, or None."""
    pattern = r"(^|\s)" + r"\s.*?".join(re.escape(cell) for cell in cells) + r"(\s|$)"
    return next((line for line in text.splitlines() if re.search(pattern, line)), None)


def _fit(tmp_path: Path, name: str, values, *args: str) -> dict:
    path = tmp_path / name
    path.write_text("x\n" + "".join(f"{float(v)!r}\n" for v in values), encoding="utf-8")
    result = CliRunner().invoke(main, ["fit", str(path), *args, "--json", "-"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def service_fit(tmp_path_factory) -> dict:
    """Every family fitted to 600 hyper-Erlang service times: long phase lists to show."""
    rng = np.random.default_rng(3)
    values = FAMILIES["hypererlang"].frozen(HYPER_ERLANG).rvs(size=600, random_state=rng)
    return _fit(tmp_path_factory.mktemp("fit"), "times.csv", values, "--bootstrap", "0")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_service_fit_shows_every_candidates_figures_whole(service_fit, width):
    """The sample's figures, each candidate's row (mean, cv, KS D, p, BIC, verdict) and every
    fitted parameter appear whole; only the snippet, printed last to be copied, may be wider."""
    text = _printed(render_service_fit, service_fit, width)
    lines = text.splitlines()
    assert lines[-1] == service_fit["snippet"]
    _assert_fits(lines[:-1], width)
    sample = service_fit["sample"]
    shown = [f"{format_number(service_fit['count'])} service times", f"cv {sample['cv']:.3g}"]
    shown += [f"{key} {format_duration(sample[key])}" for key in ("mean", "min", "median", "max")]
    for candidate in service_fit["candidates"]:
        assert _row(
            text, candidate["dist"], format_duration(candidate["mean"]), f"{candidate['cv']:.3g}",
            *(f"{candidate[key]:{spec}}" for key, spec in
              (("ks_statistic", ".4f"), ("p_value", ".3f"), ("bic", ",.0f"))
              if candidate[key] is not None),
        ), candidate["dist"]  # fmt: skip
        shown += parameter_items(candidate)
    missing = [figure for figure in shown if not any(figure in line for line in lines)]
    assert not missing, f"cut or wrapped at {width} columns: {missing}\n{text}"
    assert f"Best: {service_fit['best']}," in text


def test_a_service_fit_on_a_wide_terminal_keeps_the_parameters_in_the_table(service_fit):
    """With room for it, each candidate's parameters sit in its row, between name and mean."""
    text = _printed(render_service_fit, service_fit, 200)
    assert "Parameters:" not in text
    for candidate in service_fit["candidates"]:
        items = ", ".join(parameter_items(candidate))
        assert _row(text, candidate["dist"], items, format_duration(candidate["mean"]))


@pytest.fixture(scope="module")
def arrivals_fit(tmp_path_factory) -> dict:
    """Six minutes of bursty publishes (a two-state MMPP): the Poisson check fails, and the
    dispersion test, the interarrival cv and a fitted MMPP are all printed."""
    spec = Producer.model_validate(
        {"name": "p", "to": "q",
         "mmpp": [{"rate": "40/s", "mean_stay": "2s"}, {"rate": "2/s", "mean_stay": "8s"}]}
    )  # fmt: skip
    times = []
    for t in arrival_times(spec, np.random.default_rng(5)):
        if t >= 390:
            break
        times.append(t)
    return _fit(tmp_path_factory.mktemp("arrivals"), "published.csv", times, "--arrivals")


@pytest.mark.parametrize("width", WIDTHS)
def test_arrivals_show_every_rate_and_test_figure_whole(arrivals_fit, width):
    """Counts, rates, the dispersion test, the cv and the MMPP's states and BICs appear whole,
    each figure with its unit on one line; the snippets are printed whole, to be copied."""
    result = arrivals_fit
    assert result["poisson"] == "bursty" and result["mmpp"] is not None
    text = _printed(render_arrivals, result, width)
    lines = text.splitlines()
    snippet = result["snippet"].rstrip("\n").splitlines()
    assert lines[-len(snippet) :] == snippet
    mmpp = result["mmpp"]
    assert f"  {mmpp['snippet']}" in lines
    _assert_fits([line for line in lines if line.strip() != mmpp["snippet"]], width)
    d = result["dispersion"]
    rates = result["rates"]
    shown = [
        f"{format_number(result['count'])} publishes",
        f"{format_number(result['left_out'])} after the last whole interval left out",
        f"mean {format_number(result['mean_rate'])}/s",
        f"per interval {format_number(min(rates))}/s to {format_number(max(rates))}/s",
        f"index of dispersion {d['index']:.3g}",
        f"chi-square {d['chi_square']:.4g} on {d['dof']} dof",
        f"two-sided p {d['p_value']:.3g}",
        f"interarrival cv {result['interarrival_cv']:.3g}",
        f"{format_number(mmpp['gaps_used'])} interarrival times",
        *(f"{format_number(rate)}/s for {format_duration(stay)}"
          for rate, stay in zip(mmpp["rates"], mmpp["mean_stays"], strict=True)),
        f"BIC {mmpp['bic']:,.0f} against {mmpp['poisson_bic']:,.0f}",
    ]  # fmt: skip
    missing = [figure for figure in shown if not any(figure in line for line in lines)]
    assert not missing, f"cut or wrapped at {width} columns: {missing}\n{text}"


@pytest.fixture(scope="module")
def live_result() -> dict:
    """``run_live`` on the shipped live checks (60 s, 2 simulated replications), its broker
    replaced by one more simulated run with another seed: every figure of a real live result,
    with differences both small and large."""
    scenario = with_overrides(load_scenario(CHECKS), duration=60.0, replications=2)

    def measure(scenario, settings) -> Measured:
        other = run_scenario(with_overrides(scenario, seed=99, replications=1))
        return Measured({"queues": other["queues"]}, "qsim-test")

    backend = dataclasses.replace(
        session.backend_for(scenario), check=lambda scenario: None, measure=measure
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "backend_for", lambda scenario: backend)
        return session.run_live(scenario, LiveSettings("amqp://unused", time_scale=0.1))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_live_comparison_shows_every_row_whole(live_result, width):
    """Each figure's simulated value, one run's range, live value, difference and flag appear
    whole on one line (or, split in blocks, on the lines of that row)."""
    text = _printed(render_live, live_result, width)
    lines = text.splitlines()
    _assert_fits(lines, width)
    rows = live_result["comparison"]
    assert any(row["one_run"] for row in rows) and live_result["outside_band"] > 0
    for row in rows:
        cells = [cell_text(row, row["simulated"]), one_run_text(row), cell_text(row, row["live"])]
        assert all(any(cell in line for line in lines) for cell in cells), (row, text)
        assert _row(text, row["figure"], cells[0]), (row, text)
    assert f"{live_result['outside_band']} of {len(rows)} figures outside" in text
    assert " ".join(live_result["band"]["description"].split()) in " ".join(text.split())


def test_a_live_row_of_durations_reads_in_one_unit():
    """A simulated 824 ms beside a live 1.02 s reads 0.824 s and 1.02 s: one unit per row."""
    row = {"figure": "latency p99", "kind": "relative", "simulated": 0.824, "live": 1.02,
           "one_run": [0.7, 0.95]}  # fmt: skip
    assert [cell_text(row, row["simulated"]), cell_text(row, row["live"])] == ["0.824 s", "1.02 s"]
    assert one_run_text(row) == "0.7 to 0.95 s"
