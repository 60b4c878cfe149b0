"""Publisher-confirm bookkeeping, driven frame by frame: which message a basic.return names."""

from __future__ import annotations

from types import SimpleNamespace

from pika.spec import Basic, BasicProperties

from broker.confirms import ConfirmBatch, ConfirmTracker
from broker.envelope import Outgoing
from broker.errors import ConnectionLost, Unroutable


class FakeChannel:
    is_open = True

    def __init__(self):
        self.published = []
        self.on_return = None

    def add_on_return_callback(self, callback):
        self.on_return = callback

    def basic_publish(self, exchange, routing_key, body, properties, mandatory):
        self.published.append((exchange, routing_key, properties.message_id, mandatory))


def attached() -> tuple[ConfirmTracker, FakeChannel]:
    tracker, channel = ConfirmTracker("test", "guest"), FakeChannel()
    tracker.attach(channel)
    return tracker, channel


def returned(channel: FakeChannel, message: Outgoing) -> None:
    method = Basic.Return(reply_code=312, reply_text="NO_ROUTE", exchange=message.exchange,
                          routing_key=message.routing_key)
    channel.on_return(channel, method, BasicProperties(message_id=message.message_id), message.body)


def ack(tag: int, multiple: bool = False) -> SimpleNamespace:
    return SimpleNamespace(method=Basic.Ack(delivery_tag=tag, multiple=multiple))


def test_a_return_settles_the_message_it_names_even_when_its_id_is_in_flight_twice():
    tracker, channel = attached()
    routable = Outgoing("x", "bound.key", b"{}", "same-id")
    unroutable = Outgoing("x", "nobody.home", b"{}", "same-id")
    batch = ConfirmBatch([routable, unroutable])
    tracker.publish(batch)
    returned(channel, unroutable)
    tracker.on_confirm(ack(2, multiple=True))  # one ack for both, the routable one first
    assert batch.done and list(batch.errors) == [1]
    assert isinstance(batch.errors[1], Unroutable) and batch.errors[1].routing_key == "nobody.home"


def test_the_same_message_returned_twice_settles_both_copies_as_unroutable():
    tracker, channel = attached()
    message = Outgoing("x", "nobody.home", b"{}", "id-1")
    batch = ConfirmBatch([message, message, Outgoing("x", "bound.key", b"{}", "id-2")])
    tracker.publish(batch)
    returned(channel, message)
    tracker.on_confirm(ack(1))
    returned(channel, message)
    tracker.on_confirm(ack(3, multiple=True))
    assert sorted(batch.errors) == [0, 1]


def test_messages_not_mandatory_are_never_matched_to_a_return():
    tracker, channel = attached()
    broadcast = Outgoing("x", "nobody.home", b"{}", "id-1", mandatory=False)
    mandatory = Outgoing("x", "nobody.home", b"{}", "id-1")
    batch = ConfirmBatch([broadcast, mandatory])
    tracker.publish(batch)
    returned(channel, mandatory)
    tracker.on_confirm(ack(2, multiple=True))
    assert list(batch.errors) == [1]


def test_a_lost_channel_fails_everything_unconfirmed_and_forgets_returns():
    tracker, channel = attached()
    message = Outgoing("x", "nobody.home", b"{}", "id-1")
    batch = ConfirmBatch([message, Outgoing("x", "k", b"{}", "id-2")])
    tracker.publish(batch)
    returned(channel, message)
    tracker.detach(ConnectionLost("gone"))
    assert batch.done and all(isinstance(error, ConnectionLost) for error in batch.errors.values())
    tracker.attach(channel)
    again = ConfirmBatch([Outgoing("x", "nobody.home", b"{}", "id-1")])
    tracker.publish(again)
    tracker.on_confirm(ack(1))
    assert again.done and not again.errors, "a return from the old channel must not leak into the new one"
