"""Reading the provider's XML document as a stream: one PlanSeen or one Skipped per `plan`.

- defusedxml's iterparse refuses entity declarations (the billion-laughs bomb) and external
  entities and DTDs that fetch anything; a refused or malformed document raises FeedError.
- Memory stays bounded: a base plan is dropped from the tree once its plans were read.
- Unknown attributes and elements are ignored; a malformed plan is skipped with its reason
  (a plan without dates, an end before its start, a zone without a price, a bad price).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from pydantic import ValidationError

from schemas.base import describe_errors
from schemas.plans import PlanSeen


class FeedError(Exception):
    """The document as a whole cannot be read: nothing of it counts."""


@dataclass(frozen=True)
class Skipped:
    base_plan_id: str | None
    plan_id: str | None
    reason: str


def read_plans(source: BinaryIO, seen_at: datetime) -> Iterator[PlanSeen | Skipped]:
    base: dict[str, str] = {}
    path: list[Element] = []
    root_checked = False
    try:
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if not root_checked:
                    _check_root(element)
                    root_checked = True
                path.append(element)
                if element.tag == "base_plan":
                    base = dict(element.attrib)
                continue
            path.pop()
            if element.tag == "plan":
                yield _plan(base, element, seen_at)
                element.clear()
            elif element.tag == "base_plan" and path:
                path[-1].remove(element)  # read: drop it, the document is never held whole
    except ParseError as error:
        raise FeedError(f"not a well-formed XML document: {error}") from None
    except DefusedXmlException as error:
        raise FeedError(f"refused XML: {error.__class__.__name__} ({error})") from None
    if not root_checked:
        raise FeedError("empty document")


def _check_root(element: Element) -> None:
    if element.tag != "planList":
        raise FeedError(f"not a plan list: the document's root element is <{element.tag}>, expected <planList>")


def _plan(base: dict[str, str], plan: Element, seen_at: datetime) -> PlanSeen | Skipped:
    base_plan_id, plan_id = base.get("base_plan_id"), plan.get("plan_id")
    fields = {
        "base_plan_id": base_plan_id, "plan_id": plan_id, "title": base.get("title"),
        "sell_mode": base.get("sell_mode"), "starts_at": plan.get("plan_start_date"),
        "ends_at": plan.get("plan_end_date"), "seen_at": seen_at,
        "zones": [{"zone_id": zone.get("zone_id"), "price": zone.get("price")} for zone in plan.iter("zone")],
    }
    try:
        return PlanSeen.model_validate(fields)
    except ValidationError as error:
        return Skipped(base_plan_id, plan_id, describe_errors(error, limit=3))
