"""A consumer pool whose replica count can change during the run (scaling).

New replicas start after a drawn ``startup`` (cold start) and only then consume. A replica
removed with ``scale_down: drain`` is cancelled (basic.cancel): it receives nothing more,
finishes and acks what it holds, then exits; with ``requeue`` its channel closes at once, its
unacked deliveries are requeued and its work in progress is lost. Replicas still starting are
removed first, then the newest. Replica-seconds count every replica from its creation to its
exit (starting and draining replicas cost money too). An AWS Lambda pool (its state's
``bill``) is billed per invocation instead: each replica added later cold starts, and its INIT
time is billed.
"""

from __future__ import annotations

from collections.abc import Callable

from qsim.engine.broker import Broker
from qsim.engine.results import PoolRun, RetryRun
from qsim.engine.worker import PoolState, Worker

Draw = Callable[[], float]


class Pool:
    """The replicas of one pool, and the time-weighted count of them."""

    def __init__(
        self,
        name: str,
        broker: Broker,
        state: PoolState,
        make: Callable[[], Worker],
        startup: Draw | None,
        drain: bool,
        concurrency: int = 1,
    ) -> None:
        self.name = name
        self.concurrency = concurrency
        self.broker = broker
        self.state = state
        self._make = make
        self._startup = startup
        self._drain = drain
        self.replicas: list[Worker] = []
        self.scale_ups = self.scale_downs = 0
        self.max_replicas = 0
        self._area = 0.0
        self._since = state.window_start
        self._count = 0

    # -- replica count over time ------------------------------------------------------------
    def _tick(self) -> None:
        now = self.broker.env.now
        start = max(self._since, self.state.window_start)
        if now > start:
            self._area += self._count * (now - start)
        self._since = max(self._since, now)
        self._count = len(self.replicas)
        self.max_replicas = max(self.max_replicas, self._count)

    def replica_seconds(self) -> float:
        """Replica-seconds within the measured window (call at the end of the run)."""
        self._tick()
        return self._area

    def billed_so_far(self) -> dict[str, float]:
        """What it is billed on in the measured window so far, by ``cost`` item: a pool of
        replicas its ``replica_seconds``, a function pool its ``gb_seconds`` and
        ``invocations``."""
        bill = self.state.bill
        if bill is None:  # read, not ticked: splitting the sum would change its last digits
            now = self.broker.env.now
            start = max(self._since, self.state.window_start)
            open_stretch = self._count * (now - start) if now > start else 0.0
            return {"replica_seconds": self._area + open_stretch}
        return {"gb_seconds": bill.gb_seconds, "invocations": float(bill.invocations)}

    def report(
        self,
        replicas: int,
        window: float,
        figures: dict[str, int],
        publish: dict[str, int],
        retry: RetryRun | None,
    ) -> PoolRun:
        """This pool's figures: ``replicas`` at the start, ``figures`` its delivery model counted
        for it (``channel_closures``, ``consumer_timeouts``, ``lost_in_crash``), ``publish`` its
        onward books, ``retry`` what its consumer-side retry did (None without one)."""
        return PoolRun(
            name=self.name,
            replicas=replicas,
            concurrency=self.concurrency,
            busy_time=self.state.busy_time,
            window=window,
            replica_seconds=self.replica_seconds(),
            replicas_max=self.max_replicas,
            scale_ups=self.scale_ups,
            scale_downs=self.scale_downs,
            crashes=self.state.crashes,
            channel_closures=figures["channel_closures"],
            consumer_timeouts=figures["consumer_timeouts"],
            lost_in_crash=figures["lost_in_crash"],
            publish=publish,
            function=(
                self.state.bill.report(self.state.timeouts, self.max_replicas)
                if self.state.bill is not None
                else None
            ),
            retry=retry,
        )

    @property
    def size(self) -> int:
        """Replicas counted toward the desired count: not leaving (starting ones included)."""
        return sum(1 for c in self.replicas if not c.draining)

    @property
    def working(self) -> int:
        """Replicas working on or holding messages (a Lambda's batches in progress)."""
        return sum(1 for c in self.replicas if c.busy or c.buffer)

    # -- changes ----------------------------------------------------------------------------
    def start(self, replicas: int) -> None:
        """The replicas running when the scenario starts (no cold start)."""
        for _ in range(replicas):
            self._add().start_consuming()

    def scale_to(self, desired: int) -> None:
        """Add or remove replicas until ``desired`` are running or starting."""
        current = self.size
        if desired > current:
            self.scale_ups += 1
            for _ in range(desired - current):
                worker = self._add()
                delay = self._startup() if self._startup else 0.0
                if self.state.bill is not None:
                    self.state.bill.cold_start(self.broker.env.now, delay)
                self.broker.after(delay, lambda c: c.start_consuming(), worker)
        elif desired < current:
            self.scale_downs += 1
            staying = [c for c in self.replicas if not c.draining]
            for worker in _newest_first(staying, current - desired):
                self._remove(worker)

    def _add(self) -> Worker:
        self._tick()
        worker = self._make()
        worker.on_exit = self._exited
        self.replicas.append(worker)
        self._tick()
        return worker

    def _remove(self, worker: Worker) -> None:
        if not worker.started:
            worker.exit()
        elif self._drain:
            worker.cancel()
        else:
            worker.terminate()

    def _exited(self, worker: Worker) -> None:
        self._tick()
        self.replicas.remove(worker)
        self._tick()


def _newest_first(replicas: list[Worker], n: int) -> list[Worker]:
    """The ``n`` replicas to remove: those still starting, then the most recently created."""
    order = sorted(range(len(replicas)), key=lambda i: (replicas[i].started, -i))
    return [replicas[i] for i in order[:n]]
