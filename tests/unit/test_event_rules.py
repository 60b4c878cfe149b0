"""The rules an event must pass (consumers/event_rules.py), the payload registry, attribution and
identity (consumers/event_sessions.py): pure, no services."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.event_rules import EventRules, InvalidEvent, ValidEvent, derived_id, judge
from consumers.event_sessions import attribution, decide
from consumers.runtime.handler import Incoming
from schemas.event_types import EVENT_TYPES, event_routing_key, type_word

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
RULES = EventRules(clock=lambda: NOW)
SESSION = "8a1c0f0e-5a53-4d6c-9f0a-3e1b2c4d5e6f"
PAGE = {"host": "shop.example.com", "path": "/pricing"}


def event(category="page interaction", name="pageview", data=None, timestamp="2024-05-01 09:15:27.243860",
          **fields) -> dict:
    return {"session_id": SESSION, "category": category, "name": name,
            "data": PAGE if data is None else data, "timestamp": timestamp, **fields}


def judged(body: dict | str | bytes, routing_key: str | None = None, rules: EventRules = RULES):
    if isinstance(body, dict):
        routing_key = routing_key or event_routing_key(body["category"], body["name"])
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    return judge(routing_key or "event.page_interaction.pageview", raw, rules)


def reason(body, routing_key=None, rules=RULES) -> str:
    result = judged(body, routing_key, rules)
    assert isinstance(result, InvalidEvent), f"expected a refusal, got {result}"
    assert result.body, "a refusal keeps the body"
    return result.reason


# --- valid events ----------------------------------------------------------------------------

@pytest.mark.parametrize("category, name, data", [
    ("page interaction", "pageview", PAGE),
    ("page interaction", "cta click", {**PAGE, "element": "start-trial"}),
    ("form interaction", "submit", {**PAGE, "form": {"plan": "pro", "newsletter": True}}),
])
def test_the_three_known_types_are_valid(category, name, data):
    result = judged(event(category, name, data))
    assert isinstance(result, ValidEvent), result
    assert result.event.category == category and result.event.name == name


def test_a_timestamp_without_a_zone_is_utc_and_one_with_a_zone_is_converted():
    naive = judged(event(timestamp="2024-05-01 09:15:27.243860")).event.timestamp
    offset = judged(event(timestamp="2024-05-01T06:15:27.243860-03:00")).event.timestamp
    assert naive == offset == datetime(2024, 5, 1, 9, 15, 27, 243860, tzinfo=timezone.utc)


def test_categories_and_names_are_compared_in_one_form():
    assert type_word("Page_Interaction") == type_word("  page   interaction ") == "page interaction"
    assert event_routing_key("Page Interaction", "CTA click") == "event.page_interaction.cta_click"
    shouted = judged(event(category="PAGE_INTERACTION", name="Pageview"), "event.page_interaction.pageview")
    assert isinstance(shouted, ValidEvent) and shouted.event.category == "page interaction"


def test_a_timestamp_within_the_clock_skew_is_accepted():
    assert isinstance(judged(event(timestamp=(NOW + timedelta(seconds=299)).isoformat())), ValidEvent)


# --- each rule, refused with its reason --------------------------------------------------------

@pytest.mark.parametrize("data, expected", [
    ({"path": "/"}, "host: Field required"),
    ({"host": "shop example", "path": "/"}, "host: must be a host name"),
    ({"host": "shop.example.com", "path": "pricing"}, "path: must be a URL path starting with '/'"),
    ({"host": "shop.example.com", "path": "/a b"}, "path: must be a URL path"),
    ({**PAGE, "referrer": "x"}, "referrer: Extra inputs are not permitted"),
    ({"host": 7, "path": "/"}, "host: Input should be a valid string"),
])
def test_each_pageview_payload_rule(data, expected):
    assert reason(event(data=data)).startswith(f"invalid page interaction/pageview data: {expected}")


@pytest.mark.parametrize("data, expected", [
    (PAGE, "element: Field required"),
    ({**PAGE, "element": ""}, "element: String should have at least 1 character"),
])
def test_each_cta_click_payload_rule(data, expected):
    assert reason(event(name="cta click", data=data)) == f"invalid page interaction/cta click data: {expected}"


def test_a_submit_needs_its_form_as_an_object():
    refused = reason(event("form interaction", "submit", {**PAGE, "form": ["plan"]}))
    assert refused == "invalid form interaction/submit data: form: Input should be a valid dictionary"


@pytest.mark.parametrize("fields, expected", [
    ({"session_id": "not-a-session"}, "invalid event: session_id: Input should be a valid UUID"),
    ({"data": ["host"]}, "invalid event: data: Input should be an object"),
    ({"timestamp": 1609492527}, "invalid event: timestamp: timestamp must be an ISO 8601 string"),
    ({"timestamp": "2024-05-01"}, "invalid event: timestamp: timestamp must be a date and a time"),
    ({"timestamp": "yesterday"}, "invalid event: timestamp: Input should be a valid datetime"),
    ({"category": "page.interaction"}, "invalid event: category: must be words of letters"),
    ({"id": ""}, "invalid event: id: String should have at least 1 character"),
    ({"id": "a\nb"}, "invalid event: id: Value error, must not contain control characters"),
    ({"user": "x"}, "invalid event: user: Extra inputs are not permitted"),
])
def test_each_envelope_rule(fields, expected):
    body = {**event(), **fields}
    assert reason(json.dumps(body), "event.page_interaction.pageview").startswith(expected.replace("Value error, ", ""))


def test_a_timestamp_in_the_future_beyond_the_clock_skew():
    refused = reason(event(timestamp=(NOW + timedelta(seconds=301)).isoformat()))
    assert refused.startswith("timestamp 2024-05-01T12:05:01+00:00 is in the future: more than 300 s after")


def test_the_clock_skew_is_configurable():
    strict = EventRules(clock_skew=timedelta(0), clock=lambda: NOW)
    assert "in the future" in reason(event(timestamp=(NOW + timedelta(seconds=1)).isoformat()), rules=strict)


def test_a_routing_key_that_disagrees_with_the_body():
    assert reason(event(), "event.page_interaction.cta_click") == (
        "routing key 'event.page_interaction.cta_click' does not match the event's category and name "
        "(expected 'event.page_interaction.pageview')")


def test_unknown_types_are_refused_by_default_and_accepted_when_configured():
    unknown = event("video interaction", "play", {"anything": [1, 2]})
    assert reason(unknown).startswith("unknown event type 'video interaction'/'play': no payload model")
    accepting = EventRules(unknown_events="accept", clock=lambda: NOW)
    assert isinstance(judged(unknown, rules=accepting), ValidEvent)
    # the generic check still applies: data must be an object PostgreSQL can store
    assert "data: Input should be an object" in reason(event("video interaction", "play", [1]),
                                                                rules=accepting)
    assert "NUL" in reason(event("video interaction", "play", {"t": "a\x00b"}), rules=accepting)


@pytest.mark.parametrize("body, expected", [
    (b"{\"session_id\": ", "invalid JSON: EOF while parsing a value at line 1 column 15"),
    (b"[1, 2]", "expected a JSON object"),
    (b"\xff\xfe", "invalid JSON"),
    (json.dumps(event(data={**PAGE, "form": float("nan")})).encode(), "data contains a number that cannot be stored"),
    (json.dumps(event()).replace('"/pricing"', '"/pricing", "n": 1e400').encode(), "data contains a number that cannot be stored"),
    (json.dumps(event(data={**PAGE, "x": "\ud800"})).encode(), "invalid JSON"),
    (json.dumps(event(data={"host": "a\x00", "path": "/"})).encode(), "data contains a NUL character"),
    (json.dumps(event()).replace('"/pricing"', '"/pricing", "n": ' + "9" * 5000).encode(), "invalid JSON: number out of range"),
    (b"[" * 100_000 + b"]" * 100_000, "invalid JSON: recursion limit exceeded"),
])
def test_bodies_that_cannot_be_stored_are_refused_not_crashed_on(body, expected):
    assert reason(body, "event.page_interaction.pageview").startswith(expected)


# --- identity ------------------------------------------------------------------------------

STORABLE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5)


@given(st.dictionaries(STORABLE_TEXT, st.integers() | STORABLE_TEXT, max_size=6), st.randoms())
def test_the_fingerprint_ignores_key_order_and_how_the_time_is_written(form, rng):
    keys = list(form)
    rng.shuffle(keys)
    one = judged(event("form interaction", "submit", {**PAGE, "form": form}, timestamp="2024-05-01 09:15:27"))
    other = judged(event("form interaction", "submit", {"form": {k: form[k] for k in keys}, **PAGE},
                         timestamp="2024-05-01T11:15:27+02:00"))
    assert one.fingerprint == other.fingerprint
    assert derived_id("shop", one.fingerprint) == derived_id("shop", other.fingerprint)
    assert derived_id("shop", one.fingerprint) != derived_id("blog", one.fingerprint)


def test_the_fingerprint_changes_with_the_content():
    assert judged(event()).fingerprint != judged(event(data={**PAGE, "path": "/"})).fingerprint


# --- attribution and the decisions of a batch ----------------------------------------------

REGISTERED = {"shop": None, "blog": None, "old": datetime(2024, 1, 1, tzinfo=timezone.utc)}


@pytest.mark.parametrize("user_id, expected", [
    ("shop", ("shop", None)),
    (None, (None, "no application: the AMQP user_id property is missing")),
    ("guest", (None, "user_id 'guest' is not a registered application (`switchboard apps add`)")),
    ("old", (None, "application 'old' was revoked at 2024-01-01T00:00:00+00:00")),
])
def test_attribution(user_id, expected):
    assert attribution(user_id, REGISTERED) == expected


def incoming(body: dict, user_id: str | None = "shop") -> Incoming:
    raw = json.dumps(body).encode()
    routing_key = event_routing_key(body["category"], body["name"])
    return Incoming(payload=judge(routing_key, raw, RULES), routing_key=routing_key, message_id=None,
                    redelivered=False, user_id=user_id)


def test_a_batch_keeps_each_event_once_and_refuses_a_reused_id():
    same = incoming(event(id="e1"))
    decisions = decide([same, same, incoming(event(id="e1", data={**PAGE, "path": "/"})),
                        incoming(event()), incoming(event()), incoming(event(), user_id="blog"),
                        incoming(event(id="e1"), user_id=None)], REGISTERED)
    assert [key[0] for key in decisions.events] == ["shop", "shop", "blog"], "e1, one derived id, blog's"
    reasons = sorted(error.reason for error in decisions.errors)
    assert reasons[0].startswith("event id 'e1' of application 'shop' was already used")
    assert reasons[1].startswith("no application")
    assert decisions.errors[0].body_bytes > 0


def test_an_error_keeps_a_bounded_body_and_the_same_delivery_gets_the_same_error_id():
    huge = event(data={**PAGE, "form": "x" * 20_000})
    first, again = decide([incoming(huge)], REGISTERED).errors, decide([incoming(huge)], REGISTERED).errors
    assert len(first[0].body.encode()) <= 8192 < first[0].body_bytes
    assert first[0].error_id == again[0].error_id


def test_the_registry_holds_the_spec_types():
    assert set(EVENT_TYPES) >= {("page interaction", "pageview"), ("page interaction", "cta click"),
                                ("form interaction", "submit")}
