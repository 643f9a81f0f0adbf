"""Index fingerprints: cheap to take, yet a lost, extra or altered document shows."""

from __future__ import annotations

from backup_orchestrator import fingerprint
from core.es import Store
from tests.integration.backups.conftest import seed_index


def test_fingerprint_sees_lost_extra_and_altered_documents(store: Store, prefix: str) -> None:
    index = f"{prefix}-events-fp"
    seed_index(store, index, 500)
    meta = fingerprint.take(store, index, id_digest_max_docs=10_000, sample_size=500, seed=7)
    assert meta["count"] == 500 and meta["ids_digest"] and len(meta["sample"]) == 500
    assert fingerprint.compare(store, index, meta) == []
    assert fingerprint.compare_sample(store, index, meta["sample"]) == []
    # same seed, same sample; a big index gets no id digest
    again = fingerprint.take(store, index, id_digest_max_docs=10, sample_size=20, seed=7)
    assert "ids_digest" not in again and len(again["sample"]) == 20

    store.put(index, "d3", {"message": "tampered"}, refresh="wait_for")
    assert fingerprint.compare_sample(store, index, meta["sample"]) == ["d3 content differs"]
    assert fingerprint.compare(store, index, meta)  # a new _seq_no

    store.delete(index, "d4", refresh="wait_for")
    assert "d4 missing" in fingerprint.compare_sample(store, index, meta["sample"])
    problems = fingerprint.compare(store, index, meta)
    assert any("ids" in p for p in problems), problems
