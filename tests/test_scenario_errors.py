"""Every bad scenario gives one located line, ``FILE:LINE: key.path: message``, never a traceback.

Each test writes ``scenario.yaml`` into a temporary working folder and loads it with
:func:`qsim.scenario.load_scenario`, so messages read ``scenario.yaml:LINE: ...`` and files the
scenario names (traces, empirical samples) sit next to it. Line numbers count from the first line
of each YAML text.
"""

import re
import textwrap
from pathlib import Path

import pytest
from conftest import wall_time_limit

from qsim.distributions import REGISTRY
from qsim.errors import ScenarioError
from qsim.scenario import load_scenario

GOOD = """\
name: shop
duration: 10s
producers:
  - name: checkout
    to: orders
    rate: 5/s
queues:
  - name: orders
consumers:
  - name: workers
    queue: orders
    prefetch: 10
    service_time: 10ms
"""


@pytest.fixture
def error_in(tmp_path, monkeypatch):
    """Load a scenario text from ``scenario.yaml`` in a fresh working folder; return its error."""
    monkeypatch.chdir(tmp_path)

    def load(text: str) -> ScenarioError:
        Path("scenario.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        with pytest.raises(ScenarioError) as caught:
            load_scenario("scenario.yaml")
        return caught.value

    return load


def good_with(old: str, new: str) -> str:
    """The good scenario with one piece of text replaced (the line numbers of GOOD still apply
    above the replacement)."""
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def test_the_good_scenario_loads(tmp_path):
    """The baseline the other tests break in one place."""
    path = tmp_path / "scenario.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_scenario(path).consumers[0].prefetch == 10


# --- values of the wrong type or unit ---------------------------------------------------------


def test_a_value_of_the_wrong_type_is_reported_at_its_key(error_in):
    error = error_in(good_with("prefetch: 10", "prefetch: ten"))
    assert str(error) == (
        "scenario.yaml:12: consumers[0].prefetch: expected a whole number >= 0, got 'ten'"
    )


def test_the_error_carries_file_line_key_path_and_message_as_attributes(error_in):
    error = error_in(good_with("prefetch: 10", "prefetch: ten"))
    assert (error.file, error.line, error.path, error.message) == (
        "scenario.yaml",
        12,
        ("consumers", 0, "prefetch"),
        "expected a whole number >= 0, got 'ten'",
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "duration: 10s",
            "duration: 10 fortnights",
            "scenario.yaml:2: duration: "
            "expected a duration such as 250ms, 2s, 5m or 1h, got '10 fortnights'",
        ),
        (
            "rate: 5/s",
            "rate: 5/fortnight",
            "scenario.yaml:6: producers[0].rate: "
            "expected a rate such as 50/s, 3000/min or 120/h, got '5/fortnight'",
        ),
        (
            "  - name: orders\n",
            "  - name: orders\n    message_ttl: 1 fortnight\n",
            "scenario.yaml:9: queues[0].message_ttl: "
            "expected a duration such as 250ms, 2s, 5m or 1h, got '1 fortnight'",
        ),
        (
            "service_time: 10ms",
            "service_time: 10 fortnights",
            "scenario.yaml:13: consumers[0].service_time: "
            "expected a duration such as 250ms, 2s, 5m or 1h, got '10 fortnights'",
        ),
        (
            "service_time: 10ms",
            "service_time: {dist: exponential, mean: 10 fortnights}",
            "scenario.yaml:13: consumers[0].service_time.mean: "
            "expected a duration such as 250ms, 2s, 5m or 1h, got '10 fortnights'",
        ),
    ],
    ids=["duration", "producer-rate", "queue-ttl", "service-time", "distribution-parameter"],
)
def test_a_bad_unit_is_reported_at_its_key_in_every_section(error_in, old, new, expected):
    assert str(error_in(good_with(old, new))) == expected


# --- unknown keys and names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "duration: 10s",
            "duraton: 10s",
            "scenario.yaml:2: duraton: unknown key (did you mean 'duration'?)",
        ),
        (
            "    rate: 5/s\n",
            "    rate: 5/s\n    sise: 4KB\n",
            "scenario.yaml:7: producers[0].sise: unknown key (did you mean 'size'?)",
        ),
        (
            "  - name: orders\n",
            "  - name: orders\n    max_lenght: 100\n",
            "scenario.yaml:9: queues[0].max_lenght: unknown key (did you mean 'max_length'?)",
        ),
        (
            "prefetch: 10",
            "prefech: 10",
            "scenario.yaml:12: consumers[0].prefech: unknown key (did you mean 'prefetch'?)",
        ),
        (
            "service_time: 10ms",
            "service_time: 10ms\n    failures: {nack_probabilty: 0.1}",
            "scenario.yaml:14: consumers[0].failures.nack_probabilty: "
            "unknown key (did you mean 'nack_probability'?)",
        ),
    ],
    ids=["top-level", "producer", "queue", "consumer", "nested"],
)
def test_an_unknown_key_suggests_the_closest_known_one(error_in, old, new, expected):
    assert str(error_in(good_with(old, new))) == expected


def test_an_unknown_key_with_no_close_match_makes_no_suggestion(error_in):
    error = error_in(good_with("duration: 10s", "duration: 10s\ncolour: blue"))
    assert str(error) == "scenario.yaml:3: colour: unknown key"


def test_an_unknown_distribution_name_lists_the_known_ones(error_in):
    error = error_in(good_with("service_time: 10ms", "service_time: {dist: poison, mean: 1s}"))
    assert str(error) == (
        "scenario.yaml:13: consumers[0].service_time: "
        f"unknown distribution 'poison'; known: {', '.join(REGISTRY)}"
    )


# --- exchanges and routing keys ----------------------------------------------------------------


def test_a_consistent_hash_binding_key_that_is_no_weight_is_reported_at_the_key(error_in):
    """The plugin takes each binding key as the queue's weight: a whole number from 1."""
    hashed = (
        "exchanges:\n"
        "  - name: hashed\n"
        "    type: x-consistent-hash\n"
        "    bindings:\n"
        "      - {queue: orders, key: 1}\n"
        "      - {queue: orders, key: 0}\n"
        "queues:\n"
    )
    error = error_in(good_with("queues:\n", hashed))
    assert str(error) == (
        "scenario.yaml:12: exchanges[0].bindings[1].key: an x-consistent-hash binding key is the "
        "queue's weight, a whole number from 1 to 10,000; got '0'"
    )


@pytest.mark.parametrize(
    ("routing_key", "expected"),
    [
        (
            "{zipf: {keys: 100, s: -1}}",
            "producers[0].routing_key.zipf.s: expected an exponent s >= 0 (0 is uniform), got -1",
        ),
        (
            "{uniform: 0}",
            "producers[0].routing_key.uniform: expected a whole number from 1 to 10000000, got 0",
        ),
        (
            "{normal: 3}",
            "producers[0].routing_key: expected a key, {keys: {KEY: weight, ...}}, {uniform: N} "
            "or {zipf: {keys: N, s: S}}, got {'normal': 3}",
        ),
    ],
    ids=["zipf-exponent", "uniform-count", "unknown-form"],
)
def test_a_bad_key_space_is_reported_at_its_key(error_in, routing_key, expected):
    error = error_in(
        good_with("    rate: 5/s\n", f"    rate: 5/s\n    routing_key: {routing_key}\n")
    )
    assert str(error) == f"scenario.yaml:7: {expected}"


# --- references between sections ---------------------------------------------------------------


def test_a_producer_publishing_to_a_missing_queue_suggests_the_closest(error_in):
    error = error_in(good_with("to: orders", "to: order"))
    assert str(error) == (
        "scenario.yaml:5: producers[0].to: unknown queue or exchange 'order' "
        "(did you mean 'orders'?); known: orders"
    )


def test_a_consumer_of_a_missing_queue_suggests_the_closest(error_in):
    error = error_in(good_with("queue: orders", "queue: ordres"))
    assert str(error) == (
        "scenario.yaml:11: consumers[0].queue: unknown queue 'ordres' (did you mean 'orders'?); "
        "known: orders"
    )


def test_a_dead_letter_queue_that_does_not_exist_suggests_the_closest(error_in):
    error = error_in(
        good_with(
            "  - name: orders\n",
            "  - name: orders\n    dead_letter: orders-dql\n  - name: orders-dlq\n",
        )
    )
    assert str(error) == (
        "scenario.yaml:9: queues[0].dead_letter: unknown queue 'orders-dql' "
        "(did you mean 'orders-dlq'?); known: orders, orders-dlq"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "queues:\n",
            "  - {name: checkout, to: orders, rate: 1/s}\nqueues:\n",
            "scenario.yaml:7: producers[1].name: duplicate name 'checkout'",
        ),
        (
            "  - name: orders\n",
            "  - name: orders\n  - name: orders\n",
            "scenario.yaml:9: queues[1].name: duplicate name 'orders'",
        ),
        (
            "consumers:\n",
            "consumers:\n  - {name: workers, queue: orders, service_time: 1s}\n",
            "scenario.yaml:11: consumers[1].name: duplicate name 'workers'",
        ),
    ],
    ids=["producers", "queues", "consumers"],
)
def test_a_duplicate_name_is_reported_at_its_second_use(error_in, old, new, expected):
    assert str(error_in(good_with(old, new))) == expected


# --- YAML itself --------------------------------------------------------------------------------


def test_a_duplicate_yaml_key_is_an_error_not_silently_the_last_value(error_in):
    error = error_in(good_with("    prefetch: 10\n", "    prefetch: 10\n    prefetch: 1\n"))
    assert str(error) == "scenario.yaml:13: consumers[0].prefetch: duplicate key"


def test_invalid_yaml_syntax_is_reported_at_its_line(error_in):
    error = error_in(good_with("to: orders", "to: orders: now"))
    assert str(error) == "scenario.yaml:5: invalid YAML: mapping values are not allowed here"


def test_a_second_yaml_document_says_a_scenario_is_a_single_document(error_in):
    """PyYAML's problem text alone ('but found another document') does not say what is wrong."""
    error = error_in(GOOD + "---\nname: other\n")
    assert re.fullmatch(r"scenario\.yaml:14: invalid YAML: .*single document.*", str(error))


@pytest.mark.parametrize(
    "text", ["", "\n\n", "# just a comment\n"], ids=["empty", "blank", "comment"]
)
def test_an_empty_file_is_an_error(error_in, text):
    assert str(error_in(text)) == "scenario.yaml: the file is empty"


def test_a_file_that_is_not_a_mapping_is_an_error(error_in):
    assert (
        str(error_in("- a\n- b\n")) == "scenario.yaml:1: expected a mapping of keys, got ['a', 'b']"
    )


def test_a_missing_scenario_file_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        load_scenario("nowhere.yaml")
    assert str(caught.value) == "nowhere.yaml: cannot read file: No such file or directory"


def test_yaml_cannot_construct_python_objects(error_in):
    error = error_in(good_with("name: shop", "name: !!python/object:pathlib.Path {}"))
    assert str(error) == (
        "scenario.yaml:1: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object:pathlib.Path'"
    )


def test_a_python_tag_in_yaml_is_never_executed(error_in):
    error_in(good_with("name: shop", "name: !!python/object/apply:os.system ['touch executed']"))
    assert not Path("executed").exists()


# --- missing and inconsistent values ------------------------------------------------------------


def test_a_missing_duration_is_reported_on_the_mapping_that_needs_it(error_in):
    error = error_in(good_with("duration: 10s\n", ""))
    assert str(error) == "scenario.yaml:1: duration: missing required key"


def test_a_missing_service_time_is_reported_on_the_consumer_that_needs_it(error_in):
    error = error_in(good_with("    service_time: 10ms\n", ""))
    assert str(error) == "scenario.yaml:10: consumers[0].service_time: missing required key"


@pytest.mark.parametrize("warmup", ["10s", "20s"], ids=["equal", "longer"])
def test_a_warmup_not_shorter_than_the_duration_is_reported_at_the_warmup(error_in, warmup):
    error = error_in(good_with("duration: 10s\n", f"duration: 10s\nwarmup: {warmup}\n"))
    assert re.fullmatch(
        r"scenario\.yaml:3: warmup: .*must be shorter than duration \(10s\)", str(error)
    )


def test_a_producer_with_two_arrival_processes_is_an_error(error_in):
    error = error_in(good_with("    rate: 5/s\n", "    rate: 5/s\n    interarrival: 200ms\n"))
    assert str(error) == (
        "scenario.yaml:4: producers[0]: "
        "give exactly one of rate, interarrival, schedule, trace, mmpp or profile "
        "(got rate, interarrival)"
    )


def test_a_producer_without_an_arrival_process_is_an_error(error_in):
    error = error_in(good_with("    rate: 5/s\n", ""))
    assert str(error) == (
        "scenario.yaml:4: producers[0]: "
        "give exactly one of rate, interarrival, schedule, trace, mmpp or profile "
        "(got none)"
    )


def test_a_schedule_out_of_order_is_reported_at_the_schedule(error_in):
    error = error_in(
        good_with(
            "    rate: 5/s\n",
            "    schedule:\n"
            "      - {at: 0s, rate: 1/s}\n"
            "      - {at: 5s, rate: 2/s}\n"
            "      - {at: 2s, rate: 3/s}\n",
        )
    )
    assert str(error) == (
        "scenario.yaml:6: producers[0].schedule: schedule steps must be in increasing order of 'at'"
    )


def test_failures_with_auto_ack_are_an_error(error_in):
    error = error_in(
        good_with(
            "    prefetch: 10\n",
            "    prefetch: 10\n    ack: auto\n    failures: {nack_probability: 0.1}\n",
        )
    )
    assert str(error) == (
        "scenario.yaml:14: consumers[0].failures: "
        "failures need ack: manual (an auto-acked message cannot be rejected)"
    )


# --- files a scenario refers to -----------------------------------------------------------------


def test_a_missing_trace_file_is_reported_at_the_trace(error_in):
    error = error_in(good_with("rate: 5/s", "trace: missing.csv"))
    assert str(error) == (
        "scenario.yaml:6: producers[0].trace: cannot read missing.csv: No such file or directory"
    )


def test_a_missing_empirical_file_is_reported_at_the_distribution(error_in):
    error = error_in(
        good_with("service_time: 10ms", "service_time: {dist: empirical, file: no.csv}")
    )
    assert str(error) == (
        "scenario.yaml:13: consumers[0].service_time: cannot read no.csv: No such file or directory"
    )


@pytest.mark.parametrize(
    ("trace", "problem"),
    [
        ("time_s\n0.5\nsoon\n2.0\n", "publish-times.csv:3: expected a publish time in seconds"),
        (
            "0.5\n2.0\n1.0\n",
            "publish-times.csv: publish times must be non-negative and in increasing order",
        ),
        (
            "-1.0\n2.0\n",
            "publish-times.csv: publish times must be non-negative and in increasing order",
        ),
        ("time_s\n", "publish-times.csv: no publish times found"),
    ],
    ids=["not-a-number", "decreasing", "negative", "no-times"],
)
def test_a_bad_trace_file_is_reported_at_the_trace_with_its_problem(error_in, trace, problem):
    Path("publish-times.csv").write_text(trace, encoding="utf-8")
    error = error_in(good_with("rate: 5/s", "trace: publish-times.csv"))
    assert str(error) == f"scenario.yaml:6: producers[0].trace: {problem}"


def test_a_scenario_file_that_is_not_utf8_text_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("scenario.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario("scenario.yaml")
    assert str(caught.value).startswith("scenario.yaml: ")


def test_an_empirical_file_that_is_not_utf8_text_names_the_file(error_in):
    """Not pydantic's ``Value error, 'utf-8' codec can't decode ...`` without the file name."""
    Path("service-times.csv").write_bytes(b"0.1\n0.2\xff\n")
    error = error_in(
        good_with("service_time: 10ms", "service_time: {dist: empirical, file: service-times.csv}")
    )
    assert re.fullmatch(
        r"scenario\.yaml:13: consumers\[0\]\.service_time: cannot read service-times\.csv: .+",
        str(error),
    )


def test_a_self_referencing_yaml_alias_is_a_one_line_error(error_in):
    """``&loop [*loop]`` is legal YAML for a list that contains itself; it is not a scenario."""
    error = error_in("&loop [*loop]\n")
    assert str(error).startswith("scenario.yaml:1: ")


def test_a_small_file_of_nested_yaml_aliases_is_dealt_with_quickly(error_in):
    """400 bytes of aliases stand for ten million values; loading must not visit each of them
    (this takes well under a second when aliases are followed once, many seconds otherwise)."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 7)]
    with wall_time_limit(2.0):
        error = error_in("\n".join(lines) + "\n")
    assert str(error).startswith("scenario.yaml:")


def test_a_consumer_timeout_with_auto_ack_is_an_error(error_in):
    """Auto-acked deliveries are never acked by the consumer, so a timeout cannot apply."""
    error = error_in(
        good_with(
            "    service_time: 10ms\n",
            "    service_time: 10ms\n    ack: auto\n    consumer_timeout: 5s\n",
        )
    )
    assert str(error) == (
        "scenario.yaml:15: consumers[0].consumer_timeout: "
        "consumer_timeout needs ack: manual (it limits the time to an ack)"
    )


def test_a_replica_count_no_run_could_finish_is_an_error(error_in):
    """replicas is bounded (10,000) so a typo of a few zeros fails at once, not after hours."""
    error = error_in(
        good_with("    service_time: 10ms\n", "    service_time: 10ms\n    replicas: 100000000\n")
    )
    assert str(error).endswith("expected a whole number from 0 to 10000, got 100000000")


def test_requeued_failures_with_zero_service_time_are_an_error(error_in):
    """A requeue loop that takes no simulated time would never end: refused at load time."""
    error = error_in(
        good_with(
            "    service_time: 10ms\n",
            "    service_time: 0s\n    failures: {nack_probability: 0.5, requeue: true}\n",
        )
    )
    assert "need a service time above zero" in str(error)


# --- prices -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        (
            "prices: {replica_hour: -0.1}",
            "scenario.yaml:14: prices.replica_hour: expected a price: a finite number >= 0, "
            "got -0.1",
        ),
        (
            "prices: {replica_hours: 0.1}",
            "scenario.yaml:14: prices.replica_hours: unknown key (did you mean 'replica_hour'?)",
        ),
        (
            "prices: {currency: dollars, replica_hour: 0.1}",
            "scenario.yaml:14: prices.currency: "
            "expected a 3-letter currency code such as USD or EUR, got 'dollars'",
        ),
        (
            "prices: {currency: EUR}",
            "scenario.yaml:14: prices: gives no price: set one of replica_hour, "
            "per_million_requests, gb_second, per_million_invocations",
        ),
        (
            "prices: {per_million_requests: 0.4}",
            "scenario.yaml:14: prices.per_million_requests: no queue here is billed per request "
            "(classic queues report no API requests; the price is for brokers that bill them, "
            "such as SQS); remove it",
        ),
        (
            "prices: {replica_hour: 0.1, gb_second: 0.0000166667}",
            "scenario.yaml:14: prices.gb_second: applies to no pool (every pool runs replicas); "
            "remove it",
        ),
    ],
    ids=["negative", "misspelt", "currency", "nothing-priced", "no-requests", "no-function"],
)
def test_a_bad_or_pointless_price_is_one_line_at_its_key(error_in, prices, expected):
    """Prices are checked like every other key, and a price that would bill nothing in this
    scenario is refused rather than silently adding zero."""
    assert str(error_in(GOOD + prices + "\n")) == expected


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        (
            "{currency: EUR}",
            "consumers[0].prices.currency: a pool's prices are in the scenario's currency: set "
            "currency in the top-level prices: section",
        ),
        (
            "{per_million_requests: 0.4}",
            "consumers[0].prices.per_million_requests: requests are billed per queue, not per "
            "pool: set per_million_requests in the top-level prices: section",
        ),
        (
            "{per_million_invocations: 0.2}",
            "consumers[0].prices.per_million_invocations: pool 'workers' runs replicas, billed "
            "by replica_hour; per_million_invocations prices function pools (AWS Lambda) only",
        ),
    ],
    ids=["currency", "requests", "invocations"],
)
def test_a_pools_prices_take_only_what_bills_that_pool(error_in, prices, expected):
    error = error_in(
        good_with("    service_time: 10ms\n", f"    service_time: 10ms\n    prices: {prices}\n")
    )
    assert str(error) == f"scenario.yaml:14: {expected}"
