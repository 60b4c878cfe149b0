"""Synthetic but realistic telephony traffic: call records and completed calls.

Deterministic for a seed, so every run publishes the same bodies (same sizes) to Switchboard
and to the baselines.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pika

from broker.envelope import Outgoing
from schemas.base import Message
from schemas.events import SentEvent
from schemas.telephony import CallCompleted, CallEnd, CallStart

EPOCH = datetime(2024, 3, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Prefill:
    """One ready-made AMQP message (body and envelope as Switchboard's producers would send it)."""

    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


def _phone(rng: random.Random) -> str:
    return f"{rng.randint(11, 99)}{rng.randint(10**8, 10**9 - 1)}"


def _call(rng: random.Random, number: int, prefix: str) -> tuple[CallStart, CallEnd]:
    started = EPOCH + timedelta(seconds=rng.randint(0, 28 * 86400))
    ended = started + timedelta(seconds=rng.randint(5, 3600))
    call_id = f"{prefix}{number}"
    start = CallStart(id=f"{call_id}-s", timestamp=started, call_id=call_id,
                      source=_phone(rng), destination=_phone(rng))
    return start, CallEnd(id=f"{call_id}-e", timestamp=ended, call_id=call_id)


def call_pairs(calls: int, *, seed: int = 7, prefix: str = "") -> list[tuple[CallStart, CallEnd]]:
    rng = random.Random(seed)
    return [_call(rng, number, prefix) for number in range(calls)]


def call_record_dicts(records: int, *, seed: int = 7) -> list[dict]:
    """What a loader holds after json.loads: plain dicts, start and end of each call adjacent."""
    return [record.model_dump(mode="json") for pair in call_pairs(records // 2, seed=seed) for record in pair]


def shuffled_records(records: int, *, seed: int = 7) -> list[Message]:
    """Starts and ends of `records // 2` calls in random order (ends often before starts)."""
    shuffled = [record for pair in call_pairs(records // 2, seed=seed) for record in pair]
    random.Random(seed + 1).shuffle(shuffled)
    return shuffled


def completed_calls(calls: int, *, seed: int = 7) -> list[CallCompleted]:
    return [
        CallCompleted(call_id=start.call_id, source=start.source, destination=start.destination,
                      started_at=start.timestamp, ended_at=end.timestamp)
        for start, end in call_pairs(calls, seed=seed)
    ]


EVENTS_PER_SESSION = 10
_EVENT_TYPES = (("page interaction", "pageview"), ("page interaction", "cta click"), ("form interaction", "submit"))


def behaviour_events(events: int, *, seed: int = 7) -> list[SentEvent]:
    """`events` valid events of `events // 10` sessions, the three known types, shuffled (a
    session's events arrive out of order); every other one carries a sender id."""
    rng = random.Random(seed)
    sent, session = [], ""
    for number in range(events):
        if number % EVENTS_PER_SESSION == 0:
            session = str(uuid.UUID(int=rng.getrandbits(128)))
        category, name = _EVENT_TYPES[number % 3]
        data = {"host": "shop.example.com", "path": f"/p/{number}"}  # distinct: no two derive one id
        if name == "cta click":
            data["element"] = "start-trial"
        elif name == "submit":
            data["form"] = {"plan": rng.choice(["free", "pro"]), "newsletter": True}
        fields = {"session_id": session, "category": category, "name": name, "data": data,
                  "timestamp": (EPOCH + timedelta(seconds=number // EVENTS_PER_SESSION, milliseconds=rng.randrange(60_000)))
                  .replace(tzinfo=None).isoformat(sep=" ")}
        sent.append(SentEvent(fields={"id": f"e{number}", **fields} if number % 2 else fields))
    rng.shuffle(sent)
    return sent


def as_prefill(messages: list[Message], user_id: str = "guest") -> list[Prefill]:
    prefill = []
    for message in messages:
        outgoing = Outgoing.of(message)
        prefill.append(Prefill(outgoing.exchange, outgoing.routing_key, outgoing.body,
                               outgoing.properties("bench", user_id)))
    return prefill
