"""``GET /metrics``: the Prometheus text format, for admins and the configured addresses.

The access policy lets admins in (``POLICY["metrics.export"]``) and, with no sign-in,
clients whose address is in ``METRICS_ALLOWED_ADDRESSES`` (``policy.ADDRESS_OPENED``):
the Prometheus server scrapes from there. Everyone else is refused like on any admin
page. In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set, as under gunicorn) the
answer adds up every worker's files; otherwise it is this process's registry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from flask import Blueprint, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from console.observability.collectors import DatabaseCollector

bp = Blueprint("metrics", __name__)


class _ProcessRegistry(Collector):
    """This process's default registry, as one collector of the scrape's registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition() -> bytes:
    """The metrics in Prometheus' text format (call inside an app context)."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


@bp.get("/metrics", endpoint="export")
def export() -> Response:
    return Response(exposition(), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
