"""Fast tests of the runtime's pure parts: decoding, dead-letter envelopes, topology, redaction."""

from __future__ import annotations


import pika
import pytest

from consumers.runtime import deadletter
from consumers.runtime.decoding import decode
from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from consumers.runtime.inbox import Delivery
from broker.declare import declarations
from schemas.topology import QUEUES, QueuePolicy
from switchboard.redaction import redact_credentials as redact
from tests.support.ledger import CONSUMER, LEDGER_QUEUE


def delivery(body: bytes, **props) -> Delivery:
    return Delivery(1, 7, "ledger-test", "ledger.entry", False, pika.BasicProperties(**props), body)


def test_valid_delivery_becomes_incoming_with_envelope():
    incoming = decode(CONSUMER, delivery(b'{"seq": 3}', message_id="m-3", user_id="app"), 1024)
    assert isinstance(incoming, Incoming)
    assert incoming.payload.seq == 3
    assert (incoming.message_id, incoming.user_id) == ("m-3", "app")


@pytest.mark.parametrize("body, expected", [
    (b"{nope", "Invalid JSON"),
    (b'{"seq": "x"}', "seq: Input should be a valid integer"),
    (b'{"seq": 1, "surprise": true}', "surprise: Extra inputs are not permitted"),
    (b"\xff\xfe", "Invalid JSON"),
])
def test_invalid_body_gives_a_reason_naming_the_problem(body, expected):
    reason = decode(CONSUMER, delivery(body), 1024)
    assert isinstance(reason, str) and expected in reason


def test_oversized_body_is_refused_before_parsing():
    reason = decode(CONSUMER, delivery(b" " * 2000), 1024)
    assert reason == "body of 2000 bytes exceeds the limit of 1024 bytes"


def test_consumer_that_requires_an_application_refuses_anonymous_messages():
    spec = ConsumerSpec("x", LEDGER_QUEUE, CONSUMER.decode, lambda c, b: BatchOutcome(), requires_user_id=True)
    assert "user_id" in decode(spec, delivery(b'{"seq": 1}'), 1024)


def test_dead_letter_keeps_body_and_names_reason_consumer_and_origin():
    original = delivery(b"{nope", message_id="m-1", headers={"trace": "t"})
    letter = deadletter.dead_letter(original, consumer="ledger", dead_letter_queue="ledger.dead", reason="bad")
    assert (letter.exchange, letter.routing_key, letter.body) == ("", "ledger.dead", b"{nope")
    assert letter.message_id == "m-1"
    assert letter.headers["trace"] == "t"
    assert letter.headers[deadletter.REASON] == "bad"
    assert letter.headers[deadletter.CONSUMER] == "ledger"
    assert letter.headers[deadletter.ORIGINAL_ROUTING_KEY] == "ledger.entry"


def test_quorum_queues_get_an_explicit_delivery_limit_and_a_dead_letter_route():
    args = QueuePolicy("quorum", delivery_limit=7).arguments(LEDGER_QUEUE)
    assert args["x-delivery-limit"] == 7
    assert args["x-dead-letter-routing-key"] == "ledger.dead"
    assert "x-delivery-limit" not in QueuePolicy("classic").arguments(LEDGER_QUEUE)


def test_every_fleet_queue_is_declared_with_its_dead_letter_queue_and_bindings():
    items = declarations(QUEUES, QueuePolicy())
    queues = {i.kwargs["queue"] for i in items if i.method == "queue_declare"}
    bindings = {(i.kwargs["queue"], i.kwargs["routing_key"]) for i in items if i.method == "queue_bind"}
    for spec in QUEUES:
        assert {spec.name, spec.dead_letter_queue} <= queues
        assert {(spec.name, key) for key in spec.routing_keys} <= bindings


@pytest.mark.parametrize("text", [
    "amqp://guest:s3cret@host:5672/%2F",
    "connect to postgresql://user:s3cret@db/switchboard failed",
])
def test_redact_hides_passwords_in_urls(text):
    assert "s3cret" not in redact(text)
    assert "***" in redact(text)


def test_outgoing_properties_are_persistent_and_carry_the_envelope():
    from broker.envelope import Outgoing

    props = Outgoing("x", "k", b"{}", "id-1", "thing.v1", correlation_id="c").properties("switchboard", "guest")
    assert props.delivery_mode == 2
    assert (props.message_id, props.type, props.app_id, props.user_id) == ("id-1", "thing.v1", "switchboard", "guest")
    assert props.content_type == "application/json" and props.timestamp > 0
