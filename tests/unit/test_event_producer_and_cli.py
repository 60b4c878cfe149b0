"""Pure parts of the event producer and CLI: what the loader forwards, time options, app names,
URLs and permissions."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from producers.events import forward_event
from producers.files import read_messages
from broker.urls import with_credentials as app_url
from switchboard.apps import AppsError, _check_name, permissions
from switchboard.events_cli import parse_moment


def test_the_loader_forwards_an_event_as_sent_routed_by_its_type():
    fields = {"session_id": "not checked here", "category": "Page Interaction", "name": "cta_click",
              "data": {"b": 1, "a": [1.5, None]}, "timestamp": "2021-01-01 09:15:27"}
    sent = forward_event(fields)
    assert sent.routing_key() == "event.page_interaction.cta_click"
    assert json.loads(sent.to_json_bytes()) == fields
    assert sent.message_id() == forward_event(dict(fields)).message_id()


def test_the_loader_rejects_only_what_cannot_be_routed():
    lines = ['{"category": "page interaction", "name": "pageview"}', '{"name": "pageview"}',
             '{"category": "page interaction", "name": "a.b"}', '[1]', '']
    result = read_messages(lines, forward_event)
    assert len(result.records) == 1
    assert [(line.line_number, line.reason.split(":")[0]) for line in result.rejected] == [
        (2, "category"), (3, "name"), (4, "expected a JSON object, got list")]


@pytest.mark.parametrize("text, end_of_day, expected", [
    ("2021-01-01", False, datetime(2021, 1, 1, tzinfo=timezone.utc)),
    ("2021-01-01", True, datetime(2021, 1, 2, tzinfo=timezone.utc)),
    ("2021-01-01T09:15:00", True, datetime(2021, 1, 1, 9, 15, tzinfo=timezone.utc)),
    ("2021-01-01 09:15:00Z", False, datetime(2021, 1, 1, 9, 15, tzinfo=timezone.utc)),
    ("2021-01-01T06:15:00-03:00", False, datetime(2021, 1, 1, 9, 15, tzinfo=timezone.utc)),
    (None, False, None),
])
def test_time_options_are_iso_dates_or_date_times_in_utc(text, end_of_day, expected):
    assert parse_moment(text, "--since", end_of_day=end_of_day) == expected


def test_a_time_option_that_is_not_iso_8601_names_the_option():
    with pytest.raises(ValueError, match=r"--until must be an ISO 8601 date \(2021-01-01\) or date-time"):
        parse_moment("last tuesday", "--until")


@pytest.mark.parametrize("name", ["shop", "shop-web", "a.b_c-1", "x" * 64])
def test_application_names_that_are_accepted(name):
    _check_name(name)


@pytest.mark.parametrize("name", ["", "Shop", "-shop", "shop web", "x" * 65, "shop/1"])
def test_application_names_that_are_refused(name):
    with pytest.raises(AppsError, match="application name must be"):
        _check_name(name)


def test_an_applications_url_is_the_fleets_with_its_own_credentials():
    assert app_url("amqp://guest:guest@rabbit.internal:5672/%2F?heartbeat=30", "shop", "p-w_1") == \
        "amqp://shop:p-w_1@rabbit.internal:5672/%2F?heartbeat=30"
    assert app_url("amqps://admin:x@broker/events", "shop", "pw") == "amqps://shop:pw@broker/events"


def test_an_application_may_publish_events_to_the_tracking_exchange_and_nothing_else():
    vhost, topic = permissions()
    assert vhost == {"configure": "^$", "write": "^tracking$", "read": "^$"}
    assert topic == {"exchange": "tracking", "write": r"^event\.", "read": "^$"}


def test_the_event_contract_is_exported_with_its_routing_and_every_payload_model():
    from schemas.export import json_schemas

    exported = json_schemas()["event.v1"]
    assert exported["x-exchange"] == "tracking" and exported["x-routing-key"].startswith("event.<category>.<name>")
    assert {"id", "session_id", "category", "name", "data", "timestamp"} == set(exported["properties"])
    assert exported["x-payloads"]["page interaction/cta click"]["required"] == ["host", "path", "element"]
