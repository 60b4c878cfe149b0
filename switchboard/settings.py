"""Configuration from environment variables (prefix SWITCHBOARD_), with local defaults."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", env_file=".env", extra="ignore")

    amqp_url: str = "amqp://guest:guest@localhost:5672/%2F"
    database_url: str = "postgresql://postgres@localhost:5432/switchboard"
    management_url: str = Field(
        "http://localhost:15672",
        description="RabbitMQ management API, used by `status` for unacked counts when enabled",
    )

    queue_type: Literal["quorum", "classic"] = "quorum"
    delivery_limit: int = Field(20, ge=1, description="quorum queues: deliveries before the broker dead-letters")

    prefetch: int = Field(1000, ge=1)
    batch_size: int = Field(500, ge=1)
    batch_max_wait_ms: int = Field(50, ge=0)
    handler_attempts: int = Field(3, ge=1, description="tries of a message that makes its handler raise")
    max_body_bytes: int = Field(256 * 1024, ge=1)
    heartbeat_s: int = Field(30, ge=0)

    publish_window: int = Field(2000, ge=1, description="unconfirmed messages in flight per publisher")
    confirm_timeout_s: float = Field(30.0, gt=0)

    app_id: str = "switchboard"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
