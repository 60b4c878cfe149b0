"""Turn the topology (schemas.topology) into AMQP declarations, run blocking or on the I/O loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from schemas.topology import Exchange, QueuePolicy, QueueSpec


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


def declarations(queues: Iterable[QueueSpec], policy: QueuePolicy, exchanges: Iterable[Exchange] = ()) -> list[Declaration]:
    queues = list(queues)
    all_exchanges = dict.fromkeys([*exchanges, *(queue.exchange for queue in queues)])
    result = [
        Declaration("exchange_declare", {"exchange": ex.name, "exchange_type": ex.type, "durable": True})
        for ex in all_exchanges
    ]
    for queue in queues:
        result.append(Declaration("queue_declare", {
            "queue": queue.dead_letter_queue, "durable": True, "arguments": policy.dead_letter_arguments(),
        }))
        result.append(Declaration("queue_declare", {
            "queue": queue.name, "durable": True, "arguments": policy.arguments(queue),
        }))
        result.extend(
            Declaration("queue_bind", {"queue": queue.name, "exchange": queue.exchange.name, "routing_key": key})
            for key in queue.routing_keys
        )
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
