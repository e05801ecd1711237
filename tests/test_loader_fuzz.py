"""Fuzzing the loader: whatever a scenario file holds, loading it gives a Scenario or one line.

The contract (README, "Bad input never gives a traceback"): :func:`qsim.scenario.load_scenario`
either returns a :class:`~qsim.scenario.Scenario` or raises :class:`~qsim.errors.ScenarioError`
whose text is one line starting with the file name; never another exception, never a hang. A
returned scenario holds only finite numbers.

Each file is loaded in a separate worker process with a CPU-time bound (and a generous wall-time
one for hangs that do not spin), so that a hang inside C code (a regular expression, say), which
no signal can interrupt, is caught too, however loaded the machine: the worker is killed and
restarted. Inputs: random text, random bytes, a rich good scenario with one value at
a time made wrong (every key, then random ones), deep nesting, unknown references, dead-letter
cycles, and YAML anchors, aliases and merge keys. The examples are derandomized and no example
database is kept, so CI sees the same examples on every run.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import os
import string
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SECONDS = 5
"""Bound on loading one file, in CPU seconds of the worker: a hang in a regular expression or a
parser spins, and CPU time does not stretch with the machine's load as wall time does."""
WALL_SECONDS = 120
"""Wall-time bound on loading one file, for a hang that does not spin (a read that blocks)."""
POLL_SECONDS = 0.05
"""How often the worker's CPU time is read while it loads."""
START_SECONDS = 120
"""Bound on a loading worker's start (it imports qsim first: slow on a busy machine, not a hang)."""
READY = "ready"

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

GOOD: dict[str, Any] = {
    "name": "shop",
    "description": "every section, for the fuzzer to break",
    "seed": 3,
    "duration": "30s",
    "warmup": "5s",
    "replications": 2,
    "sample_interval": "1s",
    "producers": [
        {
            "name": "checkout",
            "to": "orders",
            "rate": "5/s",
            "arrivals": "poisson",
            "count": 100,
            "size": {"dist": "pareto", "alpha": 1.5, "scale": "1KB"},
            "priority": {"dist": "uniform", "low": 0, "high": 5},
            "ttl": "20s",
            "persistent": True,
            "on_unavailable": "retry",
            "buffer": 10,
        },
        {
            "name": "events",
            "to": "events",
            "routing_key": {"keys": {"order.created": 0.7, "order.paid": 0.3}},
            "schedule": [{"at": "0s", "rate": "1/s"}, {"at": "10s", "rate": "3/min"}],
        },
        {
            "name": "ledger",
            "to": "orders",
            "interarrival": {"dist": "lognormal", "mean": "500ms", "cv": 2},
            "arrivals": "constant",
        },
    ],
    "exchanges": [
        {
            "name": "events",
            "type": "topic",
            "bindings": [{"queue": "audit", "key": "order.*"}, {"queue": "orders", "key": "#"}],
        }
    ],
    "queues": [
        {
            "name": "orders",
            "type": "quorum",
            "max_length": 100,
            "overflow": "reject-publish",
            "message_ttl": "1m",
            "dead_letter": "orders.retry",
            "delivery_limit": 3,
            "single_active_consumer": False,
            "durable": True,
        },
        {
            "name": "orders.retry",
            "message_ttl": "5s",
            "dead_letter": "orders",
            "max_priority": 5,
            "overflow": "reject-publish-dlx",
        },
        {"name": "audit", "durable": False},
    ],
    "consumers": [
        {
            "name": "workers",
            "queue": "orders",
            "replicas": 3,
            "prefetch": 5,
            "concurrency": 2,
            "service_time": {"dist": "gamma", "mean": "200ms", "cv": 1.5},
            "ack": "manual",
            "failures": {"nack_probability": 0.01, "poison": 0.001, "requeue": False},
            "crash": {
                "mtbf": {"dist": "exponential", "mean": "10m"},
                "restart": {"dist": "erlang", "k": 2, "mean": "5s"},
            },
            "consumer_timeout": "30m",
            "publish": [
                {
                    "to": "events",
                    "routing_key": "order.done",
                    "probability": 0.5,
                    "count": 2,
                    "persistent": False,
                }
            ],
        },
        {
            "name": "auditor",
            "queue": "audit",
            "ack": "auto",
            "service_time": {"dist": "weibull", "shape": 1.5, "scale": "100ms"},
        },
        {
            "name": "retrier",
            "queue": "orders.retry",
            "replicas": 0,
            "service_time": {"dist": "empirical", "values": [0.1, 0.2]},
        },
    ],
    "outages": [
        {"at": "20s", "for": "2s"},
        {"mtbf": "1h", "mttr": {"dist": "normal", "mean": "2s", "sd": "1s"}},
    ],
    "network": {"latency": {"dist": "constant", "value": "1ms"}},
}
"""A valid scenario with every section and most keys (a retry-with-delay dead-letter cycle)."""

WRONG_VALUES: list[list[Any]] = [
    [None],
    [10**400, -(10**400)],
    [-1, 0, 2.5, 1e308, -1e308, math.inf, math.nan, True],
    ["", "-5s", "1e400s", "five"],
    [[], [1, "a"], {}, {"dist": "constant"}, {"x": {"y": [None]}}],
]
"""Wrong values by kind (null, integers beyond floats, numbers, strings, containers): every key
of :data:`GOOD` gets one of each kind, rotating within the kind from key to key."""

NASTY_STRINGS = [
    "", " ", "\t", "-5s", "-1", "1e400s", "1e308d", "1e308/s", "0/s", "10 fortnights",
    "5/fortnight", "∞", "NaN", ".inf", "0x10", "1_000", "2001-12-14", "~", "null", "yes",
    "a\nb", "\x00", "\x1b[31m", "\u2028", "😀", "'", '"', "*", "&", "#", "%", "@", "{", "[",
]  # fmt: skip
SPECIAL_VALUES = [
    None, True, False, 0, -1, 2**63, 10**400, -(10**400), 1e308, -1e308, 5e-324,
    math.inf, -math.inf, math.nan, *NASTY_STRINGS,
]  # fmt: skip

leaves = st.one_of(
    st.sampled_from(SPECIAL_VALUES),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
)
keys = st.one_of(st.text(max_size=8), st.sampled_from(["dist", "keys", "name", "value"]))
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=3)
    ),
    max_leaves=8,
)
"""Any value a YAML file can hold, biased towards the hostile."""


# --- loading in a worker process, with a time bound ---------------------------------------------


def numbers_in(data: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number in nested dicts and lists, with its path."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from numbers_in(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from numbers_in(value, f"{path}[{index}]")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield path, data


def load_outcome(path: str) -> tuple[str, str]:
    """Load ``path``: ("ok", non-finite numbers of the scenario), ("error", the message), or
    ("crash", the exception and where it was raised)."""
    from qsim.errors import ScenarioError
    from qsim.scenario import load_scenario

    try:
        dumped = load_scenario(path).model_dump(mode="python", by_alias=True)
    except ScenarioError as exc:
        return "error", str(exc)
    except BaseException as exc:  # anything else is the bug this module looks for
        where = traceback.extract_tb(exc.__traceback__)[-1]
        text = f"{type(exc).__name__}: {str(exc)[:300]}"
        return "crash", f"{text} (at {Path(where.filename).name}:{where.lineno})"
    floats = [(p, v) for p, v in numbers_in(dumped) if isinstance(v, float)]
    return "ok", "; ".join(f"{p} = {v}" for p, v in floats if not math.isfinite(v))


def serve(connection: Any) -> None:
    """The worker: load each path it is sent and send back the outcome."""
    sys.setrecursionlimit(1000)  # as in a plain `qsim` process
    connection.send(READY)  # imported: from here on only loading is timed
    while True:
        try:
            path = connection.recv()
        except EOFError:
            return
        connection.send(load_outcome(path))


class Loader:
    """Loads scenario files in a worker process; one that takes longer than :data:`SECONDS` is
    reported as a hang and the worker replaced."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self.connection, child = self._context.Pipe()
        self.process = self._context.Process(target=serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        if not self.connection.poll(START_SECONDS) or self.connection.recv() != READY:
            raise RuntimeError(f"the loading process did not start within {START_SECONDS} s")

    def _restart(self) -> None:
        self.process.kill()
        self.process.join()
        self.connection.close()
        self._start()

    def load(self, path: Path) -> tuple[str, str]:
        """The outcome of loading ``path`` (see :func:`load_outcome`), or ("hang", ...)."""
        self.connection.send(str(path))
        hang = self._wait()
        if hang:
            self._restart()
            return "hang", hang
        try:
            return self.connection.recv()
        except EOFError:
            code = self.process.exitcode
            self._restart()
            return "crash", f"the loading process died (exit code {code})"

    def _wait(self) -> str:
        """Wait for the worker's answer: "" once it is there, or what it overran."""
        start_cpu, start_wall = self._cpu_seconds(), time.monotonic()
        while not self.connection.poll(POLL_SECONDS):
            if self._cpu_seconds() - start_cpu > SECONDS:
                return f"no answer within {SECONDS} s of CPU time"
            if time.monotonic() - start_wall > WALL_SECONDS:
                return f"no answer within {WALL_SECONDS} s of wall time"
        return ""

    def _cpu_seconds(self) -> float:
        """The worker's CPU time so far (user and system, from /proc; wall time where there is
        no /proc, which makes :data:`SECONDS` a wall-time bound)."""
        try:
            with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return time.monotonic()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.connection.close()
        self.process.kill()
        self.process.join()


@pytest.fixture(scope="module")
def loader() -> Iterator[Loader]:
    worker = Loader()
    yield worker
    worker.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def problem(loader: Loader, path: Path) -> str | None:
    """What is wrong with loading ``path`` (None if it loads or gives a good one-line error)."""
    kind, detail = loader.load(path)
    if kind == "ok":
        return f"loaded with non-finite numbers: {detail}" if detail else None
    if kind == "error":
        if "\n" in detail or "\r" in detail:
            return f"error of more than one line: {detail!r}"
        if not detail.startswith(f"{path}:"):
            return f"error not starting with the file name: {detail!r}"
        return None
    return f"{kind}: {detail}"


def write(folder: Path, content: str | bytes, name: str = "scenario.yaml") -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def dump(data: Any) -> str:
    """YAML text of ``data`` (with libyaml's emitter where available: it is faster)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)


def check_text(loader: Loader, folder: Path, content: str | bytes) -> None:
    found = problem(loader, write(folder, content))
    assert found is None, found


def test_the_good_scenario_loads(loader, folder):
    """The base every mutation below starts from is valid."""
    assert loader.load(write(folder, dump(GOOD))) == ("ok", "")


# --- wrong values at every key ------------------------------------------------------------------


def paths_of(data: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every value in nested dicts and lists (containers included)."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from paths_of(value, (*prefix, key))


PATHS = list(paths_of(GOOD))


def replaced(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def test_a_wrong_value_at_any_key_loads_or_gives_one_line(loader, folder):
    """Every key of the good scenario, set to a value of each wrong kind (null, an integer
    beyond floats like 10**400, a number such as -1, 1e308 or NaN, a string, a list or
    mapping): a Scenario or a one-line error. All failures are listed, not just the first."""
    failures = []
    for index, path in enumerate(PATHS):
        for kind in WRONG_VALUES:
            value = kind[index % len(kind)]
            found = problem(loader, write(folder, dump(replaced(path, value))))
            if found is not None:
                failures.append(f"{path} = {value!r:.40}: {found}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """The good scenario with 1-3 random changes: a value replaced by a random one, a key
    removed, or an unknown key added."""
    data = copy.deepcopy(GOOD)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(paths_of(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        else:
            parent.append(draw(values))
    return data


@FUZZ
@given(mutated_scenarios())
def test_random_changes_to_a_good_scenario_load_or_give_one_line(loader, folder, data):
    """Random values at random keys, removed keys, unknown keys: a Scenario or one line."""
    check_text(loader, folder, dump(data))


# --- random text and bytes ----------------------------------------------------------------------

YAML_ALPHABET = string.ascii_letters + string.digits + " \t\n:-[]{},#&*!|>'\"%@`?.~_/\\"


@FUZZ
@given(st.one_of(st.text(), st.text(alphabet=YAML_ALPHABET, max_size=200)))
def test_random_text_loads_or_gives_one_line(loader, folder, text):
    """Random unicode, and random text made of YAML's punctuation: never a traceback."""
    check_text(loader, folder, text)


@FUZZ
@given(st.binary(max_size=200), st.booleans())
def test_random_bytes_load_or_give_one_line(loader, folder, data, raw):
    """Random bytes, written as they are (mostly not UTF-8) or decoded as latin-1 and written
    as UTF-8 text (control characters, NUL, C1 controls): never a traceback."""
    check_text(loader, folder, data if raw else data.decode("latin-1"))


@FUZZ
@given(st.sampled_from(PATHS[:40]), st.text(max_size=30))
def test_random_unicode_at_a_key_loads_or_gives_one_line(loader, folder, path, text):
    """Random unicode as the value of a key (names included: they are echoed in errors)."""
    check_text(loader, folder, dump(replaced(path, text)))


# --- structure: nesting, references, cycles, anchors ---------------------------------------------


def flow_lists(depth: int) -> str:
    """``[[[...]]]``"""
    return "[" * depth + "]" * depth


def flow_maps(depth: int) -> str:
    """``{a: {a: ... 1}}``"""
    return "{a: " * depth + "1" + "}" * depth


def block_lists(depth: int) -> str:
    """Block sequences, each item a sequence indented two more spaces."""
    return "".join(f"\n{' ' * (2 * level + 2)}- " for level in range(depth)) + "x"


@pytest.mark.parametrize(
    ("nest", "depth"),
    [(nest, depth) for nest in (flow_lists, flow_maps) for depth in (10, 100, 1000, 10_000)]
    + [(block_lists, depth) for depth in (10, 100, 1000)],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_deep_nesting_loads_or_gives_one_line(loader, folder, nest, depth):
    """A value nested ``depth`` levels deep (flow lists, flow mappings, block lists): a Scenario
    or one line, not a RecursionError."""
    text = dump(GOOD).replace("description:", f"description: {nest(depth)}\nx:", 1)
    check_text(loader, folder, text)


QUEUE_NAMES = ["orders", "orders.dlq", "audit", "retry"]
UNKNOWN_NAMES = ["order", "Orders", "nowhere", "orders.dql"]


@st.composite
def referencing_scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A scenario whose references (``to``, ``queue``, ``dead_letter``, bindings) name random
    queues, known or not, with dead-letter graphs of any shape (self-loops and cycles too);
    and whether every reference is known."""
    queues = draw(st.lists(st.sampled_from(QUEUE_NAMES), min_size=1, max_size=4, unique=True))
    names = st.one_of(st.sampled_from(queues), st.sampled_from(UNKNOWN_NAMES))
    known = True

    def name() -> str:
        nonlocal known
        chosen = draw(names)
        known = known and chosen in queues
        return chosen

    queue_specs = []
    for queue in queues:
        spec: dict[str, Any] = {"name": queue}
        if draw(st.booleans()):
            spec["dead_letter"] = name()
        queue_specs.append(spec)
    exchange = {"name": "x", "type": "fanout", "bindings": [{"queue": name()}]}
    data = {
        "name": "references",
        "duration": "1m",
        "producers": [{"name": "p", "to": draw(st.sampled_from(["x", *queues])), "rate": 1}],
        "exchanges": [exchange],
        "queues": queue_specs,
        "consumers": [{"name": "c", "queue": name(), "service_time": "10ms"}],
    }
    return data, known


@FUZZ
@given(referencing_scenarios())
def test_references_load_exactly_when_every_name_is_known(loader, folder, case):
    """Dead-letter cycles (and self-loops) are valid; an unknown queue is a one-line error that
    names it. The scenario loads if and only if every reference is known."""
    data, known = case
    path = write(folder, dump(data))
    kind, detail = loader.load(path)
    assert kind == ("ok" if known else "error"), detail
    if not known:
        assert problem(loader, path) is None
        assert "unknown queue" in detail, detail


ANCHORED = """\
name: &name aliased
duration: &long 30s
producers:
  - &producer {name: p, to: orders, rate: 5/s}
  - <<: *producer
    name: q
queues:
  - &queue {name: orders, message_ttl: *long}
consumers:
  - &pool
    name: workers
    queue: orders
    service_time: &fast 10ms
  - <<: *pool
    name: more
"""
"""A valid scenario that uses anchors, aliases and merge keys."""


ALIASES = [
    "*name", "*long", "*producer", "*queue", "*pool", "*fast", "*undefined", "&again 1",
    "&name 2", "<<: *queue",
]  # fmt: skip
"""Values put in place of one line's value: aliases to each anchor, an undefined one, a
duplicate anchor, a merge key."""

SELF_CONTAINING = ["loop: &me [*me]", "loop: &me {a: *me}", "loop: &me [1, [2, *me]]"]
"""Anchors whose node contains an alias to itself."""


@st.composite
def aliased_texts(draw: st.DrawFn) -> str:
    """:data:`ANCHORED` with one line's value replaced by an alias (defined, undefined, or
    to the wrong kind of node), or with an alias bomb / self-referencing anchor added."""
    lines = ANCHORED.splitlines()
    choice = draw(st.sampled_from(["alias", "bomb", "self"]))
    if choice == "alias":
        index = draw(st.integers(0, len(lines) - 1))
        key, _, _value = lines[index].partition(":")
        alias = draw(st.sampled_from(ALIASES))
        lines[index] = f"{key}: {alias}"
    elif choice == "bomb":
        fan = draw(st.integers(1, 12))
        depth = draw(st.integers(1, 9))
        lines.append(f"description: &l0 [{', '.join(['x'] * fan)}]")
        for level in range(1, depth + 1):
            lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fan)}]")
    else:
        lines.append(draw(st.sampled_from(SELF_CONTAINING)))
    return "\n".join(lines) + "\n"


def test_the_anchored_scenario_loads(loader, folder):
    """Anchors, aliases and merge keys are ordinary YAML and load."""
    assert loader.load(write(folder, ANCHORED)) == ("ok", "")


@FUZZ
@given(aliased_texts())
def test_anchors_and_aliases_load_or_give_one_line(loader, folder, text):
    """Aliases in odd places, undefined aliases, alias bombs (up to 12**9 values) and anchors
    that contain themselves: a Scenario or one line, quickly."""
    check_text(loader, folder, text)


# --- known hostile inputs, one by one -----------------------------------------------------------

BASE = dump(GOOD)


def good_with(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


HOSTILE = {
    "int-beyond-float-duration": good_with("duration: 30s", "duration: 1" + "0" * 400),
    "int-beyond-float-probability": good_with("probability: 0.5", "probability: 1" + "0" * 400),
    "int-beyond-float-weight": good_with("order.paid: 0.3", "order.paid: 1" + "0" * 400),
    "int-beyond-float-empirical": good_with("- 0.1", "- 1" + "0" * 400),
    "int-beyond-float-weibull": good_with("shape: 1.5", "shape: 1" + "0" * 400),
    "int-beyond-float-outage": good_with("at: 20s", "at: 1" + "0" * 400),
    "int-beyond-str-digits": good_with("seed: 3", "seed: 1" + "0" * 5000),
    "invalid-date": good_with("name: shop", "name: 2001-13-01"),
    "dist-is-a-list": good_with("dist: gamma", "dist: [gamma]"),
    "dist-is-a-mapping": good_with("dist: gamma", "dist: {gamma: 1}"),
    "nul-character": good_with("name: shop", "name: sh\x00op"),
    "control-character": good_with("name: shop", "name: sh\x07op"),
    "newline-in-unknown-key": good_with("name: shop", 'name: shop\n"col\\nour": blue'),
    "newline-in-known-name": good_with("- name: audit", '- name: "aud\\nit"'),
    "newline-in-trace-path": good_with("rate: 5/s", 'trace: "no\\nfile.csv"'),
    "nan-routing-weight": good_with("order.paid: 0.3", "order.paid: .nan"),
    "infinite-routing-weight": good_with("order.paid: 0.3", "order.paid: .inf"),
    "deep-flow-list": good_with("name: shop", "name: " + "[" * 2000 + "]" * 2000),
    "long-digit-run-duration": good_with("duration: 30s", "duration: '" + "1" * 20_000 + "x'"),
}
"""Inputs found to break the loader, each a minimal change to the good scenario."""


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_known_hostile_input_loads_or_gives_one_line(loader, folder, text):
    """Each known hostile input: a Scenario with finite numbers, or one line, within 5 s."""
    check_text(loader, folder, text)


# --- through the command line -------------------------------------------------------------------

MALFORMED_FILES = {
    "syntax.yaml": "name: [unclosed\n",
    "huge-int.yaml": HOSTILE["int-beyond-float-duration"],
    "bad-date.yaml": HOSTILE["invalid-date"],
    "nul.yaml": HOSTILE["nul-character"],
    "newline.yaml": HOSTILE["newline-in-known-name"],
    "dist-list.yaml": HOSTILE["dist-is-a-list"],
    "deep.yaml": HOSTILE["deep-flow-list"],
}


def test_validate_on_malformed_files_says_one_line_and_exits_2(tmp_path):
    """`python -m qsim validate FILE` on each malformed file: exit status 2, one line on stderr
    starting with `qsim: FILE`, and no traceback."""
    for name, text in MALFORMED_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    runs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "qsim", "validate", name],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in MALFORMED_FILES
    }  # fmt: skip
    failures = []
    for name, process in runs.items():
        _, stderr = process.communicate(timeout=60)
        lines = stderr.splitlines()
        ok = (
            process.returncode == 2
            and len(lines) == 1
            and lines[0].startswith(f"qsim: {name}")
            and "Traceback" not in stderr
        )
        if not ok:
            last = lines[-1] if lines else ""
            failures.append(f"{name}: exit {process.returncode}, {len(lines)} lines, last {last!r}")
    assert not failures, "\n".join(failures)


# --- files that are not files, too large, or hold numbers that are not numbers -------------------

TRACED = """\
name: traced
duration: 10s
producers: [{name: p, to: q, trace: times.csv}]
queues: [{name: q}]
consumers: [{name: c, queue: q, service_time: 100ms}]
"""


def _refusal(path: Path) -> str:
    """The one-line error loading ``path`` gives (the test fails if it loads)."""
    from qsim.errors import QsimError
    from qsim.scenario import load_scenario

    with pytest.raises(QsimError) as refused:
        load_scenario(path)
    message = str(refused.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_as_scenario_is_refused_before_it_is_read(device):
    assert "not a regular file" in _refusal(Path(device))


def test_a_named_pipe_with_no_writer_is_refused_not_waited_on(tmp_path):
    import os

    pipe = tmp_path / "scenario.yaml"
    os.mkfifo(pipe)
    assert "not a regular file" in _refusal(pipe)


def test_a_trace_that_is_a_device_is_refused_at_its_key(tmp_path):
    (tmp_path / "scenario.yaml").write_text(TRACED.replace("times.csv", "/dev/zero"))
    message = _refusal(tmp_path / "scenario.yaml")
    assert "producers[0].trace" in message and "not a regular file" in message


def test_a_file_over_the_size_limit_is_refused_with_the_way_to_raise_it(tmp_path, monkeypatch):
    monkeypatch.setenv("QSIM_MAX_FILE_BYTES", "1000")
    (tmp_path / "times.csv").write_text("0.5\n" * 1000)  # 4,000 bytes
    (tmp_path / "scenario.yaml").write_text(TRACED)
    message = _refusal(tmp_path / "scenario.yaml")
    assert "above the 1000 B limit" in message and "QSIM_MAX_FILE_BYTES" in message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_trace_time_that_is_not_finite_is_refused_with_its_line(tmp_path, value):
    (tmp_path / "times.csv").write_text(f"0.5\n1.0\n{value}\n")
    (tmp_path / "scenario.yaml").write_text(TRACED)
    assert f"times.csv:3: expected a finite publish time, got {value!r}" in _refusal(
        tmp_path / "scenario.yaml"
    )


@pytest.mark.parametrize("percentile", [150, 0, -5])
def test_an_slo_percentile_outside_0_to_100_is_refused(tmp_path, percentile):
    text = TRACED.replace("trace: times.csv", "rate: 1/s")
    (tmp_path / "scenario.yaml").write_text(
        text + f"slo: {{latency: 1s, percentile: {percentile}}}\n"
    )
    message = _refusal(tmp_path / "scenario.yaml")
    assert "slo.percentile" in message and "above 0 and at most 100" in message


def test_a_duration_beyond_100_years_is_refused(tmp_path):
    (tmp_path / "scenario.yaml").write_text(TRACED.replace("duration: 10s", "duration: 100000d"))
    assert "at most 100 years" in _refusal(tmp_path / "scenario.yaml")
