"""Delivery metrics for Prometheus: rows by status, subscribers by state, queue lag and depth."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.deliveries import claimable
from digest.store.models import Delivery, DeliveryStatus, Pool, Subscriber, SubscriberState
from digest.store.outbox import outbox_counts


@dataclass(frozen=True)
class DeliveryMetrics:
    """One consistent reading of the store; every status and state appears, zero or not."""

    deliveries: dict[str, int]
    subscribers: dict[str, int]
    queue_lag_seconds: float
    queue_depth: int
    last_edition_at: datetime | None
    outbox: dict[str, int] = field(default_factory=dict)  # subscriber emails by status


def delivery_metrics(session: Session, now: datetime) -> DeliveryMetrics:
    """Read the counts the /metrics endpoint exposes."""
    deliveries = dict.fromkeys((s.value for s in DeliveryStatus), 0)
    for status, count in session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status)
    ):
        deliveries[status.value] = count
    subscribers = dict.fromkeys((s.value for s in SubscriberState), 0)
    for state, count in session.execute(
        select(Subscriber.state, func.count()).group_by(Subscriber.state)
    ):
        subscribers[state.value] = count
    depth, oldest_due = session.execute(
        select(func.count(), func.min(Delivery.due_at)).where(claimable(now))
    ).one()
    lag = max((now - oldest_due).total_seconds(), 0.0) if oldest_due is not None else 0.0
    last_edition = session.scalar(select(func.max(Pool.created_at)))
    return DeliveryMetrics(
        deliveries, subscribers, lag, depth, last_edition, outbox_counts(session)
    )


class _Snapshot:
    """A prometheus_client collector over one DeliveryMetrics reading."""

    def __init__(self, metrics: DeliveryMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self.metrics
        # A gauge despite the _total suffix: pending and claimed rows go down as well as up.
        deliveries = GaugeMetricFamily(
            "digest_deliveries_total", "Delivery rows by current status.", labels=["status"]
        )
        for status, count in m.deliveries.items():
            deliveries.add_metric([status], count)
        subscribers = GaugeMetricFamily(
            "digest_subscribers", "Subscribers by state.", labels=["state"]
        )
        for state, count in m.subscribers.items():
            subscribers.add_metric([state], count)
        outbox = GaugeMetricFamily(
            "digest_outbox_emails",
            "Subscriber emails (confirmations and notices) in the outbox by status.",
            labels=["status"],
        )
        for status, count in m.outbox.items():
            outbox.add_metric([status], count)
        last = m.last_edition_at.timestamp() if m.last_edition_at else 0.0
        return [
            deliveries,
            subscribers,
            outbox,
            GaugeMetricFamily(
                "digest_queue_lag_seconds",
                "Seconds since the oldest claimable delivery was due (0 when none).",
                value=m.queue_lag_seconds,
            ),
            GaugeMetricFamily(
                "digest_queue_depth",
                "Deliveries a sender could claim now.",
                value=m.queue_depth,
            ),
            GaugeMetricFamily(
                "digest_last_edition_timestamp_seconds",
                "Unix time the newest edition was built (0 when none).",
                value=last,
            ),
        ]


def render_prometheus(metrics: DeliveryMetrics) -> str:
    """The Prometheus text exposition format (version 0.0.4) of one reading."""
    return generate_latest(_Snapshot(metrics)).decode("utf-8")
