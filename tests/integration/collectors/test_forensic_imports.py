"""Forensic imports as Hayabusa/Chainsaw users expect: a case directory of EVTX read recursively,
gzipped captures read as they are, every network event naming its capture file."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from evtx import PyEvtxParser

from collectors import service
from collectors.network import service as network
from core.auditing import Actor
from core.errors import InvalidInput
from core.es import Store
from core.settings import Settings

CLI = Actor("cli:test", "cli")


def test_evtx_directory_is_read_recursively(settings: Settings, store: Store, prefix: str, shared_dir: Path,
                                            tmp_path: Path) -> None:
    sources = sorted((shared_dir / "sigma" / "regression_data").rglob("*.evtx"))[:3]
    case = tmp_path / "case"
    deep = case / "HOST-A" / "C" / "Windows" / "System32" / "winevt" / "Logs"
    deep.mkdir(parents=True)
    shutil.copy(sources[0], case / "top.evtx")
    shutil.copy(sources[1], deep / "Security.EVTX")  # Windows names are case-insensitive
    shutil.copy(sources[2], deep / "notes.txt")       # not an EVTX name: ignored
    expected = sum(sum(1 for _ in PyEvtxParser(str(p)).records_json()) for p in sources[:2])
    ids: list[str] = []
    summary = service.import_evtx(settings, store, [case], actor=CLI, ids=ids)
    assert summary.read == expected and summary.failed == 0
    assert sorted(Path(f).name for f in summary.files) == ["Security.EVTX", "top.evtx"]
    assert len(ids) == expected
    store.refresh(f"{prefix}-events-*")
    paths = store.search(f"{prefix}-events-*", {"size": 0, "aggs": {"p": {"terms": {"field": "log.file.path"}}}})
    assert {b["key"] for b in paths["aggregations"]["p"]["buckets"]} == \
        {str((case / "top.evtx").resolve()), str((deep / "Security.EVTX").resolve())}


def test_evtx_directory_without_evtx_is_refused(settings: Settings, store: Store, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="No \\*.evtx files"):
        service.import_evtx(settings, store, [tmp_path / "empty"], actor=CLI)


def test_gzipped_capture_imports_like_the_plain_one_and_names_its_file(settings: Settings, store: Store,
                                                                        prefix: str, shared_dir: Path,
                                                                        tmp_path: Path) -> None:
    src = shared_dir / "pcaps" / "tests" / "ftp" / "ftp-upload-active" / "input.pcap"
    plain_events, plain = network.read_captures([src])
    gz = tmp_path / "rotated" / "trace.pcap.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(src.read_bytes()))
    summary = network.import_pcaps(settings, store, [gz.parent])  # a directory of rotated captures
    assert not summary.capture.file_errors
    assert summary.capture.packets == plain.packets > 0
    assert summary.capture.total_events == plain.total_events == len(plain_events)
    store.refresh(f"{prefix}-events-*")
    index = f"{prefix}-events-network.*"
    assert store.count(index) == len(plain_events)
    assert store.count(index, {"term": {"log.file.path": str(gz.resolve())}}) == len(plain_events)
    # The plain capture names itself too.
    assert {e.doc["log"]["file"]["path"] for e in plain_events} == {str(src.resolve())}


def test_cut_gzip_keeps_what_was_read_and_says_why(settings: Settings, store: Store, shared_dir: Path,
                                                    tmp_path: Path) -> None:
    src = shared_dir / "pcaps" / "tests" / "ftp" / "ftp-upload-active" / "input.pcap"
    data = gzip.compress(src.read_bytes())
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(data[: len(data) // 2])
    events, summary = network.read_captures([cut])
    assert summary.file_errors and "cut.pcap.gz" in summary.file_errors[0]
    assert summary.packets > 0
