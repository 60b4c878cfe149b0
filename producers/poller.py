"""The provider poller: fetch the plan document, read it twice, publish a `plan.seen` per plan.

- A fetch that retrying can fix is retried with exponential backoff and jitter (tenacity), at
  most `attempts` times; then the poll fails, is logged with its reason, and the next one
  comes after the interval. A failed poll publishes nothing and changes nothing.
- The document is read once to the end before anything is published: one that is not XML,
  refused, or cut off mid-document publishes nothing. Then it is read again and each valid
  plan published, with confirms. Skipped plans are counted, and the first few logged.
- The ETag / Last-Modified of the last document published make the next request
  conditional: an unchanged document (304) is not read again. They live in the process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import structlog
from prometheus_client import Counter, Gauge
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from broker.errors import LinkFailed, PublishError
from producers.provider_feed import FeedError, Skipped, read_plans
from producers.provider_fetch import (FetchError, Fetched, FetchLimits, NotModified, TransientFetchError, Validators,
                                      fetch)
from producers.publisher import Publisher
from schemas.plans import PlanSeen

log = structlog.get_logger("poller")
SKIPS_LOGGED = 10

POLLS = Counter("switchboard_provider_polls", "Polls of the provider, by outcome: published, unchanged, failed",
                ["outcome"])
PLANS = Counter("switchboard_provider_plans", "Plans read from the provider, by outcome: published or skipped",
                ["outcome"])
LAST_SUCCESS = Gauge("switchboard_provider_last_success_timestamp_seconds", "When a poll last succeeded")


@dataclass
class PollReport:
    outcome: str = "failed"  # published, unchanged or failed
    plans_seen: int = 0
    skipped: int = 0
    published: int = 0
    bytes: int = 0
    duration_s: float = 0.0
    reason: str | None = None
    skips: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class Poller:
    def __init__(self, url: str, publisher: Publisher, limits: FetchLimits, attempts: int = 4,
                 max_backoff_s: float = 30.0):
        self._url = url
        self._publisher = publisher
        self._limits = limits
        self._attempts = attempts
        self._max_backoff_s = max_backoff_s
        self._validators = Validators()

    def poll(self) -> PollReport:
        report, started = PollReport(), time.monotonic()
        try:
            self._poll(report)
        except (FetchError, FeedError) as error:
            report.outcome, report.reason = "failed", str(error)
        except PublishError as error:
            if isinstance(error, LinkFailed):
                raise  # retrying cannot fix it: the caller exits and says why
            report.outcome, report.reason = "failed", f"publishing: {error}"  # the next poll publishes it all again
        report.duration_s = round(time.monotonic() - started, 3)
        self._account(report)
        return report

    def run(self, interval_s: float, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll()
            stop.wait(interval_s)

    def _poll(self, report: PollReport) -> None:
        fetched = self._fetch()
        if isinstance(fetched, NotModified):
            report.outcome = "unchanged"
            return
        with fetched.body as body:
            report.bytes = fetched.size
            seen_at = datetime.now(timezone.utc)
            body.seek(0)
            self._count(read_plans(body, seen_at), report)  # the whole document first: all or nothing
            body.seek(0)
            plans = (item for item in read_plans(body, seen_at) if isinstance(item, PlanSeen))
            report.published = self._publisher.publish_many(plans)
        report.outcome = "published"
        self._validators = fetched.validators

    def _fetch(self) -> Fetched | NotModified:
        retrying = Retrying(retry=retry_if_exception_type(TransientFetchError), reraise=True,
                            stop=stop_after_attempt(self._attempts),
                            wait=wait_random_exponential(multiplier=0.5, max=self._max_backoff_s),
                            before_sleep=self._log_retry)
        return retrying(fetch, self._url, self._validators, self._limits)

    @staticmethod
    def _log_retry(state) -> None:
        log.warning("provider_fetch_retry", attempt=state.attempt_number, error=str(state.outcome.exception()),
                    wait_s=round(state.next_action.sleep, 2))

    @staticmethod
    def _count(items, report: PollReport) -> None:
        for item in items:
            report.plans_seen += 1
            if isinstance(item, Skipped):
                report.skipped += 1
                if len(report.skips) < SKIPS_LOGGED:
                    report.skips.append(f"base plan {item.base_plan_id} plan {item.plan_id}: {item.reason}")

    @staticmethod
    def _account(report: PollReport) -> None:
        POLLS.labels(report.outcome).inc()
        PLANS.labels("published").inc(report.published)
        PLANS.labels("skipped").inc(report.skipped)
        summary = {k: v for k, v in report.as_dict().items() if k != "skips"}
        if report.outcome == "failed":
            log.warning("provider_poll_failed", **summary)
            return
        LAST_SUCCESS.set_to_current_time()
        log.info("provider_polled", **summary)
        for skip in report.skips:
            log.warning("provider_plan_skipped", reason=skip)
