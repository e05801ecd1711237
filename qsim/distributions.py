"""Probability distributions a scenario can name, looked up in a registry by their ``dist`` key.

Each distribution is a frozen model with ``sample(rng, n)`` and its exact ``mean`` and ``cv``
(coefficient of variation), which the analytic cross-checks use. Parameters carry the unit of the
field they describe: ``service_time: {dist: exponential, mean: 200ms}`` is in seconds,
``size: {dist: uniform, low: 1KB, high: 4KB}`` in bytes. A bare value means ``constant``.

Add a distribution by subclassing :class:`Distribution` and decorating it with :func:`register`;
a family in a module of its own (:data:`FAMILY_MODULES`) is registered when :data:`REGISTRY` is
first read.
"""

from __future__ import annotations

import csv
import importlib
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from statistics import NormalDist
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, Union

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from qsim.files import read_text_file
from qsim.spec import Number, OrBareValue, PositiveCount, Spec, fail

__all__ = ["FAMILY_MODULES", "REGISTRY", "Distribution", "Part", "distribution_of", "register"]

Q = TypeVar("Q", bound=float)
FAMILY_MODULES = ("qsim.composite", "qsim.discrete", "qsim.phasetype")
"""Modules of more families (composites, discrete laws, phase-type), each registering its own
when imported: :data:`REGISTRY` imports them when first read, so a worker whose scenario names
only this module's families never imports them."""


def register(cls: type[Distribution[Any]]) -> type[Distribution[Any]]:
    """Add a distribution class to the registry under its ``dist`` name."""
    REGISTRY.add(cls)
    return cls


class Distribution(Spec, Generic[Q]):
    """A distribution of a non-negative quantity."""

    name: ClassVar[str]
    splits: ClassVar[bool] = False
    """Whether this family's draws split exactly (see :attr:`split_invariant`)."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws as a float array."""
        raise NotImplementedError  # every registered subclass overrides this

    @property
    def split_invariant(self) -> bool:
        """True where ``sample(rng, n)`` then ``sample(rng, m)`` gives exactly the numbers of
        ``sample(rng, n + m)`` and leaves ``rng`` where it leaves it: numpy draws each value of
        the families so marked on its own (one uniform, or a ziggurat or rejection loop per
        value). A family that draws a whole block in passes (a choice of phase for every value,
        then the phases' times; a redraw of the negative values of a truncated normal) is not,
        and keeps its draws in fixed blocks (:class:`qsim.engine.sampler.Sampler`).
        ``tests/test_sampler_blocks.py`` checks every family, both ways."""
        return self.splits

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The inverse distribution function at each ``u`` in ``[0, 1)``: with ``u`` uniform,
        a draw of this distribution (inverse transform). The engine uses it to give each
        message its own service time, the same whatever the consumers do (common random
        numbers), and a larger ``u`` never means less work."""
        raise NotImplementedError  # every registered subclass overrides this

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The distribution function ``P(draw <= x)`` at each ``x``. This fallback inverts
        :meth:`ppf` by bisection on ``u`` (60 halvings, to float precision); the continuous
        families override it with their closed forms. Mixtures and truncations use it."""
        x = np.asarray(x, dtype=float)
        low, high = np.zeros(x.shape), np.ones(x.shape)
        for _ in range(60):
            middle = (low + high) / 2
            below = self.ppf(middle) <= x
            low, high = np.where(below, middle, low), np.where(below, high, middle)
        return low

    def quantile(self) -> Callable[[float], float]:
        """:meth:`ppf` as a scalar function (for the rare one-at-a-time uses)."""
        return lambda u: float(self.ppf(np.array([u]))[0])

    @property
    def mean(self) -> float:
        """The exact mean."""
        raise NotImplementedError  # every registered subclass overrides this

    @property
    def variance(self) -> float:
        """The exact variance (``inf`` where it does not exist)."""
        raise NotImplementedError  # every registered subclass overrides this

    @property
    def cv(self) -> float:
        """Coefficient of variation: standard deviation over mean."""
        return math.sqrt(self.variance) / self.mean if self.mean > 0 else 0.0


class _Registry(Mapping[str, "type[Distribution[Any]]"]):
    """Every registered family by ``dist`` name, in registration order; the first read
    imports :data:`FAMILY_MODULES`, so it is never seen without them."""

    def __init__(self) -> None:
        self.loaded: dict[str, type[Distribution[Any]]] = {}
        """The families registered so far, without importing any module."""
        self._complete = False

    def add(self, cls: type[Distribution[Any]]) -> None:
        """Register ``cls`` under its ``dist`` name."""
        self.loaded[cls.name] = cls

    def _all(self) -> dict[str, type[Distribution[Any]]]:
        if not self._complete:
            self._complete = True  # before importing: those modules read it as they register
            for module in FAMILY_MODULES:
                importlib.import_module(module)
        return self.loaded

    def __getitem__(self, name: str) -> type[Distribution[Any]]:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


REGISTRY = _Registry()
"""Every distribution family by its ``dist`` name."""

_UNIT_NAMES: dict[int, str] = {}
"""The readable name of each quantity type a distribution is specialised to (``Duration``)."""


class Part(Spec, Generic[Q]):
    """A nested piece of a distribution in the unit of its field (a phase, a branch). Its
    specialisations are named like the distributions' (``BranchDuration``) and importable from
    their module, so that scenarios holding them pickle and their JSON Schema reads well."""

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """``Branch[Duration]`` is called ``BranchDuration``."""
        unit = _UNIT_NAMES.get(id(params[0]))
        return f"{cls.__name__}{unit}" if unit else super().model_parametrized_name(params)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__pydantic_generic_metadata__["args"] and cls.__name__.isidentifier():
            cls.__qualname__ = cls.__name__
            setattr(sys.modules[cls.__module__], cls.__name__, cls)


def _positive(value: float, what: str) -> float:
    if value <= 0:
        raise fail(f"{what} must be above zero, got {value!r}")
    return value


_STANDARD_NORMAL = NormalDist()


def _normal_ppf(u: np.ndarray) -> np.ndarray:
    """The standard normal inverse distribution function at each ``u``: Wichura's AS241, as the
    standard library computes it (``statistics._normal_dist_inv_cdf``), bit for bit, with no
    scipy import in each worker. The central region (``|u - 0.5| <= 0.425``, 85% of draws) is
    AS241's rational function evaluated on the whole array in the library's order of
    operations (each a correctly rounded IEEE operation, so the same doubles); the tails, which
    take a logarithm (numpy's may differ from the C library's in the last bit), are computed
    per value by the library itself."""
    p = np.clip(np.asarray(u, dtype=float), 1e-300, 1.0 - 1e-16)  # 0 and 1 map to infinities
    q = p - 0.5
    r = 0.180625 - q * q
    num = (((((((2.5090809287301226727e+3 * r +
                 3.3430575583588128105e+4) * r +
                 6.7265770927008700853e+4) * r +
                 4.5921953931549871457e+4) * r +
                 1.3731693765509461125e+4) * r +
                 1.9715909503065514427e+3) * r +
                 1.3314166789178437745e+2) * r +
                 3.3871328727963666080e+0) * q  # fmt: skip
    den = (((((((5.2264952788528545610e+3 * r +
                 2.8729085735721942674e+4) * r +
                 3.9307895800092710610e+4) * r +
                 2.1213794301586595867e+4) * r +
                 5.3941960214247511077e+3) * r +
                 6.8718700749205790830e+2) * r +
                 4.2313330701600911252e+1) * r +
                 1.0)  # fmt: skip
    x = np.asarray(num / den, dtype=float)
    tails = np.flatnonzero(np.abs(q) > 0.425)
    if tails.size:
        inverse = _STANDARD_NORMAL.inv_cdf
        x[tails] = [inverse(value) for value in p[tails].tolist()]
    return x + 0.0  # as the library's mu + x * sigma: -0.0 becomes 0.0


def _gamma_ppf(u: np.ndarray, shape: float, scale: float) -> np.ndarray:
    """The gamma inverse distribution function (regularised incomplete gamma inverse)."""
    from scipy.special import gammaincinv  # imported here: it costs every process ~0.4 s

    return np.asarray(scale * gammaincinv(shape, u), dtype=float)


def _gamma_cdf(x: np.ndarray, shape: float, scale: float) -> np.ndarray:
    """The gamma distribution function (regularised lower incomplete gamma)."""
    from scipy.special import gammainc

    return np.asarray(gammainc(shape, np.maximum(x, 0.0) / scale), dtype=float)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """The standard normal distribution function at each ``z``."""
    from scipy.special import ndtr

    return np.asarray(ndtr(z), dtype=float)


@register
class Constant(Distribution[Q]):
    """Always ``value``."""

    name: ClassVar[str] = "constant"
    splits: ClassVar[bool] = True
    dist: Literal["constant"] = "constant"
    value: Q

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, float(self.value))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(len(u), float(self.value))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) >= self.value).astype(float)

    @property
    def mean(self) -> float:
        return float(self.value)

    @property
    def variance(self) -> float:
        return 0.0


class _ByMean(Distribution[Q]):
    """A distribution parametrised by its ``mean`` (above zero)."""

    mean_: Q = Field(alias="mean")

    _check_mean = field_validator("mean_")(lambda v: _positive(v, "mean"))

    @property
    def mean(self) -> float:
        return float(self.mean_)


class _ByMeanCv(_ByMean[Q]):
    """A distribution parametrised by its ``mean`` and coefficient of variation ``cv``."""

    cv_: Number = Field(alias="cv")

    _check_cv = field_validator("cv_")(lambda v: _positive(v, "cv"))

    @property
    def variance(self) -> float:
        return (self.mean_ * self.cv_) ** 2


@register
class Exponential(_ByMean[Q]):
    """Exponential with the given ``mean`` (memoryless; Poisson arrivals, M/M/c service)."""

    name: ClassVar[str] = "exponential"
    splits: ClassVar[bool] = True
    dist: Literal["exponential"]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_, n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(-float(self.mean_) * np.log1p(-u), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(-np.expm1(-np.maximum(x, 0.0) / self.mean_), dtype=float)

    @property
    def variance(self) -> float:
        return float(self.mean_) ** 2


@register
class Uniform(Distribution[Q]):
    """Uniform between ``low`` and ``high``."""

    name: ClassVar[str] = "uniform"
    splits: ClassVar[bool] = True
    dist: Literal["uniform"]
    low: Q
    high: Q

    @model_validator(mode="after")
    def _ordered(self) -> Uniform[Q]:
        if self.high < self.low:
            raise fail(f"high ({self.high}) must not be below low ({self.low})")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * u

    def cdf(self, x: np.ndarray) -> np.ndarray:
        if self.high == self.low:
            return (np.asarray(x) >= self.low).astype(float)
        return np.clip((np.asarray(x) - self.low) / (self.high - self.low), 0.0, 1.0)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12


@register
class Triangular(Distribution[Q]):
    """Triangular from ``low`` to ``high``, peaking at ``mode`` (a three-point estimate)."""

    name: ClassVar[str] = "triangular"
    splits: ClassVar[bool] = True
    dist: Literal["triangular"]
    low: Q
    mode: Q
    high: Q

    @model_validator(mode="after")
    def _ordered(self) -> Triangular[Q]:
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise fail(f"expected low <= mode <= high and low < high, got {self._points}")
        return self

    @property
    def _points(self) -> tuple[float, float, float]:
        return float(self.low), float(self.mode), float(self.high)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.triangular(*self._points, n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        low, mode, high = self._points
        rising = u * (high - low) <= mode - low
        left = low + np.sqrt(u * (high - low) * (mode - low))
        right = high - np.sqrt((1.0 - u) * (high - low) * (high - mode))
        return np.where(rising, left, right)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        low, mode, high = self._points
        x = np.clip(x, low, high)
        with np.errstate(divide="ignore", invalid="ignore"):
            left = (x - low) ** 2 / ((high - low) * (mode - low))
            right = 1.0 - (high - x) ** 2 / ((high - low) * (high - mode))
        return np.where(x <= mode, np.nan_to_num(left), np.nan_to_num(right, nan=1.0))

    @property
    def mean(self) -> float:
        return sum(self._points) / 3

    @property
    def variance(self) -> float:
        a, c, b = self._points
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18


@register
class LogUniform(Distribution[Q]):
    """Log-uniform from ``low`` to ``high`` (both above zero): every factor of ten between
    them equally likely (jobs spanning orders of magnitude)."""

    name: ClassVar[str] = "loguniform"
    splits: ClassVar[bool] = True
    dist: Literal["loguniform"]
    low: Q
    high: Q

    @model_validator(mode="after")
    def _ordered(self) -> LogUniform[Q]:
        if not 0 < self.low < self.high:
            raise fail(f"expected 0 < low < high, got low {self.low:g} and high {self.high:g}")
        return self

    @property
    def _span(self) -> float:
        return math.log(self.high / self.low)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.exp(rng.uniform(math.log(self.low), math.log(self.high), n))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(self.low * np.exp(self._span * np.asarray(u)), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        inside = np.clip(x, self.low, self.high)
        return np.asarray(np.log(inside / self.low) / self._span, dtype=float)

    @property
    def mean(self) -> float:
        return (self.high - self.low) / self._span

    @property
    def variance(self) -> float:
        return (self.high**2 - self.low**2) / (2 * self._span) - self.mean**2


@register
class LogLogistic(Distribution[Q]):
    """Log-logistic (Fisk) with median ``scale`` and ``shape`` beta: ``F = 1 / (1 + (x /
    scale)^-beta)``, a heavier tail than the lognormal (mean finite for beta > 1, variance for
    beta > 2)."""

    name: ClassVar[str] = "loglogistic"
    splits: ClassVar[bool] = True
    dist: Literal["loglogistic"]
    scale: Q
    shape: Number

    _check_shape = field_validator("shape")(lambda v: _positive(v, "shape"))
    _check_scale = field_validator("scale")(lambda v: _positive(v, "scale"))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.scale * np.exp(rng.logistic(0.0, 1.0 / self.shape, n))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            odds = np.asarray(u) / (1.0 - np.asarray(u))
        return np.asarray(self.scale * odds ** (1.0 / self.shape), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        ratio = np.maximum(x, 0.0) / self.scale
        return np.asarray(ratio**self.shape / (1.0 + ratio**self.shape), dtype=float)

    def _moment(self, k: int) -> float:
        """``E[X^k] = scale^k (k pi / beta) / sin(k pi / beta)`` for ``k < beta``."""
        angle = k * math.pi / self.shape
        return self.scale**k * angle / math.sin(angle) if k < self.shape else math.inf

    @property
    def mean(self) -> float:
        return self._moment(1)

    @property
    def variance(self) -> float:
        second = self._moment(2)
        return second - self.mean**2 if math.isfinite(second) else math.inf


@register
class Lognormal(_ByMeanCv[Q]):
    """Lognormal given by its ``mean`` and ``cv`` (right-skewed service times)."""

    name: ClassVar[str] = "lognormal"
    splits: ClassVar[bool] = True
    dist: Literal["lognormal"]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv_**2)
        return rng.lognormal(math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2), n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        sigma2 = math.log1p(self.cv_**2)
        return np.exp(math.log(self.mean_) - sigma2 / 2 + math.sqrt(sigma2) * _normal_ppf(u))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        sigma2 = math.log1p(self.cv_**2)
        with np.errstate(divide="ignore"):
            logs = np.log(np.maximum(x, 0.0))
        return _normal_cdf((logs - math.log(self.mean_) + sigma2 / 2) / math.sqrt(sigma2))


@register
class Gamma(_ByMeanCv[Q]):
    """Gamma given by its ``mean`` and ``cv``."""

    name: ClassVar[str] = "gamma"
    splits: ClassVar[bool] = True
    dist: Literal["gamma"]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1 / self.cv_**2
        return rng.gamma(shape, self.mean_ / shape, n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return _gamma_ppf(u, 1 / self.cv_**2, self.mean_ * self.cv_**2)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return _gamma_cdf(x, 1 / self.cv_**2, self.mean_ * self.cv_**2)


@register
class Erlang(_ByMean[Q]):
    """Erlang: the sum of ``k`` exponential phases with total ``mean``."""

    name: ClassVar[str] = "erlang"
    splits: ClassVar[bool] = True
    dist: Literal["erlang"]
    k: PositiveCount

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.k, self.mean_ / self.k, n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return _gamma_ppf(u, float(self.k), self.mean_ / self.k)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return _gamma_cdf(x, float(self.k), self.mean_ / self.k)

    @property
    def variance(self) -> float:
        return self.mean_**2 / self.k


@register
class Weibull(Distribution[Q]):
    """Weibull with ``shape`` k and ``scale`` lambda."""

    name: ClassVar[str] = "weibull"
    splits: ClassVar[bool] = True
    dist: Literal["weibull"]
    shape: Number
    scale: Q

    _check_shape = field_validator("shape")(lambda v: _positive(v, "shape"))
    _check_scale = field_validator("scale")(lambda v: _positive(v, "scale"))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.scale * rng.weibull(self.shape, n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(self.scale * (-np.log1p(-u)) ** (1 / self.shape), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(-np.expm1(-((np.maximum(x, 0.0) / self.scale) ** self.shape)))

    @property
    def mean(self) -> float:
        return self.scale * math.gamma(1 + 1 / self.shape)

    @property
    def variance(self) -> float:
        return self.scale**2 * math.gamma(1 + 2 / self.shape) - self.mean**2


@register
class Pareto(Distribution[Q]):
    """Pareto (type I) with tail index ``alpha`` and minimum ``scale``: heavy-tailed jobs."""

    name: ClassVar[str] = "pareto"
    splits: ClassVar[bool] = True
    dist: Literal["pareto"]
    alpha: Number
    scale: Q

    _check_alpha = field_validator("alpha")(lambda v: _positive(v, "alpha"))
    _check_scale = field_validator("scale")(lambda v: _positive(v, "scale"))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.scale * (1.0 + rng.pareto(self.alpha, n))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.scale * (1.0 - u) ** (-1 / self.alpha)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 - (self.scale / np.maximum(x, self.scale)) ** self.alpha)

    @property
    def mean(self) -> float:
        return self.alpha * self.scale / (self.alpha - 1) if self.alpha > 1 else math.inf

    @property
    def variance(self) -> float:
        a = self.alpha
        return self.scale**2 * a / ((a - 1) ** 2 * (a - 2)) if a > 2 else math.inf


def _phi(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _tail(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2))


@register
class Normal(Distribution[Q]):
    """Normal with ``mean`` and ``sd``, truncated at zero (negative draws are redrawn)."""

    name: ClassVar[str] = "normal"
    dist: Literal["normal"]
    mean_: Q = Field(alias="mean")
    sd: Q

    _check_sd = field_validator("sd")(lambda v: _positive(v, "sd"))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = rng.normal(self.mean_, self.sd, n)
        negative = out < 0
        while negative.any():
            out[negative] = rng.normal(self.mean_, self.sd, int(negative.sum()))
            negative = out < 0
        return out

    def ppf(self, u: np.ndarray) -> np.ndarray:
        below = _tail(self.mean_ / self.sd)  # P(draw < 0): truncated at zero, u maps above it
        return np.maximum(0.0, self.mean_ + self.sd * _normal_ppf(below + (1.0 - below) * u))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        below = _tail(self.mean_ / self.sd)
        inside = _normal_cdf((np.maximum(x, 0.0) - self.mean_) / self.sd) - below
        return np.asarray(np.maximum(inside, 0.0) / (1.0 - below), dtype=float)

    @property
    def _hazard(self) -> float:
        a = -self.mean_ / self.sd
        return _phi(a) / _tail(a)

    @property
    def mean(self) -> float:
        return self.mean_ + self.sd * self._hazard

    @property
    def variance(self) -> float:
        a = -self.mean_ / self.sd
        h = self._hazard
        return self.sd**2 * (1 + a * h - h * h)


def _read_samples(path: Path) -> list[float]:
    values: list[float] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            try:
                values.append(float(row[0]))
            except ValueError:
                if values:  # only a first line may be a header
                    raise fail(f"{path}: not a number: {row[0]!r}") from None
                continue
            if not math.isfinite(values[-1]):
                raise fail(f"{path}: not a finite number: {row[0]!r}")
    return values


@register
class Empirical(Distribution[Q]):
    """Resamples recorded ``values`` (or the first column of a CSV ``file``) uniformly."""

    name: ClassVar[str] = "empirical"
    splits: ClassVar[bool] = True
    dist: Literal["empirical"]
    values: tuple[Q, ...] = ()
    file: str | None = Field(default=None, exclude=True)  # read into values at load time

    @model_validator(mode="before")
    @classmethod
    def _load_file(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or data.get("file") is None:
            return data
        if "values" in data:
            raise fail("give either values or file, not both")
        base = Path((info.context or {}).get("base_dir", "."))
        values = read_text_file(base / str(data["file"]), _read_samples)
        return {**{k: v for k, v in data.items() if k != "file"}, "values": values}

    @model_validator(mode="after")
    def _non_empty(self) -> Empirical[Q]:
        if not self.values:
            raise fail("an empirical distribution needs at least one value")
        if min(self.values) < 0:
            raise fail("empirical values must not be negative")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        ordered = np.sort(np.asarray(self.values, dtype=float))
        return ordered[np.minimum((u * ordered.size).astype(np.int64), ordered.size - 1)]

    def cdf(self, x: np.ndarray) -> np.ndarray:
        ordered = np.sort(np.asarray(self.values, dtype=float))
        return np.searchsorted(ordered, x, side="right") / ordered.size

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def variance(self) -> float:
        return float(np.var(self.values))


def _normalise(value: Any) -> Any:
    """A bare value means constant; a mapping must name a known ``dist``."""
    if not isinstance(value, dict):
        return {"dist": "constant", "value": value}
    known = ", ".join(REGISTRY)
    if "dist" not in value:
        raise fail(f"expected a 'dist' key naming one of: {known}")
    if not isinstance(value["dist"], str) or value["dist"] not in REGISTRY:
        raise fail(f"unknown distribution {value['dist']!r}; known: {known}")
    return value


def _specialised(cls: type[Distribution[Any]], quantity: Any, unit_name: str) -> type[Any]:
    """``cls[quantity]`` as a global of this module named e.g. ``ExponentialDuration``.

    Being importable by name lets scenarios pickle by reference, which process pools and Dask
    need to send a scenario to their workers.
    """
    name = f"{cls.__name__}{unit_name}"
    base = cls[quantity]  # type: ignore[index]
    existing = globals().get(name)
    if isinstance(existing, type) and existing.__bases__ == (base,):
        return existing
    namespace = {"__doc__": cls.__doc__, "__module__": __name__, "__qualname__": name}
    special = type(name, (base,), namespace)
    globals()[name] = special
    return special


_QUANTITIES: dict[str, Any] = {}
"""Each quantity a distribution field is declared for, by its readable name (``Duration``)."""
_FIELDS: dict[str, Any] = {}
"""The built union of every registered family for each quantity, by its readable name."""


def _built_field(unit_name: str) -> Any:
    """The validated union of every registered family of the quantity named ``unit_name``,
    built on first need: 63 specialised models cost ~70 ms, which an ``import qsim.engine``
    (every worker process) should not pay for families its scenario never names."""
    field = _FIELDS.get(unit_name)
    if field is not None:
        return field
    quantity = _QUANTITIES[unit_name]
    members = tuple(_specialised(cls, quantity, unit_name) for cls in REGISTRY.values())
    bare = TypeAdapter(quantity).json_schema()
    field = Annotated[
        Union[members],  # noqa: UP007  (a runtime-built union)
        Field(discriminator="dist"),
        BeforeValidator(_normalise),
        OrBareValue(bare),
    ]
    _FIELDS[unit_name] = field
    for member in members:  # mixtures and other composites: components of the same quantity
        if not member.__pydantic_fields_complete__:
            member.model_rebuild(_types_namespace={"Component": field})
    return field


class _Families:
    """Field metadata standing for the union of every registered family of one quantity:
    pydantic asks it for a schema only when a model holding the field is first validated or
    its JSON Schema written (models are built lazily, ``defer_build``), and it builds the
    union then."""

    def __init__(self, unit_name: str) -> None:
        self.unit_name = unit_name

    def __get_pydantic_core_schema__(self, _source: Any, handler: GetCoreSchemaHandler) -> Any:
        return handler.generate_schema(_built_field(self.unit_name))


def distribution_of(quantity: Any, unit_name: str) -> Any:
    """The validated field type of a distribution of ``quantity`` values (e.g. Duration).

    Each registered distribution is specialised to ``quantity`` under a readable name
    (``ExponentialDuration``) so that the JSON Schema reads well. The specialisations are made
    when a model holding the field is first validated (:class:`_Families`), or one at a time
    when unpickling asks this module for one by name (:func:`__getattr__`).
    """
    _UNIT_NAMES[id(quantity)] = unit_name
    _QUANTITIES[unit_name] = quantity
    return Annotated[Any, _Families(unit_name)]


def __getattr__(name: str) -> Any:
    """A family specialised to a quantity, made on first request (``ExponentialDuration``):
    a scenario pickled to a worker process names the classes it holds, and only those."""
    for unit_name, quantity in _QUANTITIES.items():
        family = name.removesuffix(unit_name)
        if family == name:
            continue
        known = [cls for cls in REGISTRY.loaded.values() if cls.__name__ == family]
        for cls in known or REGISTRY.values():  # import the other families only if needed
            if cls.__name__ == family:
                special = _specialised(cls, quantity, unit_name)
                if not special.__pydantic_fields_complete__:  # a composite: needs the union
                    _built_field(unit_name)
                return special
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
