"""The AMQP plumbing every consumer shares: batches, transactions, dead letters, recovery."""

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Emit, Incoming, Reply

__all__ = ["BatchOutcome", "ConsumerSpec", "Emit", "Incoming", "Reply"]
