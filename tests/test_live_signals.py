"""`qsim live` stopped by a signal: it deletes what it declared, says so in one line and exits
128 + the signal.

Each run has a vhost of its own, so that what it declares is told apart from the queues of
live tests running beside it (``make test`` runs the live modules side by side). Needs
``QSIM_AMQP_URL`` and ``rabbitmqctl`` (``.ci/run`` starts a broker and sets it); without a URL
the tests are skipped with a reason, unless ``QSIM_REQUIRE_BROKER=1`` makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import broker_url

from qsim.scenario import load_scenario

CHECKS = Path(__file__).parent / "live" / "checks.yaml"
SKIP_REASON = (
    "needs a RabbitMQ: set QSIM_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ (.ci/run starts one)"
)


def _ctl(*args: str) -> str:
    """``rabbitmqctl -q ARGS``'s output (.ci/run's broker runs here)."""
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    if not Path(ctl).exists():
        pytest.fail("rabbitmqctl is needed to list the broker's queues (.ci/run installs it)")
    command = [ctl, "-q", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.fixture
def vhost() -> Iterator[str]:
    """A fresh vhost the URL's user may use, deleted afterwards."""
    name = f"qsim-signals-{uuid.uuid4().hex[:8]}"
    user = urllib.parse.urlsplit(broker_url("QSIM_AMQP_URL", SKIP_REASON)).username or "guest"
    _ctl("add_vhost", name)
    try:
        _ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield name
    finally:
        _ctl("delete_vhost", name)


def _queues(vhost: str) -> set[str]:
    """Every ``qsim-live-`` queue in ``vhost``, from ``rabbitmqctl list_queues`` (independent of
    qsim's own bookkeeping)."""
    listed = _ctl("list_queues", "-p", vhost, "name").split()
    return {name for name in listed if name.startswith("qsim-live-")}


@pytest.mark.parametrize(
    ("signal_name", "status"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)]
)
def test_a_live_run_stopped_by_any_signal_deletes_what_it_declared(vhost, signal_name, status):
    """Killed mid-run, ``qsim live`` still deletes its queues and exchanges, says so in one
    line and exits 128 + the signal (SIGINT reaches the process group, as Ctrl-C does)."""
    parts = urllib.parse.urlsplit(broker_url("QSIM_AMQP_URL", SKIP_REASON))
    url = parts._replace(path="/" + urllib.parse.quote(vhost, safe="")).geturl()
    process = subprocess.Popen(
        [sys.executable, "-m", "qsim", "live", str(CHECKS), "--amqp", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not _queues(vhost) and time.monotonic() < deadline:
        time.sleep(0.5)
    declared = _queues(vhost)
    assert len(declared) == len(load_scenario(CHECKS).queues), declared
    signum = signal.Signals[signal_name]
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == status, stderr
    assert stderr.count("qsim:") == 1 and "Traceback" not in stderr, stderr
    assert _queues(vhost) == set()
