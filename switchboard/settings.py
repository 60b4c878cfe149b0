"""Configuration from environment variables (prefix SWITCHBOARD_), with local defaults."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
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

    archive: bool = Field(True, description="every exchange also feeds a stream <exchange>.archive for replays")
    archive_max_age: str = Field("7D", pattern=r"^\d+[YMDhms]$", description="how long the archive keeps messages")
    archive_max_bytes: int = Field(5_000_000_000, ge=1, description="the most each archive stream keeps")

    max_replays: int = Field(3, ge=1, description="a dead letter replayed this often stays parked")

    prefetch: int = Field(1000, ge=1)
    batch_size: int = Field(500, ge=1)
    batch_max_wait_ms: int = Field(50, ge=0)
    handler_attempts: int = Field(3, ge=1, description="tries of a message that makes its handler raise")
    max_body_bytes: int = Field(256 * 1024, ge=1)
    heartbeat_s: int = Field(30, ge=0)
    reconnect_budget_s: float = Field(
        300.0, gt=0, description="a consumer exits (non-zero) after this long without reaching RabbitMQ")

    publish_window: int = Field(2000, ge=1, description="unconfirmed messages in flight per publisher")
    confirm_timeout_s: float = Field(30.0, gt=0)

    smtp_url: str | None = Field(
        None, description="smtp://[user:password@]host:port (STARTTLS when offered) or smtps://; unset: local sinks")
    email_from: str = "Switchboard <switchboard@localhost>"
    smtp_timeout_s: float = Field(10.0, gt=0)
    sms_gateway_url: str | None = Field(None, description="where SMS are POSTed; unset: local sinks")
    sms_connect_timeout_s: float = Field(2.0, gt=0)
    sms_read_timeout_s: float = Field(5.0, gt=0)
    delivery_batch_size: int = Field(100, ge=1, description="deliveries a dispatcher sends per transaction")
    delivery_retry_for_s: float = Field(86400.0, gt=0, description="transient failures are retried this long")
    sinks_dir: str = Field(".switchboard/sinks", description="where the local sinks keep mail and SMS")
    sinks_host: str = Field("127.0.0.1", description="where the local sinks listen")
    sinks_smtp_port: int = Field(1025, ge=1, le=65535)
    sinks_http_port: int = Field(8025, ge=1, le=65535)

    metrics_host: str = Field("0.0.0.0", description="where every fleet process serves /metrics, /healthz, /readyz")
    metrics_port: int = Field(
        9400, ge=0, le=65535, description="port of the first fleet process; the next ones count up (0: any free port)")

    unknown_events: Literal["reject", "accept"] = Field(
        "reject", description="event-sessions: an event of a type without a payload model is refused (stored as an "
                              "error) or accepted with the generic check only")
    event_clock_skew_s: float = Field(
        300.0, ge=0, description="event-sessions: how far ahead of the time it is received an event may be dated")

    provider_url: str | None = Field(
        None, description="the provider's plan feed (http://, https:// or file://); set: `run` also polls it")
    provider_interval_s: float = Field(60.0, gt=0, description="seconds between polls of the provider")
    provider_connect_timeout_s: float = Field(5.0, gt=0)
    provider_read_timeout_s: float = Field(30.0, gt=0, description="longest silence while reading the document")
    provider_deadline_s: float = Field(300.0, gt=0, description="longest a whole download may take")
    provider_attempts: int = Field(4, ge=1, description="tries per poll (backoff with jitter between them)")

    gateway_host: str = Field("127.0.0.1", description="where `switchboard serve` listens (0.0.0.0: everywhere)")
    gateway_port: int = Field(8080, ge=1, le=65535)
    gateway_max_body_bytes: int = Field(1_048_576, ge=1024, description="larger POST /events bodies get 413")
    gateway_max_events: int = Field(1000, ge=1, description="events per POST /events request")
    gateway_workers: int = Field(1, ge=1, description="gateway processes sharing its port (uvicorn workers)")
    gateway_db_pool_size: int = Field(5, ge=1, description="database connections of the gateway's reads")
    gateway_search_cache_mb: int = Field(64, ge=0, description="memory for recent GET /search answers (0: none)")
    gateway_confirm_timeout_s: float = Field(10.0, gt=0, description="longest wait for the broker's confirms")

    app_id: str = "switchboard"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"


    @field_validator("smtp_url", "sms_gateway_url", "provider_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        return None if value == "" else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
