"""Consumers: one module per consumer, plus the shared runtime (consumers.runtime) that runs them."""
