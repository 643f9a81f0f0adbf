"""One-shot imports: `soc collect file|evtx`, hostile files, dead-lettering, re-imports."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from evtx import PyEvtxParser

from collectors import service
from collectors.models import Event
from collectors.shipper import deadletter_index
from core.auditing import Actor
from core.es import Store
from core.settings import Settings
from soc.cli import cli
from tests.conftest import TEST_SECRET

CLI = Actor("cli:test", "cli")


def _env(settings: Settings) -> dict[str, str]:
    return {"SOC_ES_URL": settings.es_url, "SOC_INDEX_PREFIX": settings.index_prefix,
            "SOC_DATA_DIR": str(settings.data_dir), "SOC_LANGUAGE": "en",
            # CLI actions are recorded in the audit trail, which needs its key.
            "SOC_AUDIT_SECRET_KEY": TEST_SECRET}


def test_collect_file_cli_summary_and_reimport_adds_nothing(settings: Settings, store: Store, prefix: str,
                                                             shared_dir: Path) -> None:
    log = shared_dir / "logs" / "beats" / "system" / "auth" / "secure-rhel7.log"
    runner = CliRunner()
    first = runner.invoke(cli, ["collect", "file", "--json", "--parser", "system.auth", str(log)], env=_env(settings))
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["read"] == 1000 and summary["shipped"] == 1000 and summary["failed"] == 0
    store.refresh(f"{prefix}-events-*")
    assert store.count(f"{prefix}-events-system.auth-*") == 1000
    failed_logins = store.count(f"{prefix}-events-*", {"bool": {"filter": [
        {"term": {"event.outcome": "failure"}}, {"term": {"user.name": "root"}}]}})
    assert failed_logins > 100
    again = runner.invoke(cli, ["collect", "file", "--json", "--parser", "system.auth", str(log)], env=_env(settings))
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["duplicates"] == 1000
    store.refresh(f"{prefix}-events-*")
    assert store.count(f"{prefix}-events-*") == 1000
    human = runner.invoke(cli, ["collect", "file", "--parser", "system.auth", str(log)], env=_env(settings))
    assert "already stored 1000" in human.output


def test_hostile_file_is_stored_not_crashed(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    path = tmp_path / "hostile.log"
    big = b"Nov 26 10:00:00 host app[7]: " + b"A" * (10 * 1024 * 1024)
    path.write_bytes(b"\n".join([
        b"Nov 26 10:00:00 host sshd[1]: Accepted password for alice from 10.1.2.3 port 22 ssh2",
        bytes(range(256)) * 4,                           # binary garbage (contains newlines itself)
        big,                                             # a 10 MB line
        b"Nov 26 10:00:01 host app[2]: caf\xc3 invalid \xff\xfe utf-8",
        b"<999>Nov 26 10:00:02 host app[3]: malformed priority",
        b"<abc>Nov 26 10:00:03 host app[4]: malformed priority",
        b"Nov 26 10:00:04 host app[5]: the end",         # no final newline
    ]))
    summary = service.import_files(settings, store, [path], actor=CLI, parser="syslog")
    assert summary.failed == 0 and summary.error is None
    assert summary.read == summary.shipped
    assert summary.parse_failures >= 3
    index = f"{prefix}-events-*"
    store.refresh(index)
    assert store.count(index) == summary.read
    hits = store.search(index, {"query": {"term": {"process.pid": 7}}, "_source": ["log.offset"],
                            "script_fields": {}})["hits"]["hits"]
    assert len(hits) == 1
    assert store.count(index, {"match_phrase": {"message": "the end"}}) == 1
    invalid = store.search(index, {"query": {"term": {"process.pid": 2}}})["hits"]["hits"][0]["_source"]
    assert "invalid utf-8 bytes" in invalid["error"]["message"]
    assert store.count(index, {"exists": {"field": "error.message"}}) >= 3
    assert store.count(index, {"term": {"user.name": "alice"}}) == 1


def test_gbk_log_decoded(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    path = tmp_path / "messages"
    path.write_bytes("Nov 26 10:00:00 主机 app[1]: 用户 张三 登录失败\n".encode("gbk")
                     + "Nov 26 10:00:01 host app[2]: 日志轮转完成\n".encode("gb18030"))
    summary = service.import_files(settings, store, [path], actor=CLI, parser="syslog", encoding="gb18030")
    assert summary.shipped == 2 and summary.parse_failures == 0
    store.refresh(f"{prefix}-events-*")
    docs = [h["_source"] for h in store.search(f"{prefix}-events-*", {"sort": [{"process.pid": "asc"}]})["hits"]["hits"]]
    assert docs[0]["message"] == "用户 张三 登录失败"
    assert docs[0]["host"]["hostname"] == "主机"
    assert docs[1]["message"] == "日志轮转完成"


def test_rejected_documents_go_to_the_dead_letter_index(settings: Settings, store: Store, prefix: str) -> None:
    good = Event("good-1", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z", "message": "fine"})
    bad = Event("bad-1", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z", "source": {"ip": "not-an-ip"}})
    summary = service.ship_events(settings, store, [good, bad], source="unit")
    assert (summary.read, summary.shipped, summary.dead_lettered, summary.failed) == (2, 1, 1, 0)
    store.refresh(deadletter_index(prefix))
    dead = store.get(deadletter_index(prefix), "bad-1")
    assert dead is not None
    assert "not-an-ip" in dead["_source"]["deadletter"]["source"]
    assert "source.ip" in dead["_source"]["error"]["message"]
    ingested = store.get(f"{prefix}-events-test.ds-000001", "good-1")
    assert ingested is not None and ingested["_source"]["event"]["ingested"].endswith("Z")
    # Re-shipping the same events is harmless.
    again = service.ship_events(settings, store, [good, bad], source="unit")
    assert (again.duplicates, again.dead_lettered, again.shipped) == (1, 1, 0)


def test_evtx_import_counts_every_record(settings: Settings, store: Store, prefix: str, shared_dir: Path) -> None:
    files = sorted((shared_dir / "sigma" / "regression_data").rglob("*.evtx"))[:12]
    expected = sum(sum(1 for _ in PyEvtxParser(str(f)).records_json()) for f in files)
    result = CliRunner().invoke(cli, ["collect", "evtx", "--json", *map(str, files)], env=_env(settings))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["read"] == expected and summary["shipped"] + summary["duplicates"] == expected
    store.refresh(f"{prefix}-events-*")
    assert store.count(f"{prefix}-events-windows.*") == expected


def test_corrupt_evtx_is_reported_not_fatal(settings: Settings, store: Store, shared_dir: Path,
                                            tmp_path: Path) -> None:
    source = sorted((shared_dir / "sigma" / "regression_data").rglob("*.evtx"))[0]
    data = bytearray(source.read_bytes())
    truncated = tmp_path / "truncated.evtx"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    garbage = tmp_path / "garbage.evtx"
    garbage.write_bytes(b"\x00ElfFile\x00" + bytes(range(256)) * 64)
    summary = service.import_evtx(settings, store, [truncated, garbage, source], actor=CLI)
    assert summary.failed == 0
    assert summary.read >= sum(1 for _ in PyEvtxParser(str(source)).records_json())
    assert summary.warnings


def test_imports_need_the_manage_permission_and_are_audited(settings: Settings, store: Store,
                                                            tmp_path: Path) -> None:
    import pytest

    from core.auditing import MemoryAuditor
    from core.errors import PermissionDenied

    path = tmp_path / "x.log"
    path.write_text("Nov 26 10:00:00 h app[1]: hello\n")
    with pytest.raises(PermissionDenied):
        service.import_files(settings, store, [path], actor=Actor("ann", "analyst"))
    auditor = MemoryAuditor()
    summary = service.import_files(settings, store, [path], actor=Actor("sam", "sysadmin"), auditor=auditor)
    assert summary.shipped == 1
    assert auditor.records[0]["action"] == "collect.import_files"


def test_events_left_by_an_interrupted_import_are_sent_by_the_next(settings: Settings, store: Store,
                                                                   prefix: str) -> None:
    from collectors.shipper import encode
    from collectors.spool import Spool

    # What a killed import leaves behind: spooled, never acknowledged.
    left = Spool(Path(settings.spool_dir) / "imports" / "file-crashed", max_bytes=1 << 20)
    left.append([encode("file", prefix, Event("left-1", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z"}))])
    left.close()
    summary = service.ship_events(settings, store, [Event("new-1", "test.ds", {"@timestamp": "2026-11-26T10:00:01.000Z"})],
                                  source="unit")
    assert summary.shipped == 1
    assert store.get(f"{prefix}-events-test.ds-000001", "left-1") is not None
    assert not (Path(settings.spool_dir) / "imports" / "file-crashed").exists()
