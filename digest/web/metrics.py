"""GET /metrics: delivery metrics in the Prometheus text format."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.store.db import Database
from digest.store.metrics import delivery_metrics, render_prometheus
from digest.store.types import utcnow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def read_metrics(db: Database) -> str:
    with db.session() as session:
        return render_prometheus(delivery_metrics(session, utcnow()))


def metrics_routes(db: Database) -> list[Route]:
    """GET /metrics, read from the database on every scrape."""

    async def metrics(request: Request) -> Response:
        text = await run_in_threadpool(read_metrics, db)
        return Response(text, media_type=CONTENT_TYPE)

    return [Route("/metrics", metrics, methods=["GET"])]
