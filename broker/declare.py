"""Turn the topology (schemas.topology) into AMQP declarations, run blocking or on the I/O loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from schemas.topology import Exchange, QueuePolicy, QueueSpec, archive_of, replay_exchange_of


@dataclass(frozen=True)
class Declaration:
    method: str
    kwargs: dict = field(hash=False)

    def describe(self) -> str:
        if self.method == "exchange_declare":
            return f"exchange {self.kwargs['exchange']} ({self.kwargs['exchange_type']}, durable)"
        if self.method == "queue_declare":
            queue_type = self.kwargs["arguments"].get("x-queue-type", "classic")
            return f"queue {self.kwargs['queue']} ({queue_type})"
        return f"binding {self.kwargs['exchange']} --[{self.kwargs['routing_key']}]--> {self.kwargs['queue']}"


def declarations(queues: Iterable[QueueSpec], policy: QueuePolicy, exchanges: Iterable[Exchange] = (),
                 streams: bool = True) -> list[Declaration]:
    """`streams=False`: the archive streams are left to `switchboard topology` (a consumer's
    link declares only its queue and the replay twins: a retention setting changed since the
    streams were made would otherwise make every consumer's declaration conflict)."""
    queues = list(queues)
    all_exchanges = dict.fromkeys([*exchanges, *(queue.exchange for queue in queues)])
    result = [
        Declaration("exchange_declare", {"exchange": ex.name, "exchange_type": ex.type, "durable": True})
        for ex in all_exchanges
    ]
    if policy.archive is not None:
        result += _archive(all_exchanges, queues, policy, streams)
    for queue in queues:
        result.append(Declaration("queue_declare", {
            "queue": queue.dead_letter_queue, "durable": True, "arguments": policy.dead_letter_arguments(),
        }))
        result.append(Declaration("queue_declare", {
            "queue": queue.name, "durable": True, "arguments": policy.arguments(queue),
        }))
        exchanges_bound = [queue.exchange.name]
        if policy.archive is not None:
            exchanges_bound.append(replay_exchange_of(queue.exchange))
        result.extend(
            Declaration("queue_bind", {"queue": queue.name, "exchange": exchange, "routing_key": key})
            for exchange in exchanges_bound
            for key in queue.routing_keys
        )
    return result


def _archive(exchanges: Iterable[Exchange], queues: list[QueueSpec], policy: QueuePolicy,
             streams: bool) -> list[Declaration]:
    """Per exchange: its replay twin, and its archive stream bound to what the queues bind."""
    result = []
    for exchange in exchanges:
        keys = dict.fromkeys(key for queue in queues if queue.exchange == exchange and queue.archived
                             for key in queue.routing_keys)
        result.append(Declaration("exchange_declare", {"exchange": replay_exchange_of(exchange),
                                                       "exchange_type": exchange.type, "durable": True}))
        if not keys or not streams:
            continue
        result.append(Declaration("queue_declare", {"queue": archive_of(exchange), "durable": True,
                                                    "arguments": policy.archive.stream_arguments()}))
        result.extend(Declaration("queue_bind", {"queue": archive_of(exchange), "exchange": exchange.name,
                                                 "routing_key": key}) for key in keys)
    return result


def declare_blocking(channel, items: Sequence[Declaration]) -> None:
    for item in items:
        getattr(channel, item.method)(**item.kwargs)


def declare_async(channel, items: Sequence[Declaration], on_done: Callable[[], None]) -> None:
    """Run declarations one after another with pika's callbacks, then call on_done."""
    remaining = list(items)

    def next_step(_frame=None) -> None:
        if not remaining:
            on_done()
            return
        item = remaining.pop(0)
        getattr(channel, item.method)(callback=next_step, **item.kwargs)

    next_step()
