"""Reading the provider's document: valid plans, skipped ones with their reason, refused documents."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from producers.provider_feed import FeedError, Skipped, read_plans
from schemas.plans import PlanSeen, plan_uuid
from tests.support.processes import ROOT

SEEN = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def plans_of(document: str | bytes) -> list:
    data = document.encode() if isinstance(document, str) else document
    return list(read_plans(io.BytesIO(data), SEEN))


def feed(*base_plans: str) -> str:
    return f'<?xml version="1.0"?><planList version="1.0"><output>{"".join(base_plans)}</output></planList>'


def base_plan(plans: str, *, sell_mode: str = "online", base_plan_id: str = "7", extra: str = "") -> str:
    return f'<base_plan base_plan_id="{base_plan_id}" sell_mode="{sell_mode}" title="Show" {extra}>{plans}</base_plan>'


def plan(plan_id: str = "1", start: str = "2021-06-30T21:00:00", end: str = "2021-06-30T22:00:00",
         zones: str = '<zone zone_id="1" price="20.00"/>', extra: str = "") -> str:
    dates = "".join(f' {name}="{value}"' for name, value in (("plan_start_date", start), ("plan_end_date", end))
                    if value is not None)
    return f'<plan plan_id="{plan_id}"{dates} {extra}>{zones}</plan>'


@pytest.mark.timeout(10)
def test_the_spec_document_gives_its_two_plans_with_zone_less_times_as_utc():
    found = plans_of((ROOT / "examples" / "provider.xml").read_bytes())
    camela = next(p for p in found if isinstance(p, PlanSeen) and p.base_plan_id == "291")
    assert camela.starts_at == datetime(2021, 6, 30, 21, 0, tzinfo=timezone.utc)
    assert camela.price_range() == (Decimal("15.00"), Decimal("30.00"))
    assert camela.online and camela.public_id == plan_uuid("291", "291")
    morancos = next(p for p in found if isinstance(p, PlanSeen) and p.base_plan_id == "1591")
    assert not morancos.online
    skipped = [p for p in found if isinstance(p, Skipped)]
    assert [(s.base_plan_id, s.plan_id) for s in skipped] == [("444", "1700")]
    assert "ends" in skipped[0].reason and "before it starts" in skipped[0].reason


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("bad_plan", "expected"), [
    (plan(start=None), "starts_at"),
    (plan(end="2021-06-30T20:00:00"), "before it starts"),
    (plan(zones='<zone zone_id="1"/>'), "zones.0.price"),
    (plan(zones='<zone zone_id="1" price="twenty"/>'), "zones.0.price"),
    (plan(start="30/06/2021"), "starts_at"),
])
def test_a_malformed_plan_is_skipped_with_its_reason_and_the_rest_counts(bad_plan, expected):
    found = plans_of(feed(base_plan(bad_plan + plan("2"))))
    assert isinstance(found[0], Skipped) and expected in found[0].reason
    assert isinstance(found[1], PlanSeen) and found[1].plan_id == "2"


@pytest.mark.timeout(10)
def test_unknown_attributes_and_elements_are_ignored():
    found = plans_of(feed(base_plan(plan(extra='colour="red"') + "<poster>x.png</poster>", extra='venue="Sala 1"')
                          + "<advert/>"))
    assert [type(p) for p in found] == [PlanSeen]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("document", "expected"), [
    ("this is not XML", "not a well-formed XML document"),
    (feed(base_plan(plan()))[:-30], "not a well-formed XML document"),
    ("", "not a well-formed XML document"),
    ('<?xml version="1.0"?><html><body>maintenance</body></html>', "expected <planList>"),
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     "<planList><output>&lol2;</output></planList>", "refused XML: EntitiesForbidden"),
    ('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><planList>&x;</planList>',
     "refused XML"),
])
def test_a_document_that_cannot_be_read_whole_is_refused(document, expected):
    with pytest.raises(FeedError, match=expected):
        plans_of(document)


@pytest.mark.timeout(10)
def test_the_same_plan_seen_again_is_the_same_message_and_a_change_is_another():
    first = plans_of(feed(base_plan(plan())))[0]
    again = list(read_plans(io.BytesIO(feed(base_plan(plan())).encode()), datetime(2027, 1, 1, tzinfo=timezone.utc)))[0]
    changed = plans_of(feed(base_plan(plan(zones='<zone zone_id="1" price="25.00"/>'))))[0]
    assert first.message_id() == again.message_id() != changed.message_id()
    assert first.public_id == changed.public_id
