"""The smallest end-to-end check: a scenario runs and the books balance."""

from conftest import counts, run_once


def test_every_message_published_ends_in_a_named_state():
    """published = acked + ready + unacked when nothing is refused, dropped or expired."""
    result = run_once(
        """
        name: smoke
        duration: 60s
        producers: [{name: p, to: q, rate: 20/s}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, replicas: 2, prefetch: 1, service_time: 50ms}]
        """
    )
    c = counts(result, "q")
    q = result.queues[0]
    assert c["published"] == c["acked"] + q.backlog_final + q.unacked_final
