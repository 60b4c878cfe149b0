"""Applications (RabbitMQ users) made for a test: unique names per run, deleted afterwards
whatever the test did; and raw AMQP publishing as one, for what the Publisher would not send."""

from __future__ import annotations

import json

import pika

from broker.management import Management
from switchboard.apps import AppCredentials, Applications
from switchboard.settings import Settings
from tests.support.leftovers import run_name


class TestApps:
    __test__ = False  # not a test class

    def __init__(self, settings: Settings):
        self._settings = settings
        self.names: list[str] = []

    def add(self, label: str) -> AppCredentials:
        """A new application, through the same code as `switchboard apps add`."""
        name = run_name(f"switchboard-test-{label}", "-")
        self.names.append(name)
        return Applications(self._settings).add(name)

    def name(self, label: str) -> str:
        """A unique name for an application a test makes itself (through the CLI); deleted afterwards."""
        name = run_name(f"switchboard-test-{label}", "-")
        self.names.append(name)
        return name

    def delete_all(self) -> None:
        management = Management(self._settings.management_url, self._settings.amqp_url)
        for name in self.names:
            management.delete("users", name)
            management.delete("connections", "username", name)


def publish_raw(amqp_url: str, messages: list[tuple[str, bytes | dict, str | None]], exchange: str = "tracking",
                headers: dict | None = None) -> None:
    """(routing key, body, user_id) each, persistent, confirmed, on one connection."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for routing_key, body, user_id in messages:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            channel.basic_publish(exchange, routing_key, data, pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json", user_id=user_id,
                headers=headers),
                mandatory=True)
    finally:
        if connection.is_open:
            connection.close()
