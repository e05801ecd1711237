"""Shared downstream limits that consumer jobs wait for: connection pools and rate limits.

A job of a pool that ``uses`` resources asks each of them in turn, in the order the scenario's
``resources`` section lists them (one global order, so two pools asking for the same two
resources can never deadlock), and starts its service once all have granted. Each resource
serves its waiters first come, first served.

- :class:`Connections` (``connections: c``): at most ``c`` jobs hold it at once, each from its
  grant to the end of its service, as a client-side connection pool lends connections (HikariCP:
  threads beyond ``maximumPoolSize`` wait for a connection to be returned). A job whose process
  crashes releases its connection then (the connection closes with the process). Not modelled:
  the pool's ``connectionTimeout`` (30 s by default in HikariCP, after which the borrower
  fails); here a job waits as long as it takes.
- :class:`TokenBucket` (``rate: r, burst: b``): a bucket of ``b`` tokens, full at the start,
  refilled at ``r`` per second; each job takes one token as it starts and holds nothing. This is
  a client-side limiter that makes the caller wait, as Guava's ``RateLimiter.acquire()`` does
  ("blocks if necessary until a permit is available ... permits need not be released"). A
  server-side throttle that refuses the excess (API Gateway's token bucket answers 429 Too Many
  Requests) is not modelled: no job fails for lack of a token.

Each reports its own figures (:class:`~qsim.engine.results.ResourceRun`): the wait of every
request asked within the measured window, the time-weighted number of waiting jobs, how many
connections were held (or tokens taken), and its utilisation.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
from simpy.events import Timeout

from qsim.engine.results import LevelRun, ResourceRun
from qsim.sketch import LogSketch

if TYPE_CHECKING:
    import simpy

    from qsim.scenario.resources import Resource as ResourceSpec

FLUSH_EVERY = 65_536
"""Waits held before a streaming run moves them into the resource's sketch."""


class Request:
    """One job's request of one resource: ``grant`` is called (once) when it is granted."""

    __slots__ = ("asked_at", "grant")

    def __init__(self, asked_at: float, grant: Callable[[], None]) -> None:
        self.asked_at = asked_at
        self.grant = grant


class Limit(Protocol):
    """What a worker's job sees of a resource."""

    def ask(self, request: Request) -> bool:
        """Grant at once (True), or queue ``request`` and call its ``grant`` later (False)."""

    def release(self) -> None:
        """A job that was granted the resource ended (nothing for a rate limit)."""

    def withdraw(self, request: Request) -> None:
        """A waiting request is gone (its process crashed): it will never be granted."""

    def report(self) -> ResourceRun:
        """Its figures over the measured window."""

    def settle_books(self, holders: int) -> None:
        """End of run: ``holders`` jobs hold it now; no request waits while it could be granted."""


class _Level:
    """A count over time: time-weighted mean and maximum within the window, value at the end."""

    __slots__ = ("area", "env", "maximum", "since", "value", "window")

    def __init__(self, env: simpy.Environment, window: tuple[float, float]) -> None:
        self.env = env
        self.window = window
        self.value = 0
        self.area = 0.0
        self.maximum = 0
        self.since = window[0]

    def move(self, by: int) -> None:
        """Change the level by ``by`` now."""
        now = self.env.now
        start, end = self.window
        until = min(now, end)
        if until > self.since:
            self.area += self.value * (until - self.since)
            self.since = until
        self.value += by
        if start <= now <= end:
            self.maximum = max(self.maximum, self.value)

    def report(self) -> LevelRun:
        """Mean over the window (call at its end), maximum and final value."""
        self.move(0)
        start, end = self.window
        return LevelRun(self.area / (end - start) if end > start else 0.0, self.maximum, self.value)


class _Shared:
    """What both kinds share: the waiters in order, the waits recorded, the levels."""

    def __init__(
        self, env: simpy.Environment, name: str, window: tuple[float, float], stream: float | None
    ) -> None:
        self.env = env
        self.name = name
        self.window = window
        self.waiting: deque[Request] = deque()
        self.queue = _Level(env, window)
        self.requests = 0  # asked within the window (and granted)
        self.waited = 0  # of those, not granted at once
        self.waits = array("d")
        self.sketch = None if stream is None else LogSketch(stream)

    def _granted(self, request: Request) -> None:
        """Record the wait of a request granted now."""
        if self.window[0] <= request.asked_at < self.window[1]:
            wait = self.env.now - request.asked_at
            self.requests += 1
            self.waited += wait > 0
            self.waits.append(wait)
            if self.sketch is not None and len(self.waits) >= FLUSH_EVERY:
                self._flush()

    def _enqueue(self, request: Request) -> None:
        self.waiting.append(request)
        self.queue.move(1)

    def _next(self) -> Request:
        self.queue.move(-1)
        return self.waiting.popleft()

    def withdraw(self, request: Request) -> None:
        """A waiting request is gone: it leaves the line."""
        if request in self.waiting:
            self.waiting.remove(request)
            self.queue.move(-1)

    def _flush(self) -> None:
        if self.sketch is not None:
            self.sketch.add(np.frombuffer(self.waits, dtype=np.float64))
            del self.waits[:]

    def _run(
        self, kind: str, capacity: float, held: LevelRun | None, utilization: float
    ) -> ResourceRun:
        self._flush()
        return ResourceRun(
            name=self.name, kind=kind, capacity=capacity, requests=self.requests,
            waited=self.waited, waits=np.frombuffer(self.waits, dtype=np.float64).copy(),
            sketch=self.sketch, queue=self.queue.report(), held=held, utilization=utilization,
        )  # fmt: skip


class Connections(_Shared):
    """A pool of ``capacity`` connections, each held by one job from its grant to its end."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: int,
        window: tuple[float, float],
        stream: float | None,
    ) -> None:
        super().__init__(env, name, window, stream)
        self.capacity = capacity
        self.held = _Level(env, window)

    def ask(self, request: Request) -> bool:
        """Grant a free connection now, or wait in line."""
        if self.held.value < self.capacity and not self.waiting:
            self.held.move(1)
            self._granted(request)
            return True
        self._enqueue(request)
        return False

    def release(self) -> None:
        """A connection returns: the first waiter takes it, else it is free."""
        if self.waiting:
            request = self._next()
            self._granted(request)
            request.grant()
        else:
            self.held.move(-1)

    def settle_books(self, holders: int) -> None:
        """End of run: every connection held is held by a job in progress, at most
        ``capacity`` are, and nobody waits while one is free."""
        held = self.held.value
        if held != holders or not 0 <= held <= self.capacity:
            raise AssertionError(f"{self.name}: {held} connections held, {holders} jobs hold one")
        if self.waiting and held < self.capacity:
            raise AssertionError(f"{self.name}: {len(self.waiting)} wait, {held} held")

    def report(self) -> ResourceRun:
        """Its figures: utilisation is the mean of connections held over ``capacity``."""
        held = self.held.report()
        return self._run("connections", self.capacity, held, held.mean / self.capacity)


class TokenBucket(_Shared):
    """``burst`` tokens, full at the start, refilled at ``rate`` per second; a job takes one."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        rate: float,
        burst: int,
        window: tuple[float, float],
        stream: float | None,
    ) -> None:
        super().__init__(env, name, window, stream)
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.at = 0.0  # when ``tokens`` was last brought up to date
        self.taken = 0  # tokens taken within the window
        self.waking = False

    def _refill(self) -> None:
        now = self.env.now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def _take(self, request: Request) -> None:
        self.tokens -= 1.0
        self.taken += self.window[0] <= self.env.now < self.window[1]
        self._granted(request)

    def ask(self, request: Request) -> bool:
        """Take a token now, or wait in line for one."""
        self._refill()
        if not self.waiting and self.tokens >= 1.0:
            self._take(request)
            return True
        self._enqueue(request)
        self._wake_later()
        return False

    def release(self) -> None:
        """Nothing is held: a token is spent once taken."""

    def _wake_later(self) -> None:
        if not self.waking and self.waiting:
            self.waking = True
            delay = max(0.0, (1.0 - self.tokens) / self.rate)
            Timeout(self.env, delay).callbacks.append(self._wake)

    def _wake(self, _event: Timeout) -> None:
        self.waking = False
        self._refill()
        self.tokens = min(self.burst, self.tokens + 1e-9)  # rounding in the refill
        while self.waiting and self.tokens >= 1.0:
            request = self._next()
            self._take(request)
            request.grant()
        self._wake_later()

    def settle_books(self, holders: int) -> None:
        """End of run: the bucket holds at most ``burst`` tokens, and a waiter is woken."""
        self._refill()
        if self.tokens > self.burst + 1e-9 or (self.waiting and not self.waking):
            raise AssertionError(f"{self.name}: {self.tokens} tokens, {len(self.waiting)} wait")

    def report(self) -> ResourceRun:
        """Its figures: utilisation is tokens taken over those the rate offers in the window."""
        start, end = self.window
        offered = self.rate * (end - start)
        return self._run("rate", self.rate, None, self.taken / offered if offered else 0.0)


def build_limit(
    env: simpy.Environment,
    name: str,
    spec: ResourceSpec,
    window: tuple[float, float],
    stream: float | None,
) -> Limit:
    """The engine's resource for one entry of the scenario's ``resources``."""
    if spec.connections is not None:
        return Connections(env, name, spec.connections, window, stream)
    assert spec.rate is not None
    return TokenBucket(env, name, spec.rate, spec.burst or 1, window, stream)


class Claim:
    """One job's way through the resources it needs: it asks each in turn (each request timed
    from its own asking) and calls ``start`` once all have granted; at its end it releases
    them, or, if its process crashed, abandons them (a waiting request leaves the line)."""

    __slots__ = ("env", "held", "needs", "request", "start", "waiting_on")

    def __init__(self, env: simpy.Environment, needs: tuple[Limit, ...]) -> None:
        self.env = env
        self.needs = needs
        self.held = 0  # how many of ``needs`` (from the first) have granted
        self.request = Request(env.now, self._granted)
        self.waiting_on: Limit | None = None
        self.start: Callable[[], None] = _nothing

    def go(self) -> None:
        """Ask for the next resources; start the job once all have granted."""
        needs, request = self.needs, self.request
        while self.held < len(needs):
            request.asked_at = self.env.now
            limit = needs[self.held]
            if not limit.ask(request):
                self.waiting_on = limit
                return
            self.held += 1
        self.start()

    def _granted(self) -> None:
        self.waiting_on = None
        self.held += 1
        self.go()

    def holds(self, limit: Limit) -> bool:
        """Whether the job holds ``limit`` now."""
        return any(need is limit for need in self.needs[: self.held])

    def release(self) -> None:
        """The job ended: what it holds goes back."""
        held, self.held = self.held, 0
        for limit in self.needs[:held]:
            limit.release()

    def abandon(self) -> None:
        """Its process is gone: leave the line it waits in, give back what it holds."""
        if self.waiting_on is not None:
            self.waiting_on.withdraw(self.request)
            self.waiting_on = None
        self.release()


def _nothing() -> None:
    """A claim's ``start`` before its worker sets it."""
