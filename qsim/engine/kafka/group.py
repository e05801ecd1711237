"""A consumer group: its members, who owns which partition, and its rebalances (the classic
group protocol of the Java client, KIP-429 for cooperative rebalancing; ``docs/semantics.md``,
"Kafka").

- Membership: a member joins when its replica starts (or restarts after a crash: a new member
  id), leaves when it is closed (a drained scale-down), is *expelled* once the coordinator
  misses its heartbeats for ``session_timeout`` (a crash: heartbeats every
  ``heartbeat_interval`` from its join, so it is noticed ``session_timeout`` after the last one
  it sent), and is put out when it does not poll again within ``max_poll_interval``
  (``AbstractCoordinator`` heartbeat thread: "consumer poll timeout has expired").
- Every join, leave, expulsion and put-out starts a rebalance round. A round's *join phase*
  waits for every live member to rejoin, which each does at its next poll (after finishing the
  batch it is processing), and for every crashed member to be expelled; then the *sync phase*
  takes ``rebalance_time`` and the leader's assignor hands out the partitions (member ids are
  given in join order, so the Java client's sorting by id keeps that order).
- Eager protocol (``range``, ``roundrobin``): a member revokes all its partitions when it
  rejoins (committing first, with auto-commit: ``ConsumerCoordinator.onJoinPrepare``), so
  every partition pauses from then until the sync phase ends.
- Cooperative protocol (``cooperative-sticky``): members keep fetching through the round; at
  its end only partitions that move from one live owner to another are revoked (by their owner
  at its next poll), and once all are revoked a second round assigns them
  (:func:`~qsim.engine.kafka.assignors.first_rebalance`): only they pause.
- A partition is *paused* while no live member fetches it: revoked, unassigned, or owned by a
  crashed member not yet expelled (its records stall). ``paused_partition_seconds`` adds that
  up over the measured window; ``idle_consumers`` is the level of live members owning nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from qsim.engine.kafka.assignors import ASSIGNORS, PROTOCOLS, first_rebalance
from qsim.engine.kafka.books import PartitionBooks
from qsim.engine.log.level import Level
from qsim.engine.results import GroupRun

if TYPE_CHECKING:
    from qsim.engine.kafka.member import Member
    from qsim.engine.kafka.topic import Topic
    from qsim.scenario import ConsumerPool


class Membership:
    """One member id in the group: the member behind it (None once it is gone), whether its
    process is alive, its partitions, and whether it has rejoined the current round."""

    __slots__ = ("alive", "id", "joined", "member", "partitions", "since")

    def __init__(self, number: int, member: Member, now: float) -> None:
        self.id = f"m{number:09d}"  # sorted ids keep the join order
        self.member: Member | None = member
        self.alive = True
        self.partitions: list[int] = []
        self.joined = True  # a new member joins the round in progress
        self.since = now  # its heartbeats run from here


class ConsumerGroup:
    """The group of pool ``spec`` on ``topic``: memberships in join order, owners, rounds."""

    def __init__(self, topic: Topic, spec: ConsumerPool, draw: Callable[[], float]) -> None:
        assert spec.assignor is not None and spec.session_timeout is not None
        assert spec.heartbeat_interval is not None
        self.topic = topic
        self.env = topic.env
        self.name = spec.name
        self.spec = spec
        self.assign = ASSIGNORS[spec.assignor]
        self.eager = PROTOCOLS[spec.assignor] == "eager"
        self.session_timeout = spec.session_timeout
        self.heartbeat = spec.heartbeat_interval
        self.rebalance_time = draw
        count = len(topic.partitions)
        self.books = [
            PartitionBooks(p, log, topic.index, topic.recorder, topic.lag)
            for p, log in enumerate(topic.partitions)
        ]
        self.members: list[Membership] = []
        self.owner: list[Membership | None] = [None] * count
        self._paused_since: list[float | None] = [topic.env.now] * count
        self.paused_area = 0.0
        self.window_start = topic.recorder.warmup
        self.idle = Level()
        self.rebalances = self.kicked = 0
        self.joining = False  # a round's join phase is open
        self.syncing = False  # ... its sync phase is running
        self.again = False  # another round is due when this one ends
        self.revoking: set[int] = set()  # cooperative: partitions their owners still revoke
        self._joined = 0  # member ids handed out

    # -- membership ------------------------------------------------------------------------
    def join(self, member: Member) -> None:
        """``member`` joins (a JoinGroup with no member id, so a new one): a rebalance."""
        self._joined += 1
        membership = Membership(self._joined, member, self.env.now)
        member.membership = membership
        self.members.append(membership)
        self._count_idle()
        self.trigger()

    def leave(self, membership: Membership) -> None:
        """A closed consumer leaves the group (LeaveGroup): a rebalance."""
        self._remove(membership)
        self.trigger()

    def put_out(self, membership: Membership) -> None:
        """A member did not poll within ``max_poll_interval``: it leaves the group."""
        self.kicked += 1
        self._remove(membership)
        self.trigger()

    def crashed(self, membership: Membership) -> None:
        """The member's process died: its partitions stall until the coordinator, missing its
        heartbeats, expels it ``session_timeout`` after the last heartbeat it sent."""
        now = self.env.now
        membership.alive = False
        membership.member = None
        for p in membership.partitions:
            self._pause(p, now)
        self._count_idle()
        beats = math.floor((now - membership.since) / self.heartbeat)
        expiry = membership.since + beats * self.heartbeat + self.session_timeout
        self.topic.broker.after(max(0.0, expiry - now), self._expel, membership)

    def _expel(self, membership: Membership) -> None:
        if membership in self.members:
            self._remove(membership)
            self.trigger()

    def _remove(self, membership: Membership) -> None:
        now = self.env.now
        self.members.remove(membership)
        for p in membership.partitions:
            self._set_owner(p, None, now)
            self.revoking.discard(p)
        membership.partitions = []
        membership.member = None
        self._count_idle()
        self._maybe_sync()

    # -- rounds --------------------------------------------------------------------------------
    def trigger(self) -> None:
        """Something changed the membership: start a round, or another after this one."""
        if self.syncing or self.revoking:
            self.again = True
        elif not self.joining:
            self._start_round()

    def _start_round(self) -> None:
        self.joining = True
        self.again = False
        for membership in self.members:
            membership.joined = False
        for membership in list(self.members):
            if membership.alive and membership.member is not None:
                membership.member.round_started()
        self._maybe_sync()

    def wants_rejoin(self, membership: Membership) -> bool:
        """Whether the member has still to rejoin the round in its join phase."""
        return self.joining and not membership.joined

    def rejoin(self, membership: Membership) -> None:
        """The member rejoins at its poll: with the eager protocol it revokes everything."""
        membership.joined = True
        if self.eager:
            now = self.env.now
            for p in membership.partitions:
                self._set_owner(p, None, now)
            membership.partitions = []
            self._count_idle()
        self._maybe_sync()

    def _maybe_sync(self) -> None:
        """The join phase ends once every member still in the group is alive and rejoined."""
        if self.joining and all(m.alive and m.joined for m in self.members):
            self.joining = False
            self.syncing = True
            self.topic.broker.after(self.rebalance_time(), self._synced, None)

    def _synced(self, _: None) -> None:
        """The leader's assignment reaches the members."""
        self.syncing = False
        self.rebalances += 1
        ids = [m.id for m in self.members]
        previous = {m.id: list(m.partitions) for m in self.members}
        target = self.assign(ids, len(self.owner), previous)
        if not self.eager:
            target = first_rebalance(previous, target)
        now = self.env.now
        by_id = {m.id: m for m in self.members}
        for member_id, partitions in target.items():
            membership = by_id[member_id]
            kept = set(partitions)
            for p in membership.partitions:
                if p not in kept:
                    self.revoking.add(p)  # its owner revokes it at its next poll
            for p in partitions:
                if self.owner[p] is not membership:
                    self._set_owner(p, membership, now)
                    membership.partitions.append(p)
            membership.partitions.sort()
        self._count_idle()
        for membership in list(self.members):
            if membership.member is not None:
                membership.member.assigned()
        self._after_round()

    def revoked(self, membership: Membership, p: int) -> None:
        """A cooperative member gave up ``p`` at its poll (having committed it)."""
        if p in membership.partitions:
            membership.partitions.remove(p)
            self._set_owner(p, None, self.env.now)
            self._count_idle()
        self.revoking.discard(p)
        self._after_round()

    def _after_round(self) -> None:
        """A second cooperative round follows the revocations, or another round is due."""
        if self.revoking or self.syncing or self.joining:
            return
        unowned = any(owner is None for owner in self.owner) and self.members
        if self.again or (not self.eager and unowned):
            self._start_round()

    # -- ownership and pauses ----------------------------------------------------------------
    def owned_by(self, membership: Membership, p: int) -> bool:
        """Whether ``membership`` owns ``p`` now (its commits of ``p`` count)."""
        return self.owner[p] is membership

    def _set_owner(self, p: int, owner: Membership | None, now: float) -> None:
        previous = self.owner[p]
        if previous is not None and owner is None and p in previous.partitions:
            previous.partitions.remove(p)
        self.owner[p] = owner
        if owner is None or not owner.alive:
            self._pause(p, now)
        else:
            self._resume(p, now)

    def _pause(self, p: int, now: float) -> None:
        if self._paused_since[p] is None:
            self._paused_since[p] = now

    def _resume(self, p: int, now: float) -> None:
        since = self._paused_since[p]
        if since is not None:
            self.paused_area += max(0.0, now - max(since, self.window_start))
            self._paused_since[p] = None

    def _count_idle(self) -> None:
        idle = sum(1 for m in self.members if m.alive and not m.partitions)
        self.idle.add(idle - self.idle.value, self.env.now)

    # -- the log -----------------------------------------------------------------------------
    def appended(self, p: int, now: float) -> None:
        """A record was appended to ``p``: its owner, if waiting in poll, gets it now."""
        self.books[p].appended(now)
        owner = self.owner[p]
        if owner is not None and owner.member is not None:
            owner.member.wake()

    # -- end of run --------------------------------------------------------------------------
    def settle_books(self) -> None:
        """Check each partition's books against what the members hold."""
        held = [0] * len(self.books)
        for member in self.topic.members_of(self.name):
            for p, count in member.held().items():
                held[p] += count
        for p, books in enumerate(self.books):
            books.settle_books(f"{self.topic.name}[{p}] group {self.name}", held[p])

    def paused_seconds(self, now: float) -> float:
        """Paused partition-seconds within the window so far (those still paused count to now)."""
        start = self.window_start
        running = sum(
            max(0.0, now - max(since, start)) for since in self._paused_since if since is not None
        )
        return self.paused_area + running

    def report(self, window: float, now: float) -> GroupRun:
        """The group's figures over the measured ``window`` (ending ``now``)."""
        books = self.books
        return GroupRun(
            rebalances=self.rebalances,
            idle_consumers=self.idle.report(window, now),
            paused_partition_seconds=self.paused_seconds(now),
            retries=sum(b.failed for b in books),
            dead_lettered=sum(b.moved for b in books),
            skipped=sum(b.given_up for b in books),
            kicked=self.kicked,
            interrupted=sum(b.interrupted for b in books),
        )
