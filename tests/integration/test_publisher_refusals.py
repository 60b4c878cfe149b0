"""A publisher fails at once, saying what to do, on what retrying cannot fix; it reports the
right message as unroutable; it closes cleanly whatever state its connection is in."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from broker.errors import LinkFailed
from producers.publisher import Publisher
from schemas.telephony import CallStart
from tests.support.processes import ROOT

CALL = CallStart(id="1-start", call_id="1", timestamp="2017-12-11T15:07:13Z",
                 source="99988526423", destination="9933468278")


def refusal(url: str) -> tuple[LinkFailed, float]:
    started = time.monotonic()
    with Publisher(url, connect_timeout=20) as publisher, pytest.raises(LinkFailed) as raised:
        publisher.publish(CALL)
    return raised.value, time.monotonic() - started


@pytest.mark.timeout(30)
def test_missing_exchange_ends_the_publish_at_once_saying_run_topology(bare_vhost_url):
    error, took = refusal(bare_vhost_url)
    assert "exchange 'telephony' does not exist" in str(error) and "run `switchboard topology`" in str(error)
    assert error.kind == LinkFailed.REFUSED
    assert took < 10, "a refusal must not be retried"


@pytest.mark.timeout(30)
def test_wrong_password_ends_the_publish_at_once(bare_vhost_url):
    error, _ = refusal(bare_vhost_url.replace("guest:guest@", "guest:wrong@"))
    assert "refused the credentials of user 'guest'" in str(error)
    assert error.kind == LinkFailed.LOGIN


@pytest.mark.timeout(30)
def test_missing_vhost_ends_the_publish_at_once(bare_vhost_url):
    error, _ = refusal(bare_vhost_url.rsplit("/", 1)[0] + "/no-such-vhost")
    assert "vhost 'no-such-vhost'" in str(error)


@pytest.mark.timeout(60)
def test_cli_publish_against_a_vhost_without_topology_exits_2_with_what_to_do(bare_vhost_url, service_env):
    env = {**service_env, "SWITCHBOARD_AMQP_URL": bare_vhost_url}
    done = subprocess.run([sys.executable, "-m", "switchboard", "publish", "calls", "examples/calls.jsonl"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=50)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("error: exchange 'telephony' does not exist")
    assert "Traceback" not in done.stderr and "AttributeError" not in done.stderr


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word: an AMQP handshake hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.mark.timeout(30)
def test_closing_a_publisher_whose_connection_is_still_opening(silent_server):
    publisher = Publisher(f"amqp://guest:guest@127.0.0.1:{silent_server}/%2F")
    time.sleep(0.2)  # fault injection, not synchronisation: let the TCP connect land in the handshake
    started = time.monotonic()
    publisher.close()
    link = publisher._link  # white box: how the I/O thread ended
    assert time.monotonic() - started < 5
    assert not link._thread.is_alive(), "the I/O thread must end"
    assert link.failure is None, f"the I/O thread must end cleanly, not die: {link.failure}"
