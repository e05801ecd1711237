"""Which consumer of a group owns which partition of one topic: the Java client's assignors.

An :data:`Assignor` maps ``(members, partitions, previous)`` to ``{member: [partition, ...]}``:
``members`` are the group's member ids now (in join order; each assignor sorts them as the Java
client does), ``partitions`` the topic's partition count, ``previous`` each member's partitions
before this rebalance (members no longer in the group may appear; they own nothing now). Every
member gets a list, empty when there are more members than partitions: those consumers sit idle.

From apache/kafka clients/src/main/java/org/apache/kafka/clients/consumer/ (``RangeAssignor``,
``RoundRobinAssignor``, ``CooperativeStickyAssignor``, internals/``AbstractStickyAssignor``):

- ``range``: members "in lexicographic order", partitions "in numeric order"; each member takes a
  contiguous range of ``partitions // members``, and "the first few consumers will have one
  extra partition" (RangeAssignor javadoc). Ignores ``previous``.
- ``roundrobin``: members sorted, partitions dealt out one at a time in a circle. Ignores
  ``previous``.
- ``cooperative-sticky``: balanced (counts within one) and sticky. With every member subscribed
  to the one topic, the Java client runs ``ConstrainedAssignmentBuilder``: each member keeps its
  lowest-numbered owned partitions up to its quota (``floor(P/N)``, or ``ceil(P/N)`` for the
  first ``P mod N`` members owning that many), the rest are revoked, and the unassigned
  partitions go round-robin to the sorted members still under quota. That moves the fewest
  partitions a balanced assignment can move.

Sorting is by member id, so the order is lexicographic: ``c10`` comes before ``c2``. Members
without ``group.instance.id`` (static membership) are all qsim models; with real member ids
(``client-id`` plus a UUID) the sorted order is effectively random against join order.

Where qsim differs from the Java client: the sticky builder's first step walks a Java
``HashMap`` of members, whose order decides *which* members at or above ``ceil(P/N)`` keep
the extra partition; qsim walks them sorted. *How many* partitions move does not depend on that
order (each extra slot saves one revocation whichever member gets it). Partitions claimed by
two members of one generation are invalidated, as ``allSubscriptionsEqual`` does. Rack-aware
assignment, generations and multi-topic subscriptions are not modelled.

The cooperative protocol (KIP-429; ``CooperativeStickyAssignor.adjustAssignment``) takes two
rebalances: the first hands out the target assignment minus every partition that changes from
one present owner to another; those owners revoke them (the only partitions that pause), and a
second rebalance, the assignor run again on the interim assignment, assigns them. That second
run revokes nothing, but it may hand a revoked partition to another member than the first
run's target did (the members it fills are the ones under quota *now*): the assignment the
group ends with is the second run's. :func:`revoked_in_first_rebalance` names the revoked
partitions, :func:`first_rebalance` gives the interim assignment and
:func:`cooperative_rebalance` runs both phases. The eager protocol (``range``, ``roundrobin``:
:data:`PROTOCOLS`) revokes everything at the start of every rebalance.

Kafka's default ``partition.assignment.strategy`` is ``[RangeAssignor,
CooperativeStickyAssignor]`` (ConsumerConfig.java), so a group starts on ``range``. The new
broker-side consumer group protocol of KIP-848 (``group.protocol=consumer``) is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "ASSIGNORS",
    "PROTOCOLS",
    "Assignor",
    "CooperativeRebalance",
    "cooperative_rebalance",
    "cooperative_sticky",
    "first_rebalance",
    "range_assignor",
    "revoked_in_first_rebalance",
    "round_robin",
]

Assignor = Callable[[Sequence[str], int, Mapping[str, Sequence[int]]], dict[str, list[int]]]
"""(members, partitions, previous assignment) -> each member's partitions."""


def _sorted_members(members: Sequence[str]) -> list[str]:
    """The members as the Java client orders them (``MemberInfo.compareTo``: by member id)."""
    ordered = sorted(members)
    if len(set(ordered)) != len(ordered):
        raise ValueError(f"member ids must be unique: {list(members)}")
    return ordered


def range_assignor(
    members: Sequence[str], partitions: int, previous: Mapping[str, Sequence[int]]
) -> dict[str, list[int]]:
    """``RangeAssignor`` for one topic: contiguous ranges, the first ``P mod N`` one longer."""
    ordered = _sorted_members(members)
    if not ordered:
        return {}
    share, extra = divmod(partitions, len(ordered))
    assignment, start = {}, 0
    for index, member in enumerate(ordered):
        end = start + share + (1 if index < extra else 0)
        assignment[member] = list(range(start, end))
        start = end
    return assignment


def round_robin(
    members: Sequence[str], partitions: int, previous: Mapping[str, Sequence[int]]
) -> dict[str, list[int]]:
    """``RoundRobinAssignor`` for one topic: partition ``p`` to sorted member ``p mod N``."""
    ordered = _sorted_members(members)
    if not ordered:
        return {}
    assignment: dict[str, list[int]] = {member: [] for member in ordered}
    for partition in range(partitions):
        assignment[ordered[partition % len(ordered)]].append(partition)
    return assignment


def _owned(
    ordered: list[str], partitions: int, previous: Mapping[str, Sequence[int]]
) -> dict[str, list[int]]:
    """Each present member's still-valid previous partitions, sorted by number: partitions of
    the topic, claimed by no other present member (``allSubscriptionsEqual`` invalidates a
    partition two members of one generation claim)."""
    claims: dict[int, int] = {}
    for member in ordered:
        for partition in set(previous.get(member, ())):
            claims[partition] = claims.get(partition, 0) + 1
    return {
        member: sorted(
            p for p in set(previous.get(member, ())) if 0 <= p < partitions and claims[p] == 1
        )
        for member in ordered
    }


def cooperative_sticky(
    members: Sequence[str], partitions: int, previous: Mapping[str, Sequence[int]]
) -> dict[str, list[int]]:
    """The sticky target assignment (``AbstractStickyAssignor.ConstrainedAssignmentBuilder``,
    one topic). Each member's list is its kept partitions in order, then the new ones in the
    order they were handed out, as the Java builder returns them."""
    ordered = _sorted_members(members)
    if not ordered:
        return {}
    count = len(ordered)
    min_quota, max_quota = partitions // count, -(-partitions // count)
    expected_over = partitions % count  # members that end with max_quota when it differs
    owned = _owned(ordered, partitions, previous)
    assignment: dict[str, list[int]] = {member: [] for member in ordered}
    under_min: list[str] = []  # unfilledMembersWithUnderMinQuotaPartitions
    exactly_min: list[str] = []  # unfilledMembersWithExactlyMinQuotaPartitions
    over = 0  # currentNumMembersWithOverMinQuotaPartitions
    for member in ordered:  # assignOwnedPartitions
        mine = owned[member]
        if len(mine) < min_quota:
            assignment[member] = mine
            under_min.append(member)
        elif len(mine) >= max_quota and over < expected_over:
            over += 1
            if over == expected_over:
                exactly_min.clear()
            assignment[member] = mine[:max_quota]
        else:
            assignment[member] = mine[:min_quota]
            if over < expected_over:
                exactly_min.append(member)
    taken = {p for kept in assignment.values() for p in kept}
    unassigned = [p for p in range(partitions) if p not in taken]
    _fill_round_robin(assignment, unassigned, sorted(under_min), sorted(exactly_min), min_quota)
    return assignment


def _fill_round_robin(
    assignment: dict[str, list[int]],
    unassigned: list[int],
    under_min: list[str],
    exactly_min: list[str],
    min_quota: int,
) -> None:
    """``assignRoundRobin``: the unassigned partitions to the members under ``min_quota`` in
    turn (one leaving the turn when it reaches ``min_quota``), then one each to the members at
    exactly ``min_quota`` that may still take the extra partition."""
    turn = 0  # the position of Java's iterator over under_min
    for partition in unassigned:
        if turn < len(under_min):
            member, from_turn = under_min[turn], True
        elif under_min:
            turn, member, from_turn = 0, under_min[0], True
        elif exactly_min:
            member, from_turn = exactly_min.pop(0), False
        else:
            raise AssertionError(f"no unfilled member left for partition {partition}")
        assignment[member].append(partition)
        if len(assignment[member]) == min_quota:
            under_min.pop(turn)  # unfilledConsumerIter.remove()
            exactly_min.append(member)
        elif from_turn:
            turn += 1


def revoked_in_first_rebalance(
    previous: Mapping[str, Sequence[int]], target: Mapping[str, Sequence[int]]
) -> list[int]:
    """The partitions revoked in the first rebalance of the cooperative protocol: those a
    member still in the group (a key of ``target``) owned before and does not own in
    ``target``. Partitions of members that left are not revoked: they are unowned and
    assigned at once."""
    return sorted(
        {
            partition
            for member, owned in previous.items()
            if member in target
            for partition in set(owned) - set(target[member])
        }
    )


def first_rebalance(
    previous: Mapping[str, Sequence[int]], target: Mapping[str, Sequence[int]]
) -> dict[str, list[int]]:
    """The interim assignment after the first cooperative rebalance: ``target`` without the
    revoked partitions, which the second rebalance then assigns (``adjustAssignment``)."""
    revoked = set(revoked_in_first_rebalance(previous, target))
    return {member: [p for p in owned if p not in revoked] for member, owned in target.items()}


@dataclass(frozen=True)
class CooperativeRebalance:
    """The two phases of one cooperative rebalance: ``revoked`` pause from the first
    rebalance to the second; ``interim`` is the assignment in between, ``final`` after."""

    revoked: list[int]
    interim: dict[str, list[int]]
    final: dict[str, list[int]]


def cooperative_rebalance(
    members: Sequence[str], partitions: int, previous: Mapping[str, Sequence[int]]
) -> CooperativeRebalance:
    """Both rebalances of the cooperative protocol with ``cooperative-sticky``: the assignor
    on ``previous``, the revoked partitions taken out, then the assignor on the interim."""
    target = cooperative_sticky(members, partitions, previous)
    interim = first_rebalance(previous, target)
    return CooperativeRebalance(
        revoked=revoked_in_first_rebalance(previous, target),
        interim=interim,
        final=cooperative_sticky(members, partitions, interim),
    )


ASSIGNORS: dict[str, Assignor] = {
    "range": range_assignor,
    "roundrobin": round_robin,
    "cooperative-sticky": cooperative_sticky,
}
"""Assignors by their ``partition.assignment.strategy`` name (each class's ``name()``)."""

PROTOCOLS: dict[str, str] = {
    "range": "eager",
    "roundrobin": "eager",
    "cooperative-sticky": "cooperative",
}
"""Each assignor's rebalance protocol (``supportedProtocols``: EAGER unless overridden)."""
