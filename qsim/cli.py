"""The ``qsim`` command: a thin layer over the library.

Every error qsim can explain is one line on stderr and exit status 2; a traceback is a bug.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from qsim import progress
from qsim.errors import QsimError
from qsim.report import render_summary
from qsim.runner import run_scenario
from qsim.scenario import Scenario, load_scenario, with_overrides
from qsim.units import UnitError, parse_duration

F = TypeVar("F", bound=Callable[..., Any])
STREAM_ACCURACY = 0.01
"""Relative accuracy of percentiles under ``--stream``."""


def _explained(command: F) -> F:
    """Turn :class:`QsimError` into a one-line message and exit status 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except QsimError as exc:
            click.echo(f"qsim: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _duration_option(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except UnitError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
@click.version_option(package_name="qsim")
def main() -> None:
    """Simulate message-queue systems (RabbitMQ semantics) from YAML scenarios."""


def _run_options(command: F) -> F:
    """The options every simulating command shares: --replications, --duration, --workers."""
    options = [
        click.option(
            "--replications", type=click.IntRange(1, 100_000), help="Override replications."
        ),
        click.option(
            "--duration", callback=_duration_option, help="Override the duration, e.g. 30m."
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            help=f"Local processes running replications (default: all cores, {os.cpu_count()}).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--json", "json_path", metavar="PATH|-", help="Write the JSON summary (- for stdout)."
)
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@_run_options
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    envvar="QSIM_DASK_SCHEDULER",
    help="Run replications on the Dask scheduler at ADDRESS (or $QSIM_DASK_SCHEDULER).",
)
@click.option(
    "--stream",
    is_flag=True,
    help="Flat memory for very long runs: percentiles from quantile sketches (1% relative error).",
)
@_explained
def run(
    file: Path, json_path: str | None, seed: int | None, replications: int | None,
    duration: float | None, workers: int | None, dask_address: str | None, stream: bool,
) -> None:  # fmt: skip
    """Simulate FILE and print latency, throughput and backlog."""
    if workers is not None and dask_address:
        raise QsimError("give --workers or --dask (or QSIM_DASK_SCHEDULER), not both")
    scenario: Scenario = with_overrides(
        load_scenario(file), seed=seed, replications=replications, duration=duration
    )
    show = progress.wanted(json_to_stdout=json_path == "-")
    with progress.replication_progress(scenario.replications, show) as advance:
        summary = run_scenario(
            scenario, advance, workers=workers or os.cpu_count() or 1,
            dask=dask_address or None, stream=STREAM_ACCURACY if stream else None,
        )  # fmt: skip
    if json_path == "-":
        click.echo(json.dumps(summary, indent=2))
        return
    render_summary(summary)
    if json_path:
        try:
            Path(json_path).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise QsimError(f"cannot write {json_path}: {exc.strerror}") from None
        click.echo(f"summary written to {json_path}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario FILES; print one line per problem file, exit 2 if any."""
    failed = False
    for file in files:
        try:
            load_scenario(file)
        except QsimError as exc:
            click.echo(f"qsim: {exc}", err=True)
            failed = True
        else:
            click.echo(f"{file}: ok")
    if failed:
        sys.exit(2)


@main.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for yaml-language-server and editors)."""
    from qsim.schema import scenario_schema

    click.echo(json.dumps(scenario_schema(), indent=2))


def _write_json(json_path: str, result: dict[str, Any]) -> None:
    """Write ``result`` as JSON to ``json_path``; an unwritable path is a one-line error."""
    try:
        Path(json_path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise QsimError(f"cannot write {json_path}: {exc.strerror}") from None


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--json",
    "json_path",
    metavar="PATH|-",
    help="Write {variants: {NAME: summary}} (- for stdout).",
)
@click.option("--seed", type=click.IntRange(min=0), help="Override every variant's seed.")
@_run_options
@click.option(
    "--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Write PNGs overlaying the variants (backlog over time) into this folder.",
)  # fmt: skip
@_explained
def compare(
    files: tuple[Path, ...], json_path: str | None, seed: int | None, replications: int | None,
    duration: float | None, workers: int | None, plot_dir: Path | None,
) -> None:  # fmt: skip
    """Run FILE's variants (or several whole FILES) side by side with common random numbers."""
    from qsim.compare import compare as run_variants
    from qsim.compare import load_files, load_variants
    from qsim.report.compare import plot_comparison, render_comparison

    if len(files) == 1:
        variants = load_variants(files[0])[1]
        if not variants:
            raise QsimError(f"{files[0]}: no variants: to compare; add a variants: section")
    else:
        variants = load_files(files)
    changes = {"seed": seed, "replications": replications, "duration": duration}
    result = run_variants(
        variants, lambda s: with_overrides(s, **changes), workers=workers or os.cpu_count() or 1
    )
    if json_path == "-":
        click.echo(json.dumps(result, indent=2))
    else:
        render_comparison(result["variants"])
    if json_path and json_path != "-":
        _write_json(json_path, result)
        click.echo(f"comparison written to {json_path}")
    for file in plot_comparison(result["variants"], plot_dir) if plot_dir else ():
        click.echo(f"plot written to {file}", err=json_path == "-")


def _trial_line(trial: Any) -> None:
    """One line on stderr per simulated (load, replicas) point of a capacity search."""
    verdict = {True: "meets", False: "fails", None: "undecided"}[trial.met]
    click.echo(
        f"  {trial.load:g}x load, {trial.replicas} replicas: {verdict} "
        f"({trial.count} replications)",
        err=True,
    )


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pool", help="The consumer pool to size (default: the only one).")
@click.option(
    "--slo", "slos", multiple=True, metavar="EXPR",
    help="An SLO such as 'p99 latency < 2s' (repeatable; default: the scenario's slo:).",
)  # fmt: skip
@click.option("--load", "load_range", default="1x", show_default=True, help="e.g. 0.5x..3x")
@click.option("--steps", type=click.IntRange(1, 100), default=6, show_default=True)
@click.option(
    "--json", "json_path", metavar="PATH|-", help="Write the capacity table as JSON (- for stdout)."
)
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@_run_options
@_explained
def capacity(
    file: Path, pool: str | None, slos: tuple[str, ...], load_range: str, steps: int,
    json_path: str | None, seed: int | None, replications: int | None, duration: float | None,
    workers: int | None,
) -> None:  # fmt: skip
    """Find the smallest replica count of a pool meeting every SLO at each load level."""
    from qsim.capacity import CapacityStudy, parse_load_range
    from qsim.capacity import capacity as study_capacity
    from qsim.report.capacity import render_capacity
    from qsim.slo import parse_slo, scenario_slo

    loads = parse_load_range(load_range, steps)
    objectives = [parse_slo(text) for text in slos]
    scenario = with_overrides(
        load_scenario(file), seed=seed, replications=replications, duration=duration
    )
    objectives = objectives or scenario_slo(scenario.slo)
    if not objectives:
        raise QsimError(f"{file}: no SLO: give --slo 'p99 latency < 2s' or an slo: section")
    if pool is None:
        if len(scenario.consumers) != 1:
            names = ", ".join(p.name for p in scenario.consumers) or "none"
            raise QsimError(f"{file}: give --pool, one of: {names}")
        pool = scenario.consumers[0].name
    show = progress.wanted(json_to_stdout=json_path == "-")
    study = CapacityStudy(
        scenario, pool, objectives, workers=workers or os.cpu_count() or 1,
        on_trial=_trial_line if show else None,
    )  # fmt: skip
    result = study_capacity(study, loads)
    if json_path == "-":
        click.echo(json.dumps(result, indent=2))
        return
    render_capacity(result)
    if json_path:
        _write_json(json_path, result)
        click.echo(f"capacity written to {json_path}")
