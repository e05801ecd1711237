"""KEDA's Kafka scaler: the consumer group's total lag as the metric, capped at the partitions.

From kedacore/keda pkg/scalers/kafka_scaler.go (``getLagForPartition``, ``getTotalLag``,
``GetMetricsAndActivity``), one topic, names in snake_case in the scenario (``kafka_lag``):

- Per partition, lag = newest offset - the group's committed offset. With no committed offset
  (Kafka's -1), ``offset_reset_policy: latest`` (default) counts a lag of 1, or 0 with
  ``scale_to_zero_on_invalid_offset``; ``earliest`` counts the whole partition (its newest
  offset), or 0 with ``scale_to_zero_on_invalid_offset``.
- ``exclude_persistent_lag``: a partition whose committed offset has not moved since the
  scaler's previous reading counts 0 (a stuck consumer should not scale the group out); it
  still counts for activation.
- ``partition_limitation``: only the listed partitions count (all by default).
- Total lag = the sum. Unless ``allow_idle_consumers`` (or with ``limit_to_partitions_with_lag``
  or ``ensure_even_distribution_of_partitions``), the total is capped so the HPA asks for no
  more replicas than partitions (or than partitions with lag): if ``total / lag_threshold``
  (integer division) exceeds the bound, total = bound x lag_threshold. Because the division
  truncates, a total between ``bound x threshold`` and ``(bound + 1) x threshold`` passes
  uncapped and the HPA's ``ceil`` asks for bound + 1 replicas: one idle consumer. qsim keeps
  this as KEDA computes it.
- ``ensure_even_distribution_of_partitions``: the total is raised to the smallest factor of the
  partition count whose ``factor x threshold`` covers it, times the threshold, so the replica
  count divides the partitions evenly (``getNextFactorThatBalancesConsumersToTopicPartitions``).
- The metric goes to the HPA as an ``AverageValue`` of ``lag_threshold`` (``target``, default
  10): desired = ceil(total / target). KEDA's activity: total lag *with* persistent partitions
  above ``activation`` (``activationLagThreshold``, default 0).

Validation as ``kafkaMetadata.Validate``: ``lagThreshold`` above 0, ``activationLagThreshold``
not negative, ``allowIdleConsumers`` and ``limitToPartitionsWithLag`` not both,
``limitToPartitionsWithLag`` and ``ensureEvenDistributionOfPartitions`` not both; at least one
listed partition must exist (``getTopicPartitions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qsim.scenario import Scaling

__all__ = ["KafkaLag", "PartitionReading", "factors", "kafka_total_lag", "partition_lag"]


@dataclass(frozen=True)
class PartitionReading:
    """One reading of a group's partitions: per partition the lag, the committed offset
    (``None``: none committed), and the committed offset at the scaler's previous reading
    (``None``: not seen yet), indexed by partition number."""

    lags: tuple[int, ...]
    committed: tuple[int | None, ...]
    previous: tuple[int | None, ...]


@dataclass(frozen=True)
class KafkaLag:
    """The scaler's result: ``total``, the metric the HPA divides by the threshold, and
    ``with_persistent``, the uncapped sum with persistent partitions, for activation."""

    total: int
    with_persistent: int


def partition_lag(
    lag: int, committed: int | None, previous: int | None, spec: Scaling
) -> tuple[int, int]:
    """One partition's (lag, lag with persistent) as ``getLagForPartition`` returns them;
    ``lag`` is the newest offset minus the committed one (the newest offset if none)."""
    if committed is None:
        if spec.scale_to_zero_on_invalid_offset:
            return 0, 0
        invalid = 1 if spec.offset_reset_policy == "latest" else lag
        return invalid, invalid
    if spec.exclude_persistent_lag and previous is not None and previous == committed:
        return 0, lag
    return lag, lag


def factors(n: int) -> list[int]:
    """The factors of ``n`` in increasing order (KEDA's ``FindFactors``)."""
    small = [i for i in range(1, int(n**0.5) + 1) if n % i == 0]
    return sorted({*small, *(n // i for i in small)})


def kafka_total_lag(reading: PartitionReading, spec: Scaling) -> KafkaLag:
    """``getTotalLag`` over the partitions of ``reading`` with the policy's settings."""
    assert spec.target is not None
    threshold = int(spec.target)
    counted = _counted(len(reading.lags), spec.partition_limitation)
    total = with_persistent = with_lag = 0
    for p in counted:
        lag, persistent = partition_lag(
            reading.lags[p], reading.committed[p], reading.previous[p], spec
        )
        total += lag
        with_persistent += persistent
        with_lag += lag > 0
    even = spec.ensure_even_distribution_of_partitions
    if not spec.allow_idle_consumers or spec.limit_to_partitions_with_lag or even:
        bound = len(counted)
        if even:
            covering = [f for f in factors(len(counted)) if f * threshold >= total]
            total = (covering[0] if covering else len(counted)) * threshold
        if spec.limit_to_partitions_with_lag:
            bound = with_lag
        if total // threshold > bound:
            total = bound * threshold
    return KafkaLag(total=total, with_persistent=with_persistent)


def _counted(partitions: int, limitation: Sequence[int] | None) -> list[int]:
    """The partitions the scaler reads: all, or those of ``partition_limitation`` that exist
    (``isActivePartition``); none existing is KEDA's "expected at least one active
    partition"."""
    if limitation is None:
        return list(range(partitions))
    counted = sorted({p for p in limitation if 0 <= p < partitions})
    if not counted:
        raise ValueError(
            f"partition_limitation {list(limitation)} names no partition of a topic of "
            f"{partitions}: KEDA expects at least one active partition"
        )
    return counted
