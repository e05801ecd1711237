"""Presenting ``qsim fit`` results: the candidates table, the Poisson check and the YAML snippet.

Built from the JSON-ready results of :mod:`qsim.fit` alone. The snippet is printed last and
unstyled, so it can be copied into a scenario as it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from qsim.fit.arrivals import CLOCK_FROM
from qsim.report.console import format_duration, format_number, format_span, stdout_console

__all__ = ["render_arrivals", "render_service_fit"]

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


def _parameters(candidate: dict[str, Any]) -> str:
    written = candidate["distribution"]
    if "values" in written:
        return f"{format_number(len(written['values']))} values"
    if "phases" in written:  # p x mean: a hyper-exponential's branches; p x Ek mean: Erlang's
        return ", ".join(
            f"{phase['p']} x {'E' + str(phase['k']) + ' ' if 'k' in phase else ''}{phase['mean']}"
            for phase in written["phases"]
        )
    return ", ".join(f"{key} {value}" for key, value in written.items() if key != "dist")


def _verdict(candidate: dict[str, Any]) -> str:
    if candidate["p_value"] is None:
        return "fallback"
    return "kept" if candidate["plausible"] else "rejected"


def _optional(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _candidates_table(result: dict[str, Any]) -> Table:
    method = result["method"]
    how = (
        f"parametric bootstrap, {method['bootstrap_draws']} draws"
        if method["bootstrap_draws"]
        else "asymptotic, optimistic"
    )
    table = Table(
        title=f"Candidates (maximum likelihood; Kolmogorov-Smirnov D, p-value by {how})",
        title_justify="left",
        show_edge=False,
    )
    for column in ("dist", "parameters", "mean", "cv", "KS D", "p", "BIC", "verdict"):
        table.add_column(column, justify="left" if column in ("dist", "parameters") else "right")
    for candidate in result["candidates"]:
        table.add_row(
            candidate["dist"], _parameters(candidate), format_duration(candidate["mean"]),
            f"{candidate['cv']:.3g}", _optional(candidate["ks_statistic"], ".4f"),
            _optional(candidate["p_value"], ".3f"), _optional(candidate["bic"], ",.0f"),
            _verdict(candidate),
        )  # fmt: skip
    return table


def render_service_fit(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the sample, the ranked candidates, the choice and the winning snippet."""
    console = console or _console()
    sample = result["sample"]
    console.print(
        Text.assemble(
            (result["file"], "bold"),
            f": {format_number(result['count'])} service times, mean "
            f"{format_duration(sample['mean'])}, cv {sample['cv']:.3g}, min "
            f"{format_duration(sample['min'])}, median {format_duration(sample['median'])}, "
            f"max {format_duration(sample['max'])}",
        )
    )
    console.print(_candidates_table(result))
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


def _poisson_figures(result: dict[str, Any]) -> list[Text]:
    """The dispersion test and the rescaled interarrival cv, where they exist."""
    lines = []
    d = result["dispersion"]
    if d is not None:
        lines.append(
            Text(
                f"  index of dispersion {d['index']:.3g} (1 for Poisson; counts in "
                f"{result['sub_bins']} bins per interval): chi-square {d['chi_square']:.4g} on "
                f"{d['dof']} dof, two-sided p {d['p_value']:.3g}"
            )
        )
    if result["interarrival_cv"] is not None:
        lines.append(
            Text(
                f"  cv of interarrival times scaled by their interval's rate "
                f"{result['interarrival_cv']:.3g} (1 for Poisson)"
            )
        )
    return lines


def _mmpp_lines(mmpp: dict[str, Any] | None) -> list[Text]:
    """The two-state MMPP fitted to all gaps, against one Poisson process, and its snippet."""
    if mmpp is None:
        return []
    states = ", ".join(
        f"{format_number(rate)}/s for {format_duration(stay)}"
        for rate, stay in zip(mmpp["rates"], mmpp["mean_stays"], strict=True)
    )
    verdict = "better" if mmpp["better_than_poisson"] else "no better"
    return [
        Text(
            f"Two-state MMPP fitted to {format_number(mmpp['gaps_used'])} interarrival times: "
            f"{states} on average; BIC "
            f"{mmpp['bic']:,.0f} against {mmpp['poisson_bic']:,.0f} for one Poisson process: "
            f"{verdict}"
        ),
        Text(f"  {mmpp['snippet']}"),
    ]


def render_arrivals(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the rates, the Poisson check with its figures, and the schedule snippet."""
    console = console or _console()
    rates = result["rates"]
    left_out = f"; {format_number(result['left_out'])} after the last whole interval left out"
    lines = [
        Text.assemble(
            (result["file"], "bold"),
            f": {format_number(result['count'])} publishes, {result['intervals']} interval(s) "
            f"of {_span(result['interval'])} from {_origin(result['origin'])}"
            + (left_out if result["left_out"] else ""),
        ),
        Text(
            f"Rate: mean {format_number(result['mean_rate'])}/s, per interval "
            f"{format_number(min(rates))}/s to {format_number(max(rates))}/s"
        ),
        Text(f"Poisson within each interval: {VERDICTS[result['poisson']]}"),
        *_poisson_figures(result),
        Text(ADVICE[result["poisson"]]),
        *_mmpp_lines(result.get("mmpp")),
    ]
    for line in lines:
        console.print(line)
    console.print(Text(result["snippet"].rstrip("\n")), soft_wrap=True)
