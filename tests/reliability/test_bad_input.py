"""Bad input never blocks a queue: it is dead-lettered once, with a reason, and the rest flows."""

from __future__ import annotations

import json

import pytest

from consumers.runtime import deadletter
from tests.support.ledger_tools import dead_letters, delivery_stats, entry, ledger_count, queue_depth, raw
from tests.support.waiting import wait_until


@pytest.mark.timeout(90)
def test_invalid_messages_are_dead_lettered_once_with_a_reason(consumer, publisher, ledger_db, ledger_queue):
    consumer()
    publisher.publish_outgoing([
        entry(1),
        raw(b"{not json", message_id="bad-json"),
        raw(json.dumps({"seq": "one"}).encode(), message_id="bad-schema"),
        raw(json.dumps({"seq": 99, "pad": "x" * 5000}).encode(), message_id="too-big"),
        entry(2),
    ])
    letters = dead_letters(ledger_queue, 3)
    wait_until(lambda: ledger_count(ledger_db) == 2, timeout=30, message="valid messages were not processed")

    reasons = {props.message_id: props.headers[deadletter.REASON] for _method, props, _body in letters}
    assert sorted(reasons) == ["bad-json", "bad-schema", "too-big"]
    assert "Invalid JSON" in reasons["bad-json"]
    assert "seq" in reasons["bad-schema"]
    assert "exceeds the limit" in reasons["too-big"]
    for _method, props, _body in letters:
        assert props.headers[deadletter.CONSUMER] == "ledger"
        assert props.headers[deadletter.DEAD_LETTERED_AT]
    assert queue_depth(ledger_queue, "ledger") == 0

    publisher.publish_outgoing([entry(3)])  # still consuming after the bad input
    wait_until(lambda: ledger_count(ledger_db) == 3, timeout=30, message="consumer stopped consuming")


@pytest.mark.timeout(90)
def test_message_that_always_raises_is_isolated_then_dead_lettered(consumer, publisher, ledger_db, ledger_queue):
    publisher.publish_outgoing([entry(s) for s in range(10)] + [entry(10, explode=True)] + [entry(s) for s in range(11, 20)])
    process = consumer()
    letters = dead_letters(ledger_queue, 1)
    wait_until(lambda: ledger_count(ledger_db) == 19, timeout=30, message="the rest of the batch did not commit")

    assert len(letters) == 1
    _method, props, _body = letters[0]
    assert props.message_id == "entry-10"
    assert "handler failed 2 times" in props.headers[deadletter.REASON]
    assert "always explodes" in props.headers[deadletter.REASON]
    assert process.saw("batch_failed_isolating")


@pytest.mark.timeout(60)
def test_same_message_twice_in_one_batch_has_one_effect(consumer, publisher, ledger_db, ledger_queue):
    publisher.publish_outgoing([entry(5), entry(5), entry(6)])
    process = consumer()
    wait_until(lambda: delivery_stats(ledger_db)["handled"] == 3, timeout=30, message="batch not handled")
    assert ledger_count(ledger_db) == 2
    assert delivery_stats(ledger_db)["handled_again"] == 1
    assert not process.saw("batch_failed_isolating")


@pytest.mark.timeout(60)
def test_dead_letters_can_be_inspected_then_replayed(amqp_url, publisher, ledger_db, ledger_queue):
    from switchboard import deadletters

    publisher.publish_outgoing([raw(b'{"seq": 1, "oops": 1}', message_id="needs-fix")])
    letter = deadletter.dead_letter(
        _delivery_of(ledger_queue), consumer="ledger", dead_letter_queue="ledger.dead", reason="test reason")
    publisher.publish_outgoing([letter])

    seen = deadletters.listing(amqp_url, "ledger.dead", deadletters.Filter(limit=10))
    assert [(d.message_id, d.reason, d.routing_key) for d in seen] == [("needs-fix", "test reason", "ledger.entry")]
    # peek closes its channel without acking: the broker puts the message back, asynchronously.
    wait_until(lambda: queue_depth(ledger_queue, "ledger.dead") == 1, timeout=10,
               message="peeking must leave the message in place")

    assert deadletters.replay(amqp_url, "ledger.dead", deadletters.Filter(), max_replays=3).done == 1
    assert queue_depth(ledger_queue, "ledger.dead") == 0
    method, props, body = ledger_queue.basic_get("ledger", auto_ack=True)
    assert body == b'{"seq": 1, "oops": 1}' and props.message_id == "needs-fix"
    # The reason and origin are dropped; the count of replays is kept (a second replay says 2).
    ours = {key: value for key, value in props.headers.items() if key.startswith("x-switchboard-")}
    assert ours == {deadletter.REPLAYS: 1}


def _delivery_of(channel):
    """Take the one message in the ledger queue as a Delivery (no consumer is running)."""
    from consumers.runtime.inbox import Delivery

    wait_until(lambda: queue_depth(channel, "ledger") == 1, timeout=10, message="message not queued")
    method, props, body = channel.basic_get("ledger", auto_ack=True)
    return Delivery(1, method.delivery_tag, method.exchange, method.routing_key, False, props, body)
