"""Prometheus metrics of the running service (one registry per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INGESTED = Counter(
    "yuqing_ingested_total", "Records accepted into the inbox", ["origin"], registry=REGISTRY
)
REJECTED = Counter(
    "yuqing_rejected_total", "Records rejected (dead-lettered)", ["stage"], registry=REGISTRY
)
PROCESSED = Counter("yuqing_processed_total", "Posts enriched and stored", registry=REGISTRY)
PROCESS_ERRORS = Counter(
    "yuqing_process_errors_total", "Failed processing attempts", registry=REGISTRY
)
BATCH_SECONDS = Histogram(
    "yuqing_batch_seconds",
    "Time to enrich and store one batch",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
INBOX_PENDING = Gauge("yuqing_inbox_pending", "Records waiting in the inbox", registry=REGISTRY)
DEADLETTERS = Gauge("yuqing_deadletters", "Records in the dead-letter table", registry=REGISTRY)
STORED_POSTS = Gauge("yuqing_stored_posts", "Posts in the store", registry=REGISTRY)
HTTP_REQUESTS = Counter(
    "yuqing_http_requests_total", "API requests", ["method", "route", "status"], registry=REGISTRY
)
