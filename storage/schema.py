"""Every table of the store on one `metadata`: what alembic compares the migrations against.
A domain that adds a tables module imports it here."""

from storage import event_tables, notification_tables, plan_tables  # noqa: F401 - they register their tables on the metadata
from storage.tables import metadata

__all__ = ["metadata"]
