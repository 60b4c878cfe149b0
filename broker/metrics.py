"""Prometheus metrics of the AMQP layer, per link (`consumer-<name>`, `publisher`, ...)."""

from prometheus_client import Gauge, Histogram

BROKER_CONNECTED = Gauge(
    "switchboard_broker_connected", "1 while the link is connected, declared and ready, else 0", ["link"])
BROKER_BLOCKED = Gauge(
    "switchboard_broker_blocked", "1 while the broker blocks the link's connection (a resource alarm)", ["link"])
CONFIRM_SECONDS = Histogram(
    "switchboard_publish_confirm_seconds",
    "Time from handing a group of messages to the link until the broker settled all of them",
    ["link"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
