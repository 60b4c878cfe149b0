"""Message contracts: pydantic models, routing keys and topology. Imports nothing else of ours."""

from schemas.base import Message
from schemas.topology import Exchange, QueueSpec

__all__ = ["Message", "Exchange", "QueueSpec"]
