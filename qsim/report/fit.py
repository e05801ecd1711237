"""Presenting ``qsim fit`` results: the candidates table, the Poisson check and the YAML snippet.

Built from the JSON-ready results of :mod:`qsim.fit` alone, laid out to fit the terminal as
run and compare are (:mod:`qsim.report.layout`): lines of figures break between clauses, and
a candidates table too wide for the terminal lists the fitted parameters below it instead of
squeezing them into a column. The snippet is printed last, unstyled and never wrapped, so it
can be copied into a scenario as it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from qsim.fit.arrivals import CLOCK_FROM
from qsim.report.console import format_duration, format_number, format_span, stdout_console
from qsim.report.layout import clauses, fits, fitted

__all__ = ["parameter_items", "render_arrivals", "render_service_fit"]

VERDICTS = {
    "plausible": "plausible",
    "bursty": "implausible: bursty (more variable than Poisson)",
    "too regular": "implausible: more regular than Poisson",
    "too few publishes": "not tested (no interval has a publish per bin on average)",
}
ADVICE = {
    "plausible": "Poisson within each step is what the schedule below simulates.",
    "bursty": "The schedule below keeps the rates but not the bursts; to replay them, use "
    "`trace: FILE` (publish times in seconds), or model them with `mmpp:` or `batch:` "
    "(docs/arrivals.md).",
    "too regular": "Add `arrivals: constant` to the producer for evenly spaced publishes.",
    "too few publishes": "Choose a longer --interval to test whether the arrivals are Poisson.",
}


def _console() -> Console:
    return stdout_console(140)


def _listed(parts: list[str]) -> list[str]:
    """``parts`` with a comma after each but the last, for :func:`clauses`."""
    return [f"{part}," for part in parts[:-1]] + parts[-1:]


def parameter_items(candidate: dict[str, Any]) -> list[str]:
    """A candidate's fitted parameters as people read them, one item per parameter or phase
    (``p x mean`` for a hyper-exponential's branch, ``p x Ek mean`` for a hyper-Erlang's)."""
    written = candidate["distribution"]
    if "values" in written:
        return [f"{format_number(len(written['values']))} values"]
    if "phases" in written:
        return [
            f"{phase['p']} x {'E' + str(phase['k']) + ' ' if 'k' in phase else ''}{phase['mean']}"
            for phase in written["phases"]
        ]
    return [f"{key} {value}" for key, value in written.items() if key != "dist"]


def _verdict(candidate: dict[str, Any]) -> str:
    if candidate["p_value"] is None:
        return "fallback"
    return "kept" if candidate["plausible"] else "rejected"


def _optional(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _candidates_table(result: dict[str, Any], parameters: bool = True) -> Table:
    method = result["method"]
    how = (
        f"by parametric bootstrap, {method['bootstrap_draws']} draws"
        if method["bootstrap_draws"]
        else "asymptotic, optimistic"
    )
    table = Table(
        title="Candidates (maximum likelihood)",
        caption=f"KS D: Kolmogorov-Smirnov distance; p: {how}",
        title_justify="left",
        caption_justify="left",
        show_edge=False,
    )
    labels = ("dist", "parameters") if parameters else ("dist",)
    for column in (*labels, "mean", "cv", "KS D", "p", "BIC", "verdict"):
        table.add_column(column, justify="left" if column in labels else "right")
    for candidate in result["candidates"]:
        written = [", ".join(parameter_items(candidate))] if parameters else []
        table.add_row(
            candidate["dist"], *written, format_duration(candidate["mean"]),
            f"{candidate['cv']:.3g}", _optional(candidate["ks_statistic"], ".4f"),
            _optional(candidate["p_value"], ".3f"), _optional(candidate["bic"], ",.0f"),
            _verdict(candidate),
        )  # fmt: skip
    return table


def _candidates(console: Console, result: dict[str, Any]) -> list[Any]:
    """The candidates table with its parameters when that fits the console; else without them,
    followed by a line per candidate listing its parameters (broken between parameters)."""
    table = _candidates_table(result)
    if fits(console, table):
        return fitted(console, table)
    lines: list[Any] = [Text("Parameters:")]
    for candidate in result["candidates"]:
        items = _listed(parameter_items(candidate))
        lines += clauses(console, [f"  {candidate['dist']}: {items[0]}", *items[1:]], "    ")
    return [*fitted(console, _candidates_table(result, parameters=False)), *lines]


def render_service_fit(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the sample, the ranked candidates, the choice and the winning snippet."""
    console = console or _console()
    sample = result["sample"]
    count = format_number(result["count"])
    head = Text.assemble((result["file"], "bold"), ":")  # a long path wraps on its own line
    figures = [
        f"mean {format_duration(sample['mean'])}", f"cv {sample['cv']:.3g}",
        f"min {format_duration(sample['min'])}", f"median {format_duration(sample['median'])}",
        f"max {format_duration(sample['max'])}",
    ]  # fmt: skip
    for line in clauses(console, [head, f"{count} service times,", *_listed(figures)]):
        console.print(line)
    for part in _candidates(console, result):
        console.print(part)
    for left in result.get("unloadable", []):
        console.print(
            Text(f"Left out: {left['dist']}, its fit is refused by the scenario loader: "
                 f"{left['reason']}.")
        )  # fmt: skip
    alpha = result["method"]["alpha"]
    why = (
        "the test rejects every family (p < {alpha}): resampling the data"
        if result["best"] == "empirical"
        else "kept by the test (p >= {alpha}), lowest BIC among those kept"
    )
    console.print(Text(f"Best: {result['best']}, {why.format(alpha=alpha)}."))
    console.print(Text(result["snippet"]), soft_wrap=True)


def _span(seconds: float) -> str:
    """``60`` -> ``1m``; below a second or fractional, ``250ms``."""
    return format_span(seconds) if seconds == int(seconds) else format_duration(seconds)


def _origin(seconds: float) -> str:
    if seconds < CLOCK_FROM:
        return _span(seconds)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _poisson_figures(result: dict[str, Any]) -> list[list[str]]:
    """The dispersion test and the rescaled interarrival cv, where they exist, as clauses."""
    lines = []
    d = result["dispersion"]
    if d is not None:
        lines.append(
            [
                f"  index of dispersion {d['index']:.3g} (1 for Poisson;",
                f"counts in {result['sub_bins']} bins per interval):",
                f"chi-square {d['chi_square']:.4g} on {d['dof']} dof,",
                f"two-sided p {d['p_value']:.3g}",
            ]
        )
    if result["interarrival_cv"] is not None:
        lines.append(
            [
                f"  interarrival cv {result['interarrival_cv']:.3g} (1 for Poisson),",
                "each gap scaled by its interval's rate",
            ]
        )
    return lines


def _mmpp_lines(mmpp: dict[str, Any] | None) -> list[list[str]]:
    """The two-state MMPP fitted to all gaps, against one Poisson process, as clauses; its
    snippet is printed apart, whole."""
    if mmpp is None:
        return []
    states = _listed(
        [
            f"{format_number(rate)}/s for {format_duration(stay)}"
            for rate, stay in zip(mmpp["rates"], mmpp["mean_stays"], strict=True)
        ]
    )
    verdict = "better" if mmpp["better_than_poisson"] else "no better"
    return [
        [
            f"Two-state MMPP fitted to {format_number(mmpp['gaps_used'])} interarrival times:",
            *states[:-1],
            f"{states[-1]} on average;",
            f"BIC {mmpp['bic']:,.0f} against {mmpp['poisson_bic']:,.0f}",
            f"for one Poisson process: {verdict}",
        ]
    ]


def render_arrivals(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the rates, the Poisson check with its figures, and the schedule snippet."""
    console = console or _console()
    rates = result["rates"]
    count = format_number(result["count"])
    head = Text.assemble((result["file"], "bold"), ":")  # a long path wraps on its own line
    left_out = f"{format_number(result['left_out'])} after the last whole interval left out"
    span = f"{result['intervals']} interval(s) of {_span(result['interval'])}"
    origin = f"from {_origin(result['origin'])}"
    lines: list[list[Any]] = [
        [head, f"{count} publishes,", span, origin + (";" if result["left_out"] else ""),
         *([left_out] if result["left_out"] else [])],
        [f"Rate: mean {format_number(result['mean_rate'])}/s,",
         f"per interval {format_number(min(rates))}/s to {format_number(max(rates))}/s"],
        [f"Poisson within each interval: {VERDICTS[result['poisson']]}"],
        *_poisson_figures(result),
        [ADVICE[result["poisson"]]],
        *_mmpp_lines(result.get("mmpp")),
    ]  # fmt: skip
    for parts in lines:
        for line in clauses(console, parts, "    " if str(parts[0]).startswith("  ") else "  "):
            console.print(line)
    if result.get("mmpp"):
        console.print(Text(f"  {result['mmpp']['snippet']}"), soft_wrap=True)
    console.print(Text(result["snippet"].rstrip("\n")), soft_wrap=True)
