"""Kafka's partition assignors for one topic, against the Java client's javadoc and tests.

Hand-checked cases come from apache/kafka clients/src/main/java/org/apache/kafka/clients/
consumer/RangeAssignor.java and RoundRobinAssignor.java (javadoc examples) and from
clients/src/test/java/.../RangeAssignorTest.java and internals/AbstractStickyAssignorTest.java.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from qsim.engine.kafka.assignors import (
    ASSIGNORS,
    PROTOCOLS,
    cooperative_rebalance,
    cooperative_sticky,
    range_assignor,
    revoked_in_first_rebalance,
    round_robin,
)


def test_range_gives_the_first_members_one_extra_partition():
    """RangeAssignor javadoc: C0 and C1 over a topic of 3 partitions: C0 [p0, p1], C1 [p2]."""
    assert range_assignor(["C1", "C0"], 3, {}) == {"C0": [0, 1], "C1": [2]}


def test_range_leaves_members_beyond_the_partition_count_idle():
    """RangeAssignorTest.testTwoConsumersOneTopicOnePartition: consumer2 gets nothing."""
    assert range_assignor(["consumer1", "consumer2"], 1, {}) == {
        "consumer1": [0],
        "consumer2": [],
    }


def test_round_robin_deals_partitions_in_a_circle():
    """RoundRobinAssignor javadoc: C0, C1 and partitions t0p0..t0p2, t1p0..t1p2 laid out as
    one sequence give C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2]: positions 0, 2, 4 and
    1, 3, 5 of a six-partition topic."""
    assert round_robin(["C0", "C1"], 6, {}) == {"C0": [0, 2, 4], "C1": [1, 3, 5]}


def test_members_are_ordered_by_id_lexicographically():
    """The Java client sorts member ids as strings: "c10" comes before "c2"."""
    assert range_assignor(["c2", "c10"], 2, {}) == {"c10": [0], "c2": [1]}


def test_sticky_adds_and_removes_a_consumer_as_the_java_test_expects():
    """AbstractStickyAssignorTest.testAddRemoveConsumerOneTopic: 3 partitions; consumer1
    alone owns all; consumer2 joins and takes p2 only (the one transfer); consumer1 leaves and
    consumer2 takes everything."""
    alone = cooperative_sticky(["consumer1"], 3, {})
    joined = cooperative_sticky(["consumer1", "consumer2"], 3, alone)
    left = cooperative_sticky(["consumer2"], 3, joined)
    assert (alone, joined, sorted(left["consumer2"])) == (
        {"consumer1": [0, 1, 2]},
        {"consumer1": [0, 1], "consumer2": [2]},
        [0, 1, 2],
    )
    assert revoked_in_first_rebalance(alone, joined) == [2]
    assert revoked_in_first_rebalance(joined, left) == []


def test_sticky_fills_members_to_quota_without_moving_anything():
    """AbstractStickyAssignorTest.testAllConsumersReachExpectedQuotaAndAreConsideredFilled:
    4 partitions, consumer1 owns [p0, p1], consumer2 [p2], consumer3 nothing: consumer3 gets p3
    and no partition transfers."""
    previous = {"consumer1": [0, 1], "consumer2": [2], "consumer3": []}
    target = cooperative_sticky(["consumer1", "consumer2", "consumer3"], 4, previous)
    assert target == {"consumer1": [0, 1], "consumer2": [2], "consumer3": [3]}
    assert revoked_in_first_rebalance(previous, target) == []


def test_a_partition_claimed_twice_is_invalidated_and_reassigned():
    """Two members of one generation claiming p0 both lose it (allSubscriptionsEqual); it is
    revoked from both in the first cooperative rebalance."""
    previous = {"a": [0, 1], "b": [0]}
    target = cooperative_sticky(["a", "b"], 2, previous)
    assert target == {"a": [1], "b": [0]} and revoked_in_first_rebalance(previous, target) == [0]


def test_eager_assignors_and_the_cooperative_one_are_registered_by_client_name():
    """partition.assignment.strategy names; range and roundrobin rebalance eagerly."""
    assert (sorted(ASSIGNORS), PROTOCOLS["range"], PROTOCOLS["cooperative-sticky"]) == (
        ["cooperative-sticky", "range", "roundrobin"],
        "eager",
        "cooperative",
    )


def test_duplicate_member_ids_are_refused():
    """A group's member ids are unique."""
    with pytest.raises(ValueError, match="unique"):
        round_robin(["a", "a"], 2, {})


# -- properties ---------------------------------------------------------------------------------

MEMBER_IDS = st.lists(st.sampled_from([f"c{i}" for i in range(12)]), unique=True, max_size=10)


@st.composite
def groups(draw):
    """(members now, partitions, a valid previous assignment): each partition owned by at most
    one member, previous owners possibly gone from the group."""
    partitions = draw(st.integers(min_value=1, max_value=40))
    members = draw(MEMBER_IDS.filter(bool))
    before = draw(st.lists(st.sampled_from([f"c{i}" for i in range(12)]), unique=True))
    owners = (
        draw(st.lists(st.sampled_from([*before, None]), min_size=partitions, max_size=partitions))
        if before
        else [None] * partitions
    )
    previous: dict[str, list[int]] = {}
    for partition, owner in enumerate(owners):
        if owner is not None:
            previous.setdefault(owner, []).append(partition)
    return members, partitions, previous


@pytest.mark.parametrize("name", sorted(ASSIGNORS))
@given(group=groups())
def test_every_partition_is_assigned_exactly_once_to_a_member(name, group):
    """Each partition appears once over all lists; every member has a list."""
    members, partitions, previous = group
    assignment = ASSIGNORS[name](members, partitions, previous)
    owned = sorted(p for ps in assignment.values() for p in ps)
    assert (owned, sorted(assignment)) == (list(range(partitions)), sorted(members))


@pytest.mark.parametrize("name", sorted(ASSIGNORS))
@given(group=groups())
def test_assignments_are_balanced_within_one(name, group):
    """One topic, every member subscribed: counts differ by at most one."""
    members, partitions, previous = group
    counts = [len(ps) for ps in ASSIGNORS[name](members, partitions, previous).values()]
    assert max(counts) - min(counts) <= 1


def _fewest_moves(members, partitions, previous) -> int:
    """The fewest partitions a balanced assignment must take from a present owner: each
    member above floor(P/N) gives up the excess, except that ``P mod N`` members may keep one
    more; members at or above ceil(P/N) use those slots first."""
    quota, extra = divmod(partitions, len(members))
    counts = [len(set(previous.get(m, ()))) for m in members]
    excess = sum(max(0, c - quota) for c in counts)
    return excess - min(extra, sum(1 for c in counts if c > quota))


@given(group=groups())
def test_sticky_moves_the_fewest_partitions_a_balanced_assignment_can(group):
    """Any previous assignment, any join or leave: revoked partitions = the lower bound."""
    members, partitions, previous = group
    target = cooperative_sticky(members, partitions, previous)
    assert len(revoked_in_first_rebalance(previous, target)) == _fewest_moves(
        members, partitions, previous
    )


@given(group=groups(), joiner=st.sampled_from(["n0", "n1"]))
def test_a_join_to_a_balanced_group_moves_only_what_the_newcomer_takes(group, joiner):
    """From a sticky assignment, one member joining: every revoked partition goes to the
    newcomer, and it gets floor(P/(N+1)) or ceil of it."""
    members, partitions, previous = group
    before = cooperative_sticky(members, partitions, previous)
    after = cooperative_sticky([*members, joiner], partitions, before)
    revoked = revoked_in_first_rebalance(before, after)
    assert set(revoked) <= set(after[joiner])
    assert len(after[joiner]) in {
        partitions // (len(members) + 1),
        -(-partitions // (len(members) + 1)),
    }


@given(group=groups())
def test_a_leave_moves_nothing_the_remaining_members_own(group):
    """From a sticky (balanced) assignment, the first member leaving: every other member is at
    or below the new quota, so it keeps all it had and nothing is revoked."""
    members, partitions, previous = group
    assume(len(members) >= 2)
    before = cooperative_sticky(members, partitions, previous)
    stay = sorted(members)[1:]
    after = cooperative_sticky(stay, partitions, before)
    assert revoked_in_first_rebalance(before, after) == []


@given(group=groups())
def test_the_second_cooperative_rebalance_only_assigns_the_revoked_partitions(group):
    """The assignor run again on the interim assignment revokes nothing: every member keeps
    its interim partitions, and the result is balanced."""
    members, partitions, previous = group
    phases = cooperative_rebalance(members, partitions, previous)
    kept = all(set(phases.interim[m]) <= set(phases.final[m]) for m in members)
    counts = [len(ps) for ps in phases.final.values()]
    assert kept and revoked_in_first_rebalance(phases.interim, phases.final) == []
    assert max(counts) - min(counts) <= 1


def test_the_second_rebalance_may_give_a_revoked_partition_to_another_member():
    """c0 owns p0-p30 of 32; c1, c2 join (quotas 11, 11, 10). First run: c0 keeps p0-p10;
    p11-p31 go round-robin to c1, c2 (c1 p11, p13, ..., p29, p31; c2 p12, ..., p30), so
    p11-p30 are revoked. Interim: c0 p0-p10, c1 p31 (unowned before: assigned at once), c2
    none. Second run: c1 starts one ahead, reaches 10 at p27, c2 takes p28 and p29, and p30,
    the extra one, goes to c1: p29 and p30 end with other members than the first run named."""
    previous = {"c0": list(range(31))}
    phases = cooperative_rebalance(["c0", "c1", "c2"], 32, previous)
    assert phases.revoked == list(range(11, 31)) and phases.interim["c1"] == [31]
    assert sorted(phases.final["c1"]) == [*range(11, 28, 2), 30, 31]
    assert sorted(phases.final["c2"]) == [*range(12, 29, 2), 29]
