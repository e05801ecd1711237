"""``qsim fit``: distributions fitted to service times, rate schedules from publish times.

Samples come from seeded numpy Generators. Tolerances:

* fitted parameters: 4 standard errors of the maximum-likelihood estimator, from the observed
  information (minus the Hessian of the log-likelihood, by central differences) of the sample;
  a hyper-Erlang's integer order ``k`` gets the standard error of a real gamma shape at that
  point, plus 1/2 for the rounding to an integer;
* per-interval rates: 4 standard errors of a Poisson count's rate, ``sqrt(rate / interval)``.
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import scenario_from

from qsim.cli import main
from qsim.engine.arrivals import arrival_times
from qsim.fit.families import FAMILIES
from qsim.scenario import Producer

N = 2000
STANDARD_ERRORS = 4
TRUE_PARAMETERS = {
    "exponential": {"scale": 0.2},
    "gamma": {"shape": 2.5, "scale": 0.08},
    "lognormal": {"mu": -1.6, "sigma": 0.9},
    "weibull": {"shape": 2.5, "scale": 0.3},
    "hyperexponential": {"p_long": 0.25, "mean_long": 0.8, "mean_short": 0.1},
    "hyperexponential-3": {"p1": 0.1, "mean1": 2.0, "p2": 0.3, "mean2": 0.4, "mean3": 0.05},
    "hypererlang": {"p1": 0.35, "mean1": 0.6, "k1": 6.0, "mean2": 0.1, "k2": 3.0},
}
SCENARIO = """\
name: fitted
duration: 1m
producers:
  - {{name: p, to: q, {arrivals}}}
queues: [{{name: q}}]
consumers:
  - {{name: c, queue: q, service_time: {service_time}}}
"""


def draw(family: str, rng: np.random.Generator, n: int = N) -> np.ndarray:
    """``n`` samples of ``family`` at its true parameters."""
    return FAMILIES[family].frozen(TRUE_PARAMETERS[family]).rvs(size=n, random_state=rng)


def qsim(*args: object):
    """Run ``qsim ARGS`` in-process; the click Result has exit_code, stdout and stderr."""
    return CliRunner().invoke(main, [str(arg) for arg in args])


def fit_json(*args: object) -> dict:
    """The JSON result of ``qsim fit ARGS --json -``."""
    result = qsim("fit", *args, "--json", "-")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def write_column(path, values, header="seconds"):
    path.write_text(header + "\n" + "".join(f"{float(v)!r}\n" for v in values), encoding="utf-8")
    return path


def standard_errors(family: str, params: dict, x: np.ndarray) -> dict:
    """Standard errors from the inverse observed information at ``params``."""
    names = list(params)
    point = np.array([params[k] for k in names])
    steps = 1e-4 * np.abs(point)

    def log_likelihood(values: np.ndarray) -> float:
        frozen = FAMILIES[family].frozen(dict(zip(names, values, strict=True)))
        return float(np.sum(frozen.logpdf(x)))

    hessian = np.empty((len(names), len(names)))
    for i in range(len(names)):
        for j in range(len(names)):
            total = 0.0
            for si, sj, sign in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
                shifted = point.copy()
                shifted[i] += si * steps[i]
                shifted[j] += sj * steps[j]
                total += sign * log_likelihood(shifted)
            hessian[i, j] = total / (4 * steps[i] * steps[j])
    return dict(zip(names, np.sqrt(np.diag(np.linalg.inv(-hessian))), strict=True))


@pytest.mark.parametrize("family", FAMILIES)
def test_maximum_likelihood_recovers_the_parameters_of_a_known_distribution(family):
    """Each fitted parameter is within 4 standard errors of the one the sample was drawn with
    (an order within 4 of a real shape's, plus 1/2)."""
    x = draw(family, np.random.default_rng(11))
    fitted = FAMILIES[family].fit(x)
    errors = standard_errors(family, fitted, x)
    assert fitted.keys() == TRUE_PARAMETERS[family].keys()
    for name, true in TRUE_PARAMETERS[family].items():
        rounding = 0.5 if name.startswith("k") else 0.0
        assert abs(fitted[name] - true) <= STANDARD_ERRORS * errors[name] + rounding, name


def test_the_weibull_profile_fit_agrees_with_scipys_general_fit():
    """The fast profile-likelihood Weibull fit finds scipy's maximum-likelihood estimate."""
    from scipy import stats

    x = draw("weibull", np.random.default_rng(5), 500)
    shape, _, scale = stats.weibull_min.fit(x, floc=0)
    fitted = FAMILIES["weibull"].fit(x)
    assert fitted["shape"] == pytest.approx(shape, rel=1e-4)
    assert fitted["scale"] == pytest.approx(scale, rel=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_family_the_sample_was_drawn_from_wins(tmp_path, family):
    """On 2,000 draws of clearly different shapes, the true family is kept and ranked first
    (exponential, nested in gamma and Weibull, wins through BIC's penalty). The test rejects a
    true family with probability 0.05 by design (then empirical wins); over seeds 0-19 the
    true family won 76 of 80 times, each loss such a rejection; seed 3 is one of the wins."""
    path = write_column(tmp_path / "times.csv", draw(family, np.random.default_rng(3)))
    result = fit_json(path, "--bootstrap", "49")
    assert result["best"] == family


def test_when_the_test_rejects_every_family_the_empirical_distribution_wins(tmp_path):
    """Two well-separated modes fit no single family: the snippet resamples the file."""
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.normal(0.05, 0.005, 500), rng.normal(0.5, 0.02, 500)])
    path = write_column(tmp_path / "bimodal.csv", x)
    result = fit_json(path, "--bootstrap", "49")
    assert result["best"] == "empirical"
    assert result["snippet"] == f"service_time: {{dist: empirical, file: {path}}}"
    assert all(not c["plausible"] for c in result["candidates"] if c["dist"] != "empirical")


def test_a_bootstrapped_p_value_is_smaller_than_the_optimistic_textbook_one(tmp_path):
    """With fitted parameters the textbook Kolmogorov p-value is too large: the bootstrap,
    which refits each draw, corrects it downwards."""
    path = write_column(tmp_path / "times.csv", draw("exponential", np.random.default_rng(4), 300))
    booted, textbook = (
        {c["dist"]: c["p_value"] for c in fit_json(path, "--bootstrap", n)["candidates"]}
        for n in (99, 0)
    )
    assert booted["exponential"] < textbook["exponential"]


@pytest.mark.parametrize("family", FAMILIES)
def test_the_winning_snippet_loads_as_a_scenario_with_the_fitted_mean_and_cv(tmp_path, family):
    """Pasted into a scenario, the snippet gives the service time the fit describes."""
    path = write_column(tmp_path / "times.csv", draw(family, np.random.default_rng(3), 500))
    result = fit_json(path, "--bootstrap", "0")
    service_time = result["snippet"].removeprefix("service_time: ")
    scenario = scenario_from(SCENARIO.format(arrivals="rate: 1/s", service_time=service_time))
    loaded = scenario.consumers[0].service_time
    best = result["candidates"][0]
    assert (loaded.mean, loaded.cv) == pytest.approx((best["mean"], best["cv"]), rel=1e-9)


def test_an_empirical_snippet_of_another_column_or_unit_lists_the_values(tmp_path):
    """The loader reads the first column in seconds; other columns or units go inline."""
    path = tmp_path / "two.csv"
    path.write_text("id,ms\na,120\nb,80\nc,100\n", encoding="utf-8")
    result = fit_json(path, "--column", "ms", "--unit", "ms", "--bootstrap", "0")
    empirical = next(c for c in result["candidates"] if c["dist"] == "empirical")
    assert empirical["distribution"] == {"dist": "empirical", "values": ["0.12", "0.08", "0.1"]}
    text = SCENARIO.format(arrivals="rate: 1/s", service_time=empirical["distribution"])
    assert scenario_from(text).consumers[0].service_time.mean == pytest.approx(0.1)


def test_a_named_column_and_a_unit_are_read(tmp_path):
    """--column picks a header name (or a 1-based number); --unit ms scales to seconds."""
    path = tmp_path / "log.csv"
    path.write_text("host,ms\nx,100\ny,300\n", encoding="utf-8")
    by_name = fit_json(path, "--column", "ms", "--unit", "ms", "--bootstrap", "0")
    by_number = fit_json(path, "--column", "2", "--unit", "ms", "--bootstrap", "0")
    assert by_name["sample"]["mean"] == by_number["sample"]["mean"] == pytest.approx(0.2)


def test_a_byte_order_mark_does_not_hide_the_first_value(tmp_path):
    """Spreadsheets write a UTF-8 byte order mark; without a header the first line is data."""
    path = tmp_path / "excel.csv"
    path.write_text("\ufeff0.1\n0.3\n", encoding="utf-8")
    assert fit_json(path, "--bootstrap", "0")["count"] == 2


PIECES = ((0, 5.0), (120, 20.0), (240, 10.0))  # (at seconds, rate per second), 2 minutes each


def piecewise_poisson(seed: int) -> np.ndarray:
    """Six minutes of publishes from qsim's own schedule arrivals (Poisson within each piece)."""
    spec = Producer.model_validate(
        {"name": "p", "to": "q", "schedule": [{"at": at, "rate": rate} for at, rate in PIECES]}
    )
    times = []
    for t in arrival_times(spec, np.random.default_rng(seed)):
        if t >= 360:
            break
        times.append(t)
    return np.array(times)


def test_the_schedule_recovers_a_known_piecewise_rate(tmp_path):
    """Each 1-minute rate is within 4 Poisson standard errors of the rate that generated it."""
    path = write_column(tmp_path / "published.csv", piecewise_poisson(1), "published_at")
    result = fit_json("--arrivals", path)
    true = [rate for _, rate in PIECES for _minute in range(2)]
    assert len(result["rates"]) == len(true)
    for rate, expected in zip(result["rates"], true, strict=True):
        assert abs(rate - expected) <= STANDARD_ERRORS * math.sqrt(expected / 60)


def test_the_schedule_snippet_loads_as_a_producer_with_the_measured_rates(tmp_path):
    """Pasted into a producer, the schedule has one step a minute at the measured rates."""
    path = write_column(tmp_path / "published.csv", piecewise_poisson(2), "published_at")
    result = fit_json("--arrivals", path)
    schedule = result["snippet"].splitlines()[1:]
    text = SCENARIO.format(
        arrivals="schedule: [" + ", ".join(s.removeprefix("  - ") for s in schedule) + "]",
        service_time="10ms",
    )
    loaded = scenario_from(text).producers[0].schedule
    assert [step.at for step in loaded] == [60.0 * i for i in range(6)]
    assert [step.rate for step in loaded] == pytest.approx(result["rates"], rel=1e-6)


def test_poisson_is_plausible_for_poisson_publishes(tmp_path):
    """Piecewise Poisson publishes pass the dispersion test within each interval."""
    path = write_column(tmp_path / "published.csv", piecewise_poisson(3), "published_at")
    result = fit_json("--arrivals", path)
    assert result["poisson"] == "plausible"


def test_poisson_is_implausible_for_bursts(tmp_path):
    """Publishes in batches of ten (a Poisson process of bursts) are over-dispersed."""
    rng = np.random.default_rng(6)
    bursts = np.sort(rng.uniform(0, 300, 150))
    times = np.sort((bursts[:, None] + rng.exponential(0.05, (150, 10))).ravel())
    path = write_column(tmp_path / "published.csv", times, "published_at")
    result = fit_json("--arrivals", path)
    assert (result["poisson"], result["dispersion"]["index"] > 1) == ("bursty", True)


def test_poisson_is_implausible_for_evenly_spaced_publishes(tmp_path):
    """Publishes every 100 ms are under-dispersed: more regular than Poisson."""
    path = write_column(tmp_path / "published.csv", np.arange(1, 3000) * 0.1, "published_at")
    assert fit_json("--arrivals", path)["poisson"] == "too regular"


def test_iso_8601_publish_times_are_read_as_seconds(tmp_path):
    """ISO-8601 times work too; intervals align to whole minutes of the clock."""
    path = tmp_path / "published.csv"
    path.write_text(
        "at\n2026-11-28T12:00:05Z\n2026-11-28T12:00:35Z\n2026-11-28T12:01:59.999Z\n",
        encoding="utf-8",
    )
    result = fit_json("--arrivals", path)
    assert result["rates"] == pytest.approx([2 / 60, 1 / 60])


def test_numbers_are_seconds_since_the_start_so_the_schedule_starts_at_zero(tmp_path):
    """As in trace files: publishes from 10m on give a zero rate from 0s, then the measured one."""
    path = write_column(tmp_path / "published.csv", 600 + np.arange(960) * 0.125, "t")
    steps = fit_json("--arrivals", path)["schedule"]
    assert steps == [{"at": "0s", "rate": "0/min"}, {"at": "10m", "rate": "480/min"}]


def test_unix_times_start_at_the_whole_interval_holding_the_first_publish(tmp_path):
    """Numbers from 1e9 on are clock times: the first interval starts on the first's minute."""
    start = 1_800_000_000  # a whole minute
    path = write_column(tmp_path / "published.csv", start + 30 + np.arange(720) * 0.125, "t")
    result = fit_json("--arrivals", path)
    assert result["origin"] == start
    assert result["schedule"] == [{"at": "0s", "rate": "240/min"}, {"at": "1m", "rate": "480/min"}]


def test_publishes_after_the_last_whole_interval_are_left_out(tmp_path):
    """Data that stop at 90s give one whole minute; the 30 publishes after it are left out."""
    path = write_column(tmp_path / "published.csv", np.arange(1, 91), "t")
    result = fit_json("--arrivals", path)
    assert (result["intervals"], result["left_out"], result["rates"]) == (1, 31, [59 / 60])


def test_the_printed_fit_lists_every_candidate_and_ends_with_the_snippet(tmp_path):
    """The table names each family and the empirical fallback; the last line can be pasted."""
    path = write_column(tmp_path / "times.csv", draw("gamma", np.random.default_rng(3), 300))
    result = qsim("fit", path, "--bootstrap", "0")
    lines = result.stdout.splitlines()
    assert all(any(f" {name} " in line for line in lines) for name in [*FAMILIES, "empirical"])
    assert lines[-1] == fit_json(path, "--bootstrap", "0")["snippet"]


def test_the_printed_arrivals_end_with_the_schedule_and_json_goes_to_a_file(tmp_path):
    """The schedule is printed last, as in the JSON written by --json PATH."""
    path = write_column(tmp_path / "published.csv", piecewise_poisson(4), "t")
    result = qsim("fit", "--arrivals", path, "--json", tmp_path / "fit.json")
    written = json.loads((tmp_path / "fit.json").read_text())
    printed = result.stdout.splitlines()
    assert printed[-1] == f"fit written to {tmp_path / 'fit.json'}"
    assert "\n".join(printed[-8:-1]) + "\n" == written["snippet"]


def bad(tmp_path, name, text, *args):
    """Run ``qsim fit`` on a file holding ``text``; return (exit status, stderr)."""
    path = tmp_path / name
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = qsim("fit", *args, path)
    return result.exit_code, result.stderr, path


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (None, (), "cannot read {path}: No such file or directory"),
        ("", (), "{path}: no values found (expected a duration in s per line)"),
        ("# only a comment\nseconds\n", (), "{path}: no values found below the header (line 2)"),
        ("seconds\n0.1\nfast\n", (), "{path}:3: expected a duration in s, got 'fast'"),
        ("0.1\nnan\n", (), "{path}:2: expected a duration in s, got 'nan'"),
        ("0.1\n-0.2\n", (), "{path}:2: service times must be above zero, got -0.2"),
        ("0.1\n0\n", (), "{path}:2: service times must be above zero, got 0"),
        ("seconds\n0.1\n", (), "{path}: one value only; fitting needs at least two"),
        ("0.1\n0.1\n", (), "{path}: the values hardly vary (cv 0); use a constant service time"),
        ("a,b\n1,2\n", (), "{path}: 2 columns (a, b); choose one with --column"),
        ("a,b\n1,2\n", ("--column", "c"), "{path}: no column 'c' (first row: a, b)"),
        ("a,b\n1,2\n3\n", ("--column", "b"), "{path}:3: no value in column 2"),
        (b"\xff\xfe0.1\n", (), "cannot read {path}: not UTF-8 text (byte 0)"),
        ("t\n1\n3\n2\n", ("--arrivals",), "{path}:4: publish time earlier than the line before"),
        ("t\n1\n-3\n", ("--arrivals",), "{path}:3: publish times must not be negative"),
        ("t\n5\n", ("--arrivals",), "{path}: one publish time only; a rate needs at least two"),
        ("t\n5\nsoon\n", ("--arrivals",), "{path}:3: expected a publish time (s or ISO-8601)"),
        ("1\n2\n", ("--arrivals",), "{path}: publishes span 1s, less than one interval (60s)"),
        ("1\n2\n", ("--arrivals", "--interval", "0"), "--interval must be above zero"),
        ("1\n9\n", ("--arrivals", "--interval", "1us"), "{path}: 9,000,000 intervals of 1us"),
    ],
)
def test_a_bad_file_is_one_line_naming_it_and_exit_status_2(tmp_path, text, args, message):
    """Every problem with the input file is one stderr line naming file (and line) and exit 2."""
    status, stderr, path = bad(tmp_path, "times.csv", text, *args)
    assert status == 2
    assert stderr.count("\n") == 1
    assert stderr.startswith("qsim: " + message.format(path=path)), stderr


def test_on_exponential_data_bic_prefers_the_exponential_to_the_hyperexponential(tmp_path):
    """A two-phase hyper-exponential contains the exponential (equal means): on exponential
    data it fits about as well, and BIC's penalty for its two extra parameters (2 ln 2000 = 15.2)
    ranks it below."""
    path = write_column(tmp_path / "times.csv", draw("exponential", np.random.default_rng(3)))
    bic = {c["dist"]: c["bic"] for c in fit_json(path, "--bootstrap", "0")["candidates"]}
    assert bic["exponential"] < bic["hyperexponential"]


def test_the_em_fit_is_a_maximum_of_the_likelihood():
    """At the EM fit, moving any parameter by 0.1% lowers the log-likelihood."""
    x = draw("hyperexponential", np.random.default_rng(2))
    fitted = FAMILIES["hyperexponential"].fit(x)
    best = np.sum(FAMILIES["hyperexponential"].frozen(fitted).logpdf(x))
    for name in fitted:
        for factor in (0.999, 1.001):
            moved = {**fitted, name: fitted[name] * factor}
            assert np.sum(FAMILIES["hyperexponential"].frozen(moved).logpdf(x)) < best, name
