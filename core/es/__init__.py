"""The platform's Elasticsearch access; this package is the only code importing ``elasticsearch``.

``Store`` wraps (never subclasses) the official client: connection and version check
(``_base``), index administration (``admin``), documents and searches (``docs``), bulk writes
with per-item results (``bulk``), and translation of client exceptions into the platform's own
errors. Only server-core APIs are used so the platform behaves the same on the minimal managed
node and on a full cluster (no ingest pipelines, painless, reindex, delete-by-query, ILM, data
streams, percolator or analysis-common).
"""

from __future__ import annotations

from core.es._base import SUPPORTED_MAJOR, ClusterInfo, translate
from core.es.admin import IndexAdmin
from core.es.bulk import BulkOps, BulkResult, ItemResult
from core.es.docs import DocOps


class Store(BulkOps, DocOps, IndexAdmin):
    """A connection to one cluster. Build it with ``Store.connect(settings)``; pass it around."""


__all__ = ["SUPPORTED_MAJOR", "BulkResult", "ClusterInfo", "ItemResult", "Store", "translate"]
