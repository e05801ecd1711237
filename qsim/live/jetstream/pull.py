"""Pull requests to a JetStream consumer, shaped as the model's receive.

A JetStream pull request (``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>``, body ``batch``,
``expires``, ``no_wait``) is answered with up to ``batch`` messages on the request's reply
subject; with ``no_wait`` the server answers at once and ends the request with status 404 (no
messages) when it has fewer; with ``expires`` it holds the request until ``batch`` messages have
gone out or it expires (status 408). So a real pull of 10 that finds one message waits out its
expiry for the other nine (nats-server ``processNextMsgRequest``, ``processWaiting``).

The model's receive is a long poll: it waits up to ``wait`` for a first message and returns what
is there, up to ``batch``. :meth:`Puller.receive` builds that from JetStream's own requests: a
``no_wait`` pull of ``batch`` (what is there now); if empty and ``wait`` is above zero, a pull
of 1 that expires after ``wait``; after its message, a ``no_wait`` pull of the rest. Each request
is finished (its messages or its closing status) before the next is sent, so no message is ever
delivered to a request nobody reads.
"""

from __future__ import annotations

import json

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

__all__ = ["ENDS", "Puller"]

ENDS = frozenset({"404", "408", "409"})
"""Status codes that end a pull request: no messages, request expired, and the 409s (consumer
deleted, exceeded MaxWaiting or MaxRequestBatch): after one, no message follows."""
HEARTBEAT = "100"
REPLY_GRACE = 2.0
"""Wall seconds beyond a request's expiry to wait for its closing status before giving up."""


class Puller:
    """Pull requests of one replica, on an inbox of its own."""

    def __init__(self, nc: NATS, stream: str, consumer: str) -> None:
        self.nc = nc
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.inbox = nc.new_inbox()
        self._sub: Subscription | None = None

    async def start(self) -> None:
        """Subscribe to the inbox."""
        self._sub = await self.nc.subscribe(self.inbox)

    async def stop(self) -> None:
        """Unsubscribe (a request still open delivers nothing more to us)."""
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def request(self, batch: int, expires: float | None = None) -> list[Msg]:
        """One pull request: ``no_wait`` without ``expires``, else held up to ``expires`` wall
        seconds; the messages it brought (fewer than ``batch`` when it ended first)."""
        if self._sub is None:
            raise RuntimeError("Puller.start() first")
        body: dict[str, object] = {"batch": batch}
        if expires is None:
            body["no_wait"] = True
        else:
            body["expires"] = max(1, int(expires * 1e9))
        await self.nc.publish(self.subject, json.dumps(body).encode(), reply=self.inbox)
        return await self._collect(batch, (expires or 0.0) + REPLY_GRACE)

    async def _collect(self, batch: int, timeout: float) -> list[Msg]:
        if self._sub is None:
            raise RuntimeError("Puller.start() first")
        msgs: list[Msg] = []
        while len(msgs) < batch:
            try:
                msg = await self._sub.next_msg(timeout=timeout)
            except nats.errors.TimeoutError:
                break
            status = (msg.headers or {}).get("Status")
            if status is None:
                msgs.append(msg)
            elif status in ENDS:
                break
            elif status != HEARTBEAT:
                raise nats.errors.Error(f"pull request answered {status} {msg.headers}")
        return msgs

    async def receive(self, batch: int, wait: float) -> list[Msg]:
        """The model's receive: what is there now, up to ``batch``; if nothing and ``wait`` (wall
        seconds) is above zero, the first message within ``wait`` and what is there after it."""
        msgs = await self.request(batch)
        if msgs or wait <= 0:
            return msgs
        msgs = await self.request(1, expires=wait)
        if msgs and batch > 1:
            msgs += await self.request(batch - 1)
        return msgs
