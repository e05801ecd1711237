"""The ``qsim`` command: validate, run with a JSON summary, and print the JSON Schema.

Most tests call :data:`qsim.cli.main` in-process with click's CliRunner (stdout and stderr kept
apart); the few that must see the real process (``python -m qsim``, no traceback, byte-identical
output across processes) use subprocesses. Every error qsim can explain is one line on stderr and
exit status 2.
"""

import json
import subprocess
import sys

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from qsim.cli import main

GOOD = """\
name: tiny
duration: 10s
producers:
  - name: checkout
    to: orders
    rate: 20/s
queues:
  - name: orders
consumers:
  - name: workers
    queue: orders
    replicas: 2
    prefetch: 1
    service_time: {dist: exponential, mean: 20ms}
"""

NUMBER = "number"
STATISTICS = {"mean", "p50", "p90", "p95", "p99", "p999", "max"}
DOCUMENTED = {
    "queues": {
        "published": NUMBER,
        "delivered": NUMBER,
        "redelivered": NUMBER,
        "acked": NUMBER,
        "rejected": NUMBER,
        "dropped": NUMBER,
        "expired": NUMBER,
        "nacked": NUMBER,
        "over_limit": NUMBER,
        "ready_final": NUMBER,
        "unacked_final": NUMBER,
        "dead_lettered": NUMBER,
        "throughput_per_s": NUMBER,
        "latency_s": STATISTICS,
        "wait_s": STATISTICS,
        "backlog": {"mean", "max", "final"},
    },
    "producers": {
        "published": NUMBER,
        "acked": NUMBER,
        "latency_s": STATISTICS,
        "wait_s": STATISTICS,
    },
    "consumers": {
        "utilization": NUMBER,
        "replica_seconds": NUMBER,
        "replicas_mean": NUMBER,
        "replicas_max": NUMBER,
    },
}
"""What ``qsim run --json`` promises per queue, producer and consumer pool: a number, or a
mapping with these keys. Keys may be added to the summary, never renamed or removed."""


def shape(value: object) -> object:
    """``number`` for a number, the set of keys for a mapping, else the type's name."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return NUMBER
    return set(value) if isinstance(value, dict) else type(value).__name__


@pytest.fixture
def good(write_file):
    return write_file("good.yaml", GOOD)


def qsim(*args: object):
    """Run ``qsim ARGS`` in-process; the click Result has exit_code, stdout and stderr."""
    return CliRunner().invoke(main, [str(arg) for arg in args])


def summary(*args: object) -> dict:
    """The JSON summary of ``qsim run ARGS --json -``."""
    result = qsim("run", *args, "--json", "-")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def python_m_qsim(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qsim", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def leaf_paths(tree: object, prefix: tuple = ()) -> dict[tuple, object]:
    """Every leaf of nested dicts, by its key path."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    leaves: dict[tuple, object] = {}
    for key, value in tree.items():
        leaves.update(leaf_paths(value, (*prefix, key)))
    return leaves


def figures(result: dict) -> dict:
    """The part of a summary that ``ci95`` mirrors."""
    sections = ("queues", "producers", "consumers", "flows", "broker", "cost")
    return {key: result[key] for key in sections}


# --- qsim validate ------------------------------------------------------------------------------


def test_validate_prints_ok_for_a_good_file(good):
    result = qsim("validate", good)
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{good}: ok\n", "")


BAD_FILES = {
    "wrong-type": GOOD.replace("prefetch: 1", "prefetch: ten").encode(),
    "invalid-yaml": GOOD.replace("to: orders", "to: orders: now").encode(),
    "empty": b"",
    "not-utf8": b"name: caf\xe9\n",
    "self-referencing-alias": b"&loop [*loop]\n",
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_validate_explains_a_bad_file_in_one_stderr_line_and_exits_2(tmp_path, content):
    """No traceback, whatever is wrong with the file: one ``qsim: FILE...`` line, status 2."""
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = qsim("validate", path)
    lines = result.stderr.splitlines()
    assert (result.exit_code, [line.startswith(f"qsim: {path}") for line in lines]) == (
        2,
        [True],
    ), repr(result.exception)


def test_validate_reports_every_bad_file_once_and_still_confirms_the_good_ones(write_file, good):
    wrong_type = write_file("wrong-type.yaml", GOOD.replace("prefetch: 1", "prefetch: ten"))
    empty = write_file("empty.yaml", "")
    missing = good.parent / "missing.yaml"
    result = qsim("validate", wrong_type, good, empty, missing)
    assert (result.exit_code, result.stdout, result.stderr.splitlines()) == (
        2,
        f"{good}: ok\n",
        [
            f"qsim: {wrong_type}:13: consumers[0].prefetch: "
            "expected a whole number >= 0, got 'ten'",
            f"qsim: {empty}: the file is empty",
            f"qsim: {missing}: cannot read file: No such file or directory",
        ],
    )


def test_python_m_qsim_validate_writes_one_line_per_bad_file_and_no_traceback(write_file, good):
    bad = write_file("bad.yaml", GOOD.replace("mean: 20ms", "mean: lots"))
    process = python_m_qsim("validate", good, bad)
    assert (process.returncode, process.stdout, process.stderr) == (
        2,
        f"{good}: ok\n",
        f"qsim: {bad}:14: consumers[0].service_time.mean: "
        "expected a duration such as 250ms, 2s, 5m or 1h, got 'lots'\n",
    )


# --- qsim run -----------------------------------------------------------------------------------


def test_run_json_has_the_documented_top_level_keys(good):
    documented = {
        "scenario", "seed", "duration_s", "warmup_s", "replications",
        "queues", "producers", "consumers", "ci95",
    }  # fmt: skip
    assert documented <= summary(good).keys()


def test_run_json_describes_the_scenario_that_ran(good):
    result = summary(good)
    assert (result["scenario"], result["seed"], result["duration_s"], result["warmup_s"]) == (
        "tiny",
        1,
        10.0,
        0.0,
    )


@pytest.mark.parametrize(
    ("section", "name"),
    [("queues", "orders"), ("producers", "checkout"), ("consumers", "workers")],
)
def test_run_json_has_the_documented_figures_for_each_item(good, section, name):
    item = summary(good)[section][name]
    assert {key: shape(item.get(key)) for key in DOCUMENTED[section]} == DOCUMENTED[section]


def test_ci95_mirrors_every_figure_path(good):
    result = summary(good, "--replications", 3)
    assert leaf_paths(result["ci95"]).keys() == leaf_paths(figures(result)).keys()


def test_with_several_replications_every_ci95_is_an_interval_around_the_mean(good):
    result = summary(good, "--replications", 3)
    means = leaf_paths(figures(result))
    outside = {
        path: (interval, means[path])
        for path, interval in leaf_paths(result["ci95"]).items()
        if means[path] is not None  # a null figure (cost without prices) has a null interval
        and not (len(interval) == 2 and interval[0] <= means[path] <= interval[1])
    }
    assert outside == {}


def test_with_one_replication_there_is_no_interval(good):
    intervals = leaf_paths(summary(good, "--replications", 1)["ci95"])
    assert set(intervals.values()) == {None}


@pytest.mark.parametrize(
    ("option", "value", "key", "expected"),
    [
        ("--seed", 7, "seed", 7),
        ("--replications", 3, "replications", 3),
        ("--duration", "20s", "duration_s", 20.0),
        ("--duration", "1m", "duration_s", 60.0),
    ],
)
def test_command_line_options_override_the_scenario(good, option, value, key, expected):
    assert summary(good, option, value)[key] == expected


def test_a_bare_duration_on_the_command_line_is_in_seconds(good):
    """Like a bare number in a scenario file, ``--duration 20`` means 20 seconds."""
    result = qsim("run", good, "--duration", "20", "--json", "-")
    assert (result.exit_code, result.stderr) == (0, "")


def test_a_duration_that_is_not_a_duration_fails_with_status_2(good):
    result = qsim("run", good, "--duration", "fast")
    assert (result.exit_code, "got 'fast'" in result.stderr) == (2, True)


def test_run_of_a_bad_file_prints_one_line_and_nothing_else(write_file):
    bad = write_file("bad.yaml", GOOD.replace("queue: orders", "queue: order"))
    result = qsim("run", bad)
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"qsim: {bad}:11: consumers[0].queue: "
        "unknown queue 'order' (did you mean 'orders'?); known: orders\n",
    )


def test_the_same_seed_gives_byte_identical_json_across_processes(good):
    first = python_m_qsim("run", good, "--seed", 3, "--replications", 2, "--json", "-")
    second = python_m_qsim("run", good, "--seed", 3, "--replications", 2, "--json", "-")
    assert (first.returncode, first.stdout) == (0, second.stdout)


def test_a_different_seed_gives_different_figures(good):
    assert figures(summary(good, "--seed", 3)) != figures(summary(good, "--seed", 4))


def test_json_to_a_file_is_the_same_summary_as_json_to_stdout(good):
    written = good.parent / "summary.json"
    assert qsim("run", good, "--json", written).exit_code == 0
    assert json.loads(written.read_text()) == summary(good)


# --- qsim schema --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict:
    result = qsim("schema")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_schema_describes_producers_queues_and_consumers(schema):
    assert {"producers", "queues", "consumers"} <= schema["properties"].keys()


def test_schema_is_a_valid_json_schema(schema):
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_accepts_a_good_scenario(schema):
    jsonschema.validate(yaml.safe_load(GOOD), schema)


def test_schema_accepts_the_bare_value_shorthand_for_distributions(schema):
    """``service_time: 20ms`` is a valid scenario, so editors must not flag it."""
    shorthand = yaml.safe_load(GOOD.replace("{dist: exponential, mean: 20ms}", "20ms"))
    jsonschema.validate(shorthand, schema)


def test_schema_flags_an_unknown_key(schema):
    """Editors see the same typos ``qsim validate`` reports."""
    typo = yaml.safe_load(GOOD.replace("prefetch: 1", "prefech: 1"))
    assert not jsonschema.Draft202012Validator(schema).is_valid(typo)


# --- hardening: option errors, outputs, work estimates, signals ---------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--workers", "0"),
        ("run", "--precision", "0%"),
        ("run", "--precision", "nan"),
        ("run", "--precision", "1000%"),
        ("run", "--duration", "nan"),
        ("run", "--duration", "-5m"),
        ("run", "--no-such-option"),
        ("capacity", "--steps", "0"),
    ],
)
def test_an_option_error_is_one_qsim_line_with_status_2(good, args):
    result = python_m_qsim(args[0], good, *args[1:])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"qsim: {args[0]}: ")
    assert "Traceback" not in result.stderr and "Usage:" not in result.stderr


def test_an_unknown_command_is_one_qsim_line(good):
    result = python_m_qsim("simulate", good)
    assert (result.returncode, result.stderr) == (2, "qsim: No such command 'simulate'.\n")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("{tmp}", "Is a directory"),
        ("/dev/full", "not a regular file"),
        ("{tmp}/missing/summary.json", "no folder"),
    ],
)
def test_an_unwritable_json_path_is_refused_before_simulating(good, tmp_path, target, reason):
    path = target.format(tmp=tmp_path)
    scenario = good.read_text().replace("duration: 10s", "duration: 1000d")
    slow = good.with_name("slow.yaml")
    slow.write_text(scenario)  # a run of 1,000 days: refused in milliseconds, not simulated
    result = qsim("run", slow, "--json", path, "--force")
    assert result.exit_code == 2
    assert result.stderr == f"qsim: cannot write {path}: " + result.stderr.split(": ", 2)[2]
    assert reason in result.stderr


def test_a_load_no_forecast_means_is_refused(good):
    result = qsim("capacity", good, "--load", "1e308x", "--slo", "p99 latency < 1s")
    assert result.exit_code == 2
    assert result.stderr.startswith("qsim: --load '1e308x': at most 1000x")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("rate: 20/s", "rate: 1e7/s"), "needs too much memory"),
        (("rate: 20/s", "rate: 1e308/s"), "needs too much memory"),
        (("duration: 10s", "duration: 300d"), "needs too much memory"),
        (("duration: 10s", "duration: 1h\nsample_interval: 1us"), "needs too much memory"),
    ],
)
def test_a_run_of_hours_or_gibibytes_is_refused_with_its_estimate(good, change, expected):
    heavy = good.with_name("heavy.yaml")
    heavy.write_text(good.read_text().replace(*change))
    result = qsim("run", heavy)
    assert result.exit_code == 2
    assert expected in result.stderr and result.stderr.count("\n") == 1
    assert "messages x 1 replication" in result.stderr and "--force" in result.stderr


def test_replications_multiply_the_estimate(good):
    result = qsim("run", good, "--replications", "100000", "--duration", "1h")
    assert result.exit_code == 2
    assert "7.2e+04 messages x 100000 replications" in result.stderr


def test_stream_lifts_the_memory_limit_but_not_the_time_limit(good):
    heavy = good.with_name("heavy.yaml")
    heavy.write_text(good.read_text().replace("rate: 20/s", "rate: 1e9/s"))  # 1e10 messages
    result = qsim("run", heavy, "--stream")
    assert result.exit_code == 2 and "would take too long" in result.stderr


def test_the_estimate_follows_onward_publishing_and_exchange_bindings():
    from conftest import scenario_from

    from qsim.estimate import estimate

    scenario = scenario_from(
        """
        name: pipeline
        duration: 100s
        producers: [{name: p, to: fan, rate: 10/s}]
        exchanges: [{name: fan, type: fanout, bindings: [{queue: a}, {queue: b}]}]
        queues: [{name: a}, {name: b}, {name: c}]
        consumers:
          - {name: ca, queue: a, service_time: 1ms, publish: [{to: c, count: 3}]}
          - {name: cb, queue: b, service_time: 1ms}
          - {name: cc, queue: c, service_time: 1ms}
        """
    )
    # 1,000 published, copied to a and b (2,000), and a's 1,000 each publish 3 to c
    assert estimate(scenario).messages == pytest.approx(2_000 + 3_000)


SLOW = """\
name: slow
duration: 10h
replications: 4
producers: [{name: p, to: q, rate: 200/s}]
queues: [{name: q}]
consumers: [{name: c, queue: q, service_time: 4ms}]
"""


def _live_processes(session: int) -> list[str]:
    """Processes of ``session`` still running (zombies waiting to be reaped do not count)."""
    listing = subprocess.run(
        ["ps", "-o", "stat=,args=", "-s", str(session)], capture_output=True, text=True, check=False
    )
    return [line for line in listing.stdout.splitlines() if not line.lstrip().startswith("Z")]


def _ctrl_c_as_on_a_terminal() -> None:
    """In the child before it starts: Ctrl-C at its default, as in a shell on a terminal. A
    suite started in the background (``make test &``, nohup) ignores SIGINT, which its children
    inherit, and Python then installs no handler for it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("command", "workers", "signal_name", "status"),
    [
        ("run", "1", "SIGINT", 130),
        ("run", "2", "SIGINT", 130),
        ("capacity", "2", "SIGINT", 130),
        ("run", "2", "SIGTERM", 143),
        ("run", "1", "SIGHUP", 129),
    ],
)
def test_a_signal_stops_a_run_within_seconds_and_ends_its_workers(
    write_file, command, workers, signal_name, status
):
    import os
    import signal
    import time

    path = write_file("slow.yaml", SLOW)
    extra = ["--slo", "p99 latency < 1s", "--load", "1x"] if command == "capacity" else []
    process = subprocess.Popen(
        [sys.executable, "-m", "qsim", command, str(path), "--workers", workers, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_ctrl_c_as_on_a_terminal,
    )  # fmt: skip
    try:
        time.sleep(3)  # workers started and simulating
        signum = signal.Signals[signal_name]
        if signum == signal.SIGINT:
            os.killpg(process.pid, signum)  # Ctrl-C reaches the whole foreground process group
        else:
            process.send_signal(signum)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=10)
    finally:  # a run that did not stop must not simulate on beside the other tests
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert time.monotonic() - sent < 5
    assert process.returncode == status
    assert stderr.endswith("nothing was written\n") and stderr.count("qsim:") == 1
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 5  # terminated workers may take a moment to go
    while _live_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_processes(process.pid) == []


def test_fit_refuses_a_device_and_service_times_beyond_100_years(tmp_path):
    assert "not a regular file" in qsim("fit", "/dev/zero").stderr
    huge = tmp_path / "huge.csv"
    huge.write_text("1e308\n1.5e308\n1.7e308\n")
    result = qsim("fit", huge)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"qsim: {huge}:3: a service time above 100 years")


def test_version_is_printed_from_the_repository_root_too():
    """``python -m qsim --version`` in a clone, where an editable install leaves its egg-info
    beside the installed metadata, prints the version (click's own lookup raised there)."""
    from pathlib import Path

    import qsim

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "qsim", "--version"], cwd=root, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"qsim, version {qsim.__version__}\n",
        "",
    )
