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


def _cli_env(settings: Settings) -> dict[str, str]:
    from tests.conftest import TEST_SECRET

    return {"SOC_ES_URL": settings.es_url or "", "SOC_INDEX_PREFIX": settings.index_prefix,
            "SOC_DATA_DIR": str(settings.data_dir), "SOC_LANGUAGE": "en", "SOC_AUDIT_SECRET_KEY": TEST_SECRET}


def test_a_file_the_parser_cannot_read_is_refused_unless_plain(settings: Settings, store: Store, prefix: str,
                                                               tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import io

    from soc.cli import main

    export = tmp_path / "alerts-export.log"
    export.write_text("\n".join(f'{{"id": {i}, "rule": "x", "host": "web-{i}"}}' for i in range(500)) + "\n")
    for key, value in _cli_env(settings).items():
        monkeypatch.setenv(key, value)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["collect", "file", str(export)])
    # soc.cli.main: bad input is exit code 2 with one clear paragraph.
    assert code == 2
    assert "alerts-export.log" in err.getvalue() and "JSON" in err.getvalue()
    assert "--parser plain" in err.getvalue() and "Nothing was imported" in err.getvalue()
    assert store.count(f"{prefix}-events-*") == 0
    # A good file given with it does not get the bad one through either.
    good = tmp_path / "auth.log"
    good.write_text("Nov 26 10:00:00 bastion sshd[7]: Accepted password for alice from 10.1.2.3 port 22 ssh2\n")
    with pytest.raises(InvalidInput, match="alerts-export.log"):
        service.import_files(settings, store, [good, export], actor=CLI)
    # The user insists: every line stored as it is.
    summary = service.import_files(settings, store, [export], actor=CLI, parser="plain")
    assert summary.read == summary.shipped == 500


def test_host_option_names_the_host_of_lines_without_one(settings: Settings, store: Store, prefix: str,
                                                         tmp_path: Path) -> None:
    rhel = tmp_path / "secure"
    rhel.write_text("Mar 15 10:00:00 sshd[7]: Accepted password for root from 203.0.113.50 port 22 ssh2\n"
                    "Mar 15 10:00:05 sshd[8]: Failed password for root from 203.0.113.51 port 22 ssh2\n")
    with pytest.raises(InvalidInput, match="--host"):
        service.import_files(settings, store, [rhel], actor=CLI, host="two words")
    summary = service.import_files(settings, store, [rhel], actor=CLI, host="db-01")
    assert summary.shipped == 2
    store.refresh(f"{prefix}-events-*")
    docs = [h["_source"] for h in store.search(f"{prefix}-events-*", {"size": 10})["hits"]["hits"]]
    assert {d["host"]["name"] for d in docs} == {"db-01"}
    assert {d["process"]["name"] for d in docs} == {"sshd"}
    assert {d["user"]["name"] for d in docs} == {"root"}
    # Lines that name their host keep it as host.name when no --host is given.
    named = tmp_path / "auth.log"
    named.write_text("Nov 26 10:00:00 bastion sshd[7]: Accepted password for alice from 10.1.2.3 port 22 ssh2\n")
    service.import_files(settings, store, [named], actor=CLI)
    store.refresh(f"{prefix}-events-*")
    assert store.count(f"{prefix}-events-*", {"term": {"host.name": "bastion"}}) == 1
