"""The ``qsim`` command: a thin layer over the library.

Every error qsim can explain is one line on stderr and exit status 2; a traceback is a bug.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from qsim import __version__, progress
from qsim.errors import QsimError
from qsim.estimate import check_work, estimate
from qsim.report import render_summary
from qsim.runner import LIVE_EXTRA, run_scenario
from qsim.scenario import Scenario, load_scenario, with_overrides
from qsim.units import DURATION_UNITS, UnitError, parse_duration

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


def _report_options(command: F) -> F:
    """--report and --report-dir, shared by the commands that write reports."""
    options = [
        click.option(
            "--report", "report", is_flag=True,
            help="Write a report folder (HTML, Markdown, JSON, CSV, plots) under --report-dir.",
        ),
        click.option(
            "--report-dir", type=click.Path(file_okay=False, path_type=Path),
            default=Path("reports"), show_default=True,
            help="Root of report folders: ROOT/<scenario>/<kind>-<UTC timestamp>/ (kind: run, "
            "compare or capacity).",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _command_line(seed: int) -> str:
    """The current command as given on the command line (parsed values, e.g. durations in
    seconds), with ``--seed`` added when it was not given: what reproduces the run."""
    ctx = click.get_current_context()
    words = ["qsim", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if ctx.get_parameter_source(param.name or "") is not ParameterSource.COMMANDLINE:
            continue
        values = [f"{v:g}" if isinstance(v, float) else str(v) for v in _tuple(value)]
        if isinstance(param, click.Option):
            words += [param.opts[0]] if param.is_flag else [param.opts[0], *values]
        else:
            words += values
    if "--seed" not in words:
        words += ["--seed", str(seed)]
    return shlex.join(words)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that stop a command as Ctrl-C does (Ctrl-C itself arrives as KeyboardInterrupt)."""


class Stopped(BaseException):
    """A stop signal arrived (raised in the main thread by the handler, so ``finally`` clauses
    run: worker processes are ended and a live run deletes what it declared)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signum)


class _OneLineGroup(click.Group):
    """The ``qsim`` group: option and usage errors are one ``qsim: ...`` line and exit status 2,
    like scenario errors (click's own form is three lines: usage, hint, error)."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        """Run the command; a :class:`click.UsageError` becomes one line; Ctrl-C, SIGTERM and
        SIGHUP stop it (worker processes ended, live queues deleted by their ``finally``) with
        one line and exit status 128 + the signal's number (130 for Ctrl-C)."""
        previous = _handle_stop_signals()
        try:
            extra.pop("standalone_mode", None)
            result = super().main(args, prog_name, standalone_mode=False, **extra)
        except Stopped as exc:
            click.echo(f"qsim: stopped by {exc.name}; nothing was written", err=True)
            sys.exit(128 + exc.signum)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.format_message())
            sys.exit(2)
        except click.UsageError as exc:
            where = _subcommand(exc.ctx)
            click.echo(f"qsim: {where}{exc.format_message()}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"qsim: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:  # click's form of KeyboardInterrupt (and of EOF at a prompt)
            click.echo("qsim: interrupted (Ctrl-C); nothing was written", err=True)
            sys.exit(128 + signal.SIGINT)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        sys.exit(result if isinstance(result, int) else 0)


def _subcommand(ctx: click.Context | None) -> str:
    """``run: `` for an error inside ``qsim run`` (however qsim was started), else nothing."""
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return f"{' '.join(names)}: " if names else ""


def _handle_stop_signals() -> dict[int, Any]:
    """Make :data:`STOP_SIGNALS` raise :class:`Stopped` (only the main thread may set
    handlers; elsewhere, as under a test runner's thread, nothing changes); the handlers
    they had before, to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _stop) for signum in STOP_SIGNALS}


@click.group(cls=_OneLineGroup)
@click.version_option(version=__version__, prog_name="qsim")  # click's own lookup of "qsim"
# fails where two copies of the distribution's metadata are found (a repository's egg-info
# beside the installed one); qsim.__version__ reads the distribution once, by its name
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
        click.option(
            "--force", is_flag=True,
            help="Run even when the work estimate is above its limits (hours of CPU, GiBs).",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _precision_option(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> float | None:
    from qsim.precision import parse_precision

    if value is None:
        return None
    try:
        return parse_precision(value)
    except QsimError as exc:
        raise click.BadParameter(str(exc).removeprefix("precision: ")) from None


def _precision_options(command: F) -> F:
    """--precision and --max-replications: replications until the headline figures are precise
    (for every command that runs replications to a verdict: run, compare, capacity)."""
    from qsim.precision import DEFAULT_MAX

    command = click.option(
        "--max-replications",
        type=click.IntRange(2, 100_000),
        help=f"With --precision: stop after this many replications (default {DEFAULT_MAX}).",
    )(command)
    return click.option(
        "--precision",
        callback=_precision_option,
        metavar="PCT",
        help="Add replications until every headline figure's 95% half-width is within PCT "
        "of it, e.g. 5% (or 0.05).",
    )(command)


def _precision(precision: float | None, max_replications: int | None) -> Any:
    """The :class:`qsim.precision.Precision` the options ask for (None without --precision)."""
    from qsim.precision import DEFAULT_MAX, Precision

    if precision is None:
        if max_replications is not None:
            raise QsimError("--max-replications needs --precision")
        return None
    return Precision(precision, max_replications or DEFAULT_MAX)


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
@_precision_options
@_report_options
@_explained
def run(
    file: Path, json_path: str | None, seed: int | None, replications: int | None,
    duration: float | None, workers: int | None, force: bool, dask_address: str | None,
    stream: bool, precision: float | None, max_replications: int | None,
    report: bool, report_dir: Path,
) -> None:  # fmt: skip
    """Simulate FILE and print latency, throughput and backlog."""
    check_output(json_path)
    if workers is not None and dask_address:
        raise QsimError("give --workers or --dask (or QSIM_DASK_SCHEDULER), not both")
    target = _precision(precision, max_replications)
    scenario: Scenario = with_overrides(
        load_scenario(file), seed=seed, replications=replications, duration=duration
    )
    if not force:
        check_work(estimate(scenario, streamed=stream))
    show = progress.wanted(json_to_stdout=json_path == "-")
    total = scenario.replications if target is None else None
    with progress.replication_progress(total, show) as advance:
        summary = run_scenario(
            scenario, advance, workers=workers or os.cpu_count() or 1,
            dask=dask_address or None, stream=STREAM_ACCURACY if stream else None,
            precision=target,
        )  # fmt: skip
    _emit(summary, json_path, render_summary, "summary")
    if report:
        from qsim.report.bundle import write_run_report

        folder = write_run_report(summary, _command_line(scenario.seed), report_dir)
        click.echo(f"report written to {folder / 'report.html'}", err=json_path == "-")


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


@main.command("import")
@click.option(
    "--amqp-management", "url", envvar="QSIM_AMQP_MANAGEMENT_URL", metavar="URL",
    help="RabbitMQ management API, e.g. http://guest:guest@127.0.0.1:15672/ "
    "(or $QSIM_AMQP_MANAGEMENT_URL).",
)  # fmt: skip
@click.option("--vhost", default="/", show_default=True, help="The vhost to import.")
@click.option(
    "--window", callback=_duration_option, default="10m", show_default=True,
    help="Average rates and lengths over this much history (the API keeps 10 min at 5 s).",
)  # fmt: skip
@click.option(
    "--schedule", "step", callback=_duration_option, metavar="STEP",
    help="Producers follow the window's publish history in steps of STEP (e.g. 1m), as a "
    "schedule: over one window, instead of its mean rate.",
)  # fmt: skip
@_explained
def import_(url: str | None, vhost: str, window: float, step: float | None) -> None:
    """Write a scenario (on stdout) of a running RabbitMQ: its queues, exchanges, bindings,
    consumers and rates, every guessed value commented (docs/import.md)."""
    from qsim.importer import ManagementClient, import_scenario, take_snapshot

    if not url:
        raise QsimError("import: give --amqp-management URL (or $QSIM_AMQP_MANAGEMENT_URL)")
    if window < 1:
        raise QsimError(f"--window: at least 1s, got {window:g}s")
    if step is not None and not 0 < step <= window:
        raise QsimError(f"--schedule: a step above 0 and at most --window, got {step:g}s")
    snapshot = take_snapshot(ManagementClient.from_url(url), vhost, window)
    click.echo(import_scenario(snapshot, step)[0], nl=False)


def _write_json(json_path: str, result: dict[str, Any]) -> None:
    """Write ``result`` as JSON to ``json_path``; an unwritable path is a one-line error."""
    try:
        Path(json_path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise QsimError(f"cannot write {json_path}: {exc.strerror}") from None


def check_output(json_path: str | None) -> None:
    """Refuse a ``--json`` path that cannot be written *before* any simulation runs: a folder,
    a device or pipe (``-`` is stdout), a missing or read-only parent folder."""
    if json_path in (None, "-"):
        return
    path = Path(json_path)
    if path.is_dir():
        raise QsimError(f"cannot write {json_path}: Is a directory")
    if path.exists() and not path.is_file():
        raise QsimError(f"cannot write {json_path}: not a regular file (use --json - for stdout)")
    parent = path.parent
    if not parent.is_dir():
        raise QsimError(f"cannot write {json_path}: no folder {str(parent)!r}")
    if not os.access(path if path.exists() else parent, os.W_OK):
        raise QsimError(f"cannot write {json_path}: Permission denied")


def _emit(
    result: dict[str, Any], json_path: str | None, render: Callable[[Any], None], what: str
) -> None:
    """Print ``result`` as JSON (``--json -``) or ``render`` it; with ``--json PATH`` also write
    it there and say so."""
    if json_path == "-":
        click.echo(json.dumps(result, indent=2))
        return
    render(result)
    if json_path:
        _write_json(json_path, result)
        click.echo(f"{what} written to {json_path}")


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
    help="Write PNGs overlaying the variants (backlog, replicas, latency CDF) into this folder.",
)  # fmt: skip
@_precision_options
@_report_options
@_explained
def compare(
    files: tuple[Path, ...], json_path: str | None, seed: int | None, replications: int | None,
    duration: float | None, workers: int | None, force: bool, plot_dir: Path | None,
    precision: float | None, max_replications: int | None, report: bool, report_dir: Path,
) -> None:  # fmt: skip
    """Run FILE's variants (or several whole FILES) side by side with common random numbers."""
    check_output(json_path)
    from qsim.compare import compare as run_variants
    from qsim.compare import load_files, load_variants
    from qsim.report.compare import plot_comparison, render_comparison

    target = _precision(precision, max_replications)
    if len(files) == 1:
        variants = load_variants(files[0])[1]
        if not variants:
            raise QsimError(f"{files[0]}: no variants: to compare; add a variants: section")
    else:
        variants = load_files(files)
    changes = {"seed": seed, "replications": replications, "duration": duration}
    for variant in variants if not force else ():
        check_work(estimate(with_overrides(variant.scenario, **changes)), what=variant.name)
    result = run_variants(
        variants, lambda s: with_overrides(s, **changes),
        workers=workers or os.cpu_count() or 1, precision=target,
        show_progress=progress.wanted(json_to_stdout=json_path == "-"),
    )  # fmt: skip
    _emit(result, json_path, lambda r: render_comparison(r["variants"]), "comparison")
    for file in plot_comparison(result["variants"], plot_dir) if plot_dir else ():
        click.echo(f"plot written to {file}", err=json_path == "-")
    if report:
        from qsim.report.bundle import write_compare_report

        first = next(iter(result["variants"].values()))
        folder = write_compare_report(result, _command_line(first["seed"]), report_dir)
        click.echo(f"report written to {folder / 'report.html'}", err=json_path == "-")


def _trial_text(trial: Any) -> str:
    """A simulated (load, replicas) point of a capacity search: ``1.5x load, 12 replicas:
    meets (3 replications)``."""
    from qsim.report.figures import load_text

    verdict = {True: "meets", False: "fails", None: "undecided"}[trial.met]
    on = f" on {trial.partitions} partitions" if trial.partitions is not None else ""
    return (
        f"{load_text(trial.load)} load, {trial.replicas} replicas{on}: {verdict} "
        f"({trial.count} replications)"
    )


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--arrivals", is_flag=True, help="FILE holds publish times: derive a rate schedule instead."
)
@click.option("--column", metavar="NAME", help="Column to read: header name or 1-based number.")
@click.option(
    "--unit", default="s", show_default=True, help="Unit of the numbers in FILE.",
    type=click.Choice(list(DURATION_UNITS)),
)  # fmt: skip
@click.option(
    "--interval", default="1m", show_default=True, callback=_duration_option,
    help="With --arrivals: the length of each schedule step, e.g. 30s, 5m.",
)  # fmt: skip
@click.option(
    "--bootstrap", default=200, show_default=True, type=click.IntRange(0, 100_000),
    help="Parametric-bootstrap draws per p-value (0: the optimistic textbook p-value).",
)  # fmt: skip
@click.option(
    "--seed",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seed of the bootstrap draws.",
)
@click.option(
    "--json", "json_path", metavar="PATH|-", help="Write the result as JSON (- for stdout)."
)
@_explained
def fit(
    file: Path, arrivals: bool, column: str | None, unit: str, interval: float, bootstrap: int,
    seed: int, json_path: str | None,
) -> None:  # fmt: skip
    """Fit service times in FILE (one per line) and print the best distribution as scenario YAML;
    with --arrivals, turn publish times into a rate schedule and judge whether they are Poisson."""
    check_output(json_path)
    import numpy as np

    from qsim.fit.arrivals import fit_arrivals, parse_time
    from qsim.fit.measurements import read_column
    from qsim.fit.service import fit_service_times
    from qsim.report.fit import render_arrivals, render_service_fit

    seconds = DURATION_UNITS[unit]
    if interval <= 0:
        raise QsimError("--interval must be above zero")
    if arrivals:
        what = f"a publish time ({unit} or ISO-8601)"
        times = read_column(file, column, lambda cell: parse_time(cell, seconds), what)
        result, render = fit_arrivals(times, interval), render_arrivals
    else:
        durations = read_column(file, column, float, f"a duration in {unit}")
        rng = np.random.default_rng(seed)
        result, render = fit_service_times(durations, seconds, rng, bootstrap), render_service_fit
    _emit(result, json_path, render, "fit")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--amqp", "amqp_url", envvar="QSIM_AMQP_URL", metavar="URL",
    help="RabbitMQ to run against, e.g. amqp://guest:guest@127.0.0.1:5672/ (or $QSIM_AMQP_URL).",
)  # fmt: skip
@click.option(
    "--nats", "nats_url", envvar="QSIM_NATS_URL", metavar="URL",
    help="NATS server with JetStream for jetstream queues, e.g. nats://127.0.0.1:4222 "
    "(or $QSIM_NATS_URL).",
)  # fmt: skip
@click.option(
    "--time-scale", type=click.FloatRange(min=0, min_open=True), default=0.05, show_default=True,
    help="Wall-clock seconds per scenario second (0.05: a 1-minute scenario runs 3 s live).",
)  # fmt: skip
@click.option(
    "--duration", callback=_duration_option, help="Override the duration (scenario time), e.g. 2m."
)
@click.option(
    "--replications", type=click.IntRange(1, 100_000),
    help="Simulated replications (default: the scenario's); 2+ adds one run's 95% range.",
)  # fmt: skip
@click.option("--band", type=click.FloatRange(min=0), default=0.15, show_default=True,
              help="Relative agreement band (fractions: 3 points).")  # fmt: skip
@click.option(
    "--json", "json_path", metavar="PATH|-", help="Write both figure sets as JSON (- for stdout)."
)
@_explained
def live(
    file: Path, amqp_url: str | None, nats_url: str | None, time_scale: float,
    duration: float | None, replications: int | None, band: float, json_path: str | None,
) -> None:  # fmt: skip
    """Run FILE's producers and consumers against a real broker (RabbitMQ, or NATS JetStream
    for jetstream queues) and compare with simulation."""
    check_output(json_path)
    try:
        from qsim.live import Band, LiveSettings, backend_for, run_live
    except ImportError:
        raise QsimError(f"qsim live needs pika and nats-py: {LIVE_EXTRA}") from None
    from qsim.report.live import render_live

    scenario = with_overrides(load_scenario(file), duration=duration, replications=replications)
    backend = backend_for(scenario)
    url = {"--amqp": amqp_url, "--nats": nats_url}[backend.option]
    if not url:
        raise QsimError(
            f"live: {scenario.name!r} runs on {backend.name}: give {backend.option} URL "
            f"(or ${backend.env})"
        )
    settings = LiveSettings(url, time_scale, Band(relative=band), os.cpu_count() or 1)
    result = run_live(scenario, settings)
    _emit(result, json_path, render_live, "live comparison")


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
    "--vary", type=click.Choice(["replicas", "partitions"]), default="replicas",
    show_default=True,
    help="What to search: the pool's replicas, or its kafka topic's partitions (each with as "
    "many replicas; replicas beyond the partitions sit idle).",
)  # fmt: skip
@click.option(
    "--json", "json_path", metavar="PATH|-", help="Write the capacity table as JSON (- for stdout)."
)
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@_run_options
@_precision_options
@_report_options
@_explained
def capacity(
    file: Path, pool: str | None, slos: tuple[str, ...], load_range: str, steps: int, vary: str,
    json_path: str | None, seed: int | None, replications: int | None, duration: float | None,
    workers: int | None, force: bool, precision: float | None, max_replications: int | None,
    report: bool, report_dir: Path,
) -> None:  # fmt: skip
    """Find the smallest replica count of a pool meeting every SLO at each load level (with
    --vary partitions, the smallest partition count of its kafka topic, and replicas on it)."""
    check_output(json_path)
    from qsim.capacity import CapacityStudy, parse_load_range
    from qsim.capacity import capacity as study_capacity
    from qsim.loadscale import pool_index
    from qsim.report.capacity import render_capacity
    from qsim.slo import parse_slo, scenario_slo

    loads = parse_load_range(load_range, steps)
    objectives = [parse_slo(text) for text in slos]
    scenario = with_overrides(
        load_scenario(file), seed=seed, replications=replications, duration=duration
    )
    if pool is None:
        if len(scenario.consumers) != 1:
            names = ", ".join(p.name for p in scenario.consumers) or "none"
            raise QsimError(f"{file}: give --pool, one of: {names}")
        pool = scenario.consumers[0].name
    queue = scenario.consumers[pool_index(scenario, pool)].queue
    topic = next(q for q in scenario.queues if q.name == queue)
    if vary == "partitions" and topic.type != "kafka":
        raise click.UsageError(
            f"--vary partitions: pool {pool!r} reads {queue!r}, a {topic.type} queue; only a "
            "kafka topic has partitions",
            click.get_current_context(),
        )
    objectives = objectives or scenario_slo(scenario.slo, queue)
    if not objectives:
        raise QsimError(
            f"{file}: no SLO for pool {pool!r}: give --slo 'p99 latency < 2s' or an slo: section "
            "covering its queue"
        )
    if not force:
        work = estimate(scenario)
        heaviest = replace(work, messages=work.messages * max(loads))
        check_work(heaviest, what=f"each trial at {max(loads):g}x load")
    show = progress.wanted(json_to_stdout=json_path == "-")
    guess = 2 * (len(loads) + 1)  # the study tells its own guess as it starts (on_plan)
    with progress.replication_progress(guess, show, description="capacity points") as bar:
        study = CapacityStudy(
            scenario, pool, objectives, workers=workers or os.cpu_count() or 1,
            on_trial=(lambda t: bar.describe(f"last: {_trial_text(t)}")) if bar else None,
            on_plan=bar.plan if bar else None,
            precision=_precision(precision, max_replications), vary=vary,
        )  # fmt: skip
        result = study_capacity(study, loads)
    _emit(result, json_path, render_capacity, "capacity")
    if report:
        _capacity_report(scenario, result, study.workers, report_dir, err=json_path == "-")


def _capacity_report(
    scenario: Scenario, result: dict[str, Any], workers: int, root: Path, err: bool
) -> None:
    """The capacity review: today's system as written (one more run) with the capacity study."""
    from qsim.report.bundle import write_run_report

    summary = run_scenario(scenario, workers=workers)
    folder = write_run_report(summary, _command_line(scenario.seed), root, capacity=result)
    click.echo(f"report written to {folder / 'report.html'}", err=err)
