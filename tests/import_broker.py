"""A known topology and known traffic on a real RabbitMQ, for ``qsim import``'s live test and
for recording its JSON fixture (``python tests/import_broker.py OUT.json``).

Everything lives in a fresh vhost, created and deleted through the management API, so nothing
touches other queues on the broker. Producers publish at constant rates (so the measured rates
have no Poisson noise) and consumers sleep a fixed time per message.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika

from qsim.engine.routing import MATCHERS
from qsim.scenario import Scenario

EXCHANGES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "shop": ("topic", [("orders", "*.order"), ("audit", "#")]),
    "alerts": ("fanout", [("email", ""), ("sms", "")]),
}
"""Exchange -> (type, [(queue, binding key)])."""
QUEUES: dict[str, dict[str, Any]] = {
    "orders": {
        "x-queue-type": "quorum", "x-delivery-limit": 5,
        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "orders.parked",
    },
    "orders.parked": {},
    "audit": {"x-max-length": 5000, "x-overflow": "reject-publish", "x-message-ttl": 600_000},
    "email": {"x-max-priority": 5},
    "sms": {"x-single-active-consumer": True},
}  # fmt: skip
"""Queue -> its declaration arguments."""
RATE_TOLERANCE = 0.10
"""The issue's bound on imported rates; the publishers run at constant rates."""


@dataclass(frozen=True)
class Publisher:
    """Publishes to ``exchange`` at ``rate`` per second, cycling through ``keys``."""

    exchange: str
    rate: float
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Pool:
    """``replicas`` consumers of ``queue``, each sleeping ``service`` seconds per message."""

    queue: str
    replicas: int
    prefetch: int
    service: float
    auto_ack: bool = False


PUBLISHERS = (
    Publisher("shop", 40.0, ("eu.order", "eu.order", "us.order", "audit.login")),
    Publisher("alerts", 10.0, ("",)),
)
"""orders gets 30/s (3 of 4 keys match ``*.order``), audit 40/s, email and sms 10/s each."""
POOLS = (
    Pool("orders", 3, 1, 0.050),  # 60/s of capacity for 30/s: half busy
    Pool("audit", 1, 10, 0.040),  # 25/s of capacity for 40/s: always busy, a backlog grows
    Pool("email", 1, 0, 0.020, auto_ack=True),
    Pool("sms", 2, 5, 0.020),  # single active consumer: one of the two receives
)
"""The consumers: prefetch, ack mode and service time per queue."""
BACKLOGGED = ("audit",)
"""Queues whose consumers cannot keep up: once a backlog shows, it stays (15/s more in than out
on audit)."""


class Management:
    """Just enough of the management API to make and remove a vhost (urllib, basic auth)."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
        token = f"{parts.username or 'guest'}:{parts.password or 'guest'}".encode()
        self.auth = "Basic " + base64.b64encode(token).decode()
        self.user = parts.username or "guest"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One request; the decoded JSON answer (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", self.auth)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None


def _quoted(vhost: str) -> str:
    return urllib.parse.quote(vhost, safe="")


@contextmanager
def fresh_vhost(management_url: str, vhost: str | None = None) -> Iterator[str]:
    """A new vhost (``vhost``, or a fresh name) the management URL's user may use, deleted
    afterwards."""
    api = Management(management_url)
    vhost = vhost or f"qsim-import-{uuid.uuid4().hex[:8]}"
    api.call("PUT", f"/api/vhosts/{_quoted(vhost)}", {})
    permissions = {"configure": ".*", "write": ".*", "read": ".*"}
    api.call("PUT", f"/api/permissions/{_quoted(vhost)}/{api.user}", permissions)
    try:
        yield vhost
    finally:
        api.call("DELETE", f"/api/vhosts/{_quoted(vhost)}")


def amqp_parameters(amqp_url: str, vhost: str) -> pika.URLParameters:
    """``amqp_url`` pointed at ``vhost``."""
    parts = urllib.parse.urlsplit(amqp_url)
    return pika.URLParameters(parts._replace(path="/" + _quoted(vhost)).geturl())


def declare(parameters: pika.URLParameters) -> None:
    """Every queue, exchange and binding of :data:`QUEUES` and :data:`EXCHANGES`."""
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    for queue, arguments in QUEUES.items():
        channel.queue_declare(queue, durable=True, arguments=arguments)
    for exchange, (kind, bindings) in EXCHANGES.items():
        channel.exchange_declare(exchange, exchange_type=kind, durable=True)
        for queue, key in bindings:
            channel.queue_bind(queue, exchange, key)
    connection.close()


def _publish(parameters: pika.URLParameters, spec: Publisher, stop: threading.Event) -> None:
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    start, sent = time.monotonic(), 0
    while not stop.is_set():
        due = start + sent / spec.rate
        if due > time.monotonic():
            connection.sleep(min(due - time.monotonic(), 0.05))
            continue
        channel.basic_publish(spec.exchange, spec.keys[sent % len(spec.keys)], b"x")
        sent += 1
    connection.close()


class Handled:
    """Seconds each pool's consumers spent per message, from receipt to ack, and when each ack
    was sent (``time.monotonic()``; thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {pool.queue: [] for pool in POOLS}
        self.acked_at: dict[str, list[float]] = {pool.queue: [] for pool in POOLS}

    def add(self, queue: str, seconds: float) -> None:
        """One message of ``queue`` handled in ``seconds``, acked now."""
        with self.lock:
            self.times[queue].append(seconds)
            self.acked_at[queue].append(time.monotonic())

    def mean(self, queue: str) -> float:
        """The mean handling time of ``queue``'s consumers."""
        with self.lock:
            return sum(self.times[queue]) / len(self.times[queue])

    def rate(self, queue: str, start: float, end: float) -> float:
        """Acks per second the consumers of ``queue`` sent between ``start`` and ``end``."""
        with self.lock:
            return sum(start <= t <= end for t in self.acked_at[queue]) / (end - start)


def _consume(
    parameters: pika.URLParameters, spec: Pool, stop: threading.Event, handled: Handled
) -> None:
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    if not spec.auto_ack:
        channel.basic_qos(prefetch_count=spec.prefetch)
    for method, _properties, _body in channel.consume(
        spec.queue, auto_ack=spec.auto_ack, inactivity_timeout=0.05
    ):
        if stop.is_set():
            break
        if method is None:
            continue
        start = time.monotonic()
        time.sleep(spec.service)
        if not spec.auto_ack:
            channel.basic_ack(method.delivery_tag)
        handled.add(spec.queue, time.monotonic() - start)
    connection.close()


def wait_for_statistics(management_url: str, vhost: str, timeout: float = 30.0) -> None:
    """Until the management API counts publishes into every queue of the traffic (a loaded
    machine can take seconds to emit a new object's first statistics) and shows messages
    ready in every queue of :data:`BACKLOGGED`."""
    api = Management(management_url)
    busy = {queue for queue in QUEUES if queue != "orders.parked"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queues = api.call("GET", f"/api/queues/{_quoted(vhost)}")
        counted = {q["name"] for q in queues if (q.get("message_stats") or {}).get("publish")}
        backlogged = {q["name"] for q in queues if q.get("messages_ready")}
        if busy <= counted and set(BACKLOGGED) <= backlogged:
            return
        time.sleep(0.5)
    raise TimeoutError(
        f"no publish statistics for {sorted(busy)}, or no backlog in {list(BACKLOGGED)}, "
        f"within {timeout:g} s"
    )


@contextmanager
def traffic(parameters: pika.URLParameters) -> Iterator[Handled]:
    """Every consumer of :data:`POOLS` and publisher of :data:`PUBLISHERS`, until the end;
    yields the consumers' handling times."""
    stop, handled = threading.Event(), Handled()
    threads = [
        threading.Thread(target=_consume, args=(parameters, pool, stop, handled), daemon=True)
        for pool in POOLS
        for _ in range(pool.replicas)
    ]
    threads += [
        threading.Thread(target=_publish, args=(parameters, spec, stop), daemon=True)
        for spec in PUBLISHERS
    ]
    for thread in threads:
        thread.start()
    try:
        yield handled
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


# -- what was declared, in scenario terms (for the tests) ---------------------------------------
def queue_settings(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Each queue's RabbitMQ settings, as the scenario has them."""
    keys = (
        "type", "max_length", "overflow", "message_ttl", "dead_letter", "max_priority",
        "delivery_limit", "single_active_consumer", "durable",
    )  # fmt: skip
    return {q.name: {k: getattr(q, k) for k in keys} for q in scenario.queues}


def expected_queues() -> dict[str, dict[str, Any]]:
    """What import_broker.QUEUES declared, in scenario terms (written out by hand)."""
    base = {
        "type": "classic", "max_length": None, "overflow": "drop-head", "message_ttl": None,
        "dead_letter": None, "max_priority": None, "delivery_limit": None,
        "single_active_consumer": False, "durable": True,
    }  # fmt: skip
    return {
        "orders": {**base, "type": "quorum", "delivery_limit": 5, "dead_letter": "orders.parked"},
        "orders.parked": base,
        "audit": {**base, "max_length": 5000, "overflow": "reject-publish", "message_ttl": 600.0},
        "email": {**base, "max_priority": 5},
        "sms": {**base, "single_active_consumer": True},
    }


def queue_rate(scenario: Scenario, queue: str) -> float:
    """Messages per second the imported producers send into ``queue``, through the bindings."""
    exchanges = {e.name: e for e in scenario.exchanges}
    total = 0.0
    for producer in scenario.producers:
        assert producer.rate is not None
        keys = producer.routing_key
        shares = {keys: 1.0} if isinstance(keys, str) else dict(keys.keys)  # type: ignore[union-attr]
        weight = sum(shares.values())
        for key, share in shares.items():
            exchange = exchanges[producer.to]
            match = MATCHERS[exchange.type]
            if any(b.queue == queue and match(b.key)(key) for b in exchange.bindings):
                total += producer.rate * share / weight
    return total


if __name__ == "__main__":  # record the fixture: python tests/import_broker.py OUT.json
    from qsim.importer import ManagementClient, take_snapshot

    management = "http://guest:guest@127.0.0.1:15672/"
    with fresh_vhost(management) as vhost:
        parameters = amqp_parameters("amqp://guest:guest@127.0.0.1:5672/", vhost)
        declare(parameters)
        with traffic(parameters):
            time.sleep(16)
            snapshot = take_snapshot(ManagementClient.from_url(management), vhost, 10.0)
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(snapshot.raw, out, indent=1, sort_keys=True)
