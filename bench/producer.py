"""Producer throughput: Switchboard's Publisher (validation + pipelined confirms) vs bare pika.

All publish the same call records (same bodies) as persistent, mandatory messages through
the telephony exchange into the call-pairing quorum queue, with the same window of
unconfirmed messages:

- raw: bare pika, ready-made bodies, minimal properties (content type, persistent);
- raw with envelope: the same, with Switchboard's envelope properties (message_id, type,
  timestamp, app_id, user_id) built beforehand: shows what the envelope alone costs;
- Switchboard: starts from the decoded JSON objects a loader holds, so its figure includes
  validation, serialization, the message id and the envelope.
"""

from __future__ import annotations

import time
from functools import lru_cache

from bench.baselines import WINDOW, bare_properties, publish_pipelined
from bench.env import BenchEnv
from bench.measure import ServiceCpu
from bench.workload import Prefill, call_record_dicts
from broker.envelope import Outgoing
from producers.publisher import Publisher
from schemas.telephony import parse_call_record


@lru_cache(maxsize=2)
def producer_records(n: int) -> tuple[list[dict], list[Prefill], list[Prefill]]:
    dicts = call_record_dicts(n)
    properties = bare_properties()
    bare, enveloped = [], []
    for record in dicts:
        outgoing = Outgoing.of(parse_call_record(record))
        bare.append(Prefill(outgoing.exchange, outgoing.routing_key, outgoing.body, properties))
        enveloped.append(Prefill(outgoing.exchange, outgoing.routing_key, outgoing.body,
                                 outgoing.properties("switchboard", "guest")))
    return dicts, bare, enveloped


def bench_producer(env: BenchEnv, n: int) -> dict:
    dicts, bare, enveloped = producer_records(n)
    phases = {
        "raw": lambda: publish_pipelined(env.amqp_url, bare, window=WINDOW),
        "raw_envelope": lambda: publish_pipelined(env.amqp_url, enveloped, window=WINDOW),
        "switchboard": lambda: publish_switchboard(env.amqp_url, dicts),
    }
    result: dict = {"messages": n}
    for name, publish in phases.items():
        env.reset()
        result[name] = timed(publish, n)
    env.reset()
    result["ratio"] = round(result["switchboard"]["msgs_per_s"] / result["raw"]["msgs_per_s"], 3)
    result["ratio_to_raw_envelope"] = round(
        result["switchboard"]["msgs_per_s"] / result["raw_envelope"]["msgs_per_s"], 3)
    return result


def timed(publish, n: int) -> dict:
    """Throughput, with the CPU this process and the services used (connection setup included)."""
    services = ServiceCpu().start()
    cpu = time.process_time()
    seconds = publish()
    return {"msgs_per_s": round(n / seconds, 1), "seconds": round(seconds, 3),
            "cpu_seconds": round(time.process_time() - cpu, 2), "service_cpu_seconds": services.stop()}


def publish_switchboard(amqp_url: str, records: list[dict]) -> float:
    with Publisher(amqp_url, name="bench-publisher", window=WINDOW) as publisher:
        publisher.publish(parse_call_record(records[0]))  # connect first: timing starts connected
        started = time.perf_counter()
        publisher.publish_many(parse_call_record(record) for record in records)
        return time.perf_counter() - started
