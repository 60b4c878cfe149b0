"""The AMQP plumbing every consumer shares: batches, transactions, dead letters, recovery."""

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming, Outgoing

__all__ = ["BatchOutcome", "ConsumerSpec", "Incoming", "Outgoing"]
