"""Every event gets its department (``organization.id``) before the spool: per input, per host-name
pattern, per subnet (longest prefix), else the district — counted as unassigned and shown in health."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest

from api.platform import organizations_probe
from collectors import service
from collectors.counters import metrics_registry
from collectors.models import Event
from collectors.organization import UNASSIGNED_TAG
from collectors.shipper import deadletter_index
from core.es import Store
from core.settings import CollectSettings, Settings
from soc.cli import cli, main
from tests.conftest import TEST_SECRET
from tests.integration.collectors.helpers import count, wait_for, write_inputs
from tests.integration.collectors.test_rotation import daemon

HOSTS = {"jw-*": "jiaowei", "WJW-*": "weijianwei"}
RULES = Path(__file__).resolve().parents[3] / "detections" / "rules"
SUBNETS = {"10.2.0.0/16": "weijianwei", "10.2.9.0/24": "minzhengju"}


def _mapped(settings: Settings) -> Settings:
    return settings.model_copy(update={"collect": CollectSettings(org_hosts=HOSTS, org_subnets=SUBNETS)})


def _auth(pid: int, host: str, src: str) -> str:
    return (f"2026-11-26T10:00:{pid:02d}.000Z {host} sshd[{pid}]: Accepted password for alice from {src} "
            "port 22 ssh2\n")


def _orgs(store: Store, prefix: str) -> dict[int, str]:
    store.refresh(f"{prefix}-events-*")
    hits = store.search(f"{prefix}-events-*", {"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
    return {h["_source"]["process"]["pid"]: h["_source"]["organization"]["id"] for h in hits}


def test_daemon_assigns_by_input_then_host_pattern_then_subnet(settings: Settings, store: Store, prefix: str,
                                                               tmp_path: Path) -> None:
    settings = _mapped(settings)
    fixed, mapped = tmp_path / "fixed.log", tmp_path / "mapped.log"
    # The input's own department beats the host pattern its lines match.
    fixed.write_text(_auth(1, "jw-web01", "10.2.9.9"))
    mapped.write_text(
        _auth(2, "jw-web01", "10.2.3.4")       # host pattern beats the subnet
        + _auth(3, "wjw-his02", "192.0.2.1")    # patterns are case-insensitive
        + _auth(4, "srv9", "10.2.3.4")         # subnet /16
        + _auth(5, "srv9", "10.2.9.4")         # the longer /24 wins
        + _auth(6, "srv9", "192.0.2.1"))       # nothing matches: the district, unassigned
    inputs = write_inputs(tmp_path / "inputs.yaml", [
        {"name": "fixed", "type": "file", "paths": [str(fixed)], "parser": "system.auth", "poll_seconds": 0.1,
         "organization": "minzhengju"},
        {"name": "mapped", "type": "file", "paths": [str(mapped)], "parser": "system.auth", "poll_seconds": 0.1},
    ])
    with daemon(settings, store, inputs):
        wait_for(lambda: count(store, prefix) >= 6, 30, "6 events")
        wait_for(lambda: service.collector_status(settings)["inputs"].get("mapped", {}).get("unassigned") == 1, 10,
                 "the unassigned counter in the status file")
        metrics = generate_latest(metrics_registry(settings)).decode()
        probe = organizations_probe(store, settings)()
    assert _orgs(store, prefix) == {1: "minzhengju", 2: "jiaowei", 3: "weijianwei", 4: "weijianwei",
                                    5: "minzhengju", 6: "district"}
    assert store.count(f"{prefix}-events-*", {"term": {"tags": UNASSIGNED_TAG}}) == 1
    assert 'qinglang_collect_unassigned_total{input="mapped",type="file"} 1.0' in metrics
    assert 'qinglang_collect_unassigned_total{input="fixed",type="file"} 0.0' in metrics
    assert probe["status"] == "ok" and probe["unassigned_events"] == 1 and probe["collector_unassigned"] == 1
    assert "1" in probe["message"]


def test_import_with_org_and_the_dead_letter_carry_the_department(settings: Settings, store: Store,
                                                                  prefix: str) -> None:
    settings = _mapped(settings)
    # A value the raw data claims is replaced: a log line does not choose who reads it.
    good = Event("good-1", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z", "host": {"name": "jw-web01"},
                                       "organization": {"id": "weijianwei"}})
    bad = Event("bad-1", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z", "source": {"ip": "not-an-ip"}})
    summary = service.ship_events(settings, store, [good, bad], source="unit", organization="minzhengju")
    assert (summary.shipped, summary.dead_lettered, summary.unassigned) == (1, 1, 0)
    store.refresh(f"{prefix}-events-*,{deadletter_index(prefix)}")
    stored = store.get(f"{prefix}-events-test.ds-000001", "good-1")
    assert stored is not None and stored["_source"]["organization"] == {"id": "minzhengju"}
    dead = store.get(deadletter_index(prefix), "bad-1")
    assert dead is not None and dead["_source"]["organization"]["id"] == "minzhengju"
    # Without --org the maps decide; an unmapped rejected event is the district's.
    other = Event("bad-2", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z", "source": {"ip": "nope"}})
    again = service.ship_events(settings, store, [other], source="unit")
    assert again.unassigned == 1 and again.dead_lettered == 1
    store.refresh(deadletter_index(prefix))
    dead2 = store.get(deadletter_index(prefix), "bad-2")
    assert dead2 is not None and dead2["_source"]["organization"]["id"] == "district"


def _env(settings: Settings) -> dict[str, str]:
    return {"SOC_ES_URL": settings.es_url, "SOC_INDEX_PREFIX": settings.index_prefix,
            "SOC_DATA_DIR": str(settings.data_dir), "SOC_LANGUAGE": "en", "SOC_AUDIT_SECRET_KEY": TEST_SECRET}


def test_collect_file_and_pcap_accept_org(settings: Settings, store: Store, prefix: str, tmp_path: Path,
                                          shared_dir: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(_auth(7, "srv9", "192.0.2.1") + _auth(8, "jw-web01", "192.0.2.1"))
    runner = CliRunner()
    env = {**_env(settings), "SOC_COLLECT_ORG_HOSTS": json.dumps(HOSTS)}
    plain = runner.invoke(cli, ["collect", "file", "--parser", "system.auth", str(log)], env=env)
    assert plain.exit_code == 0, plain.output
    assert "1 events matched no department" in plain.output
    assert _orgs(store, prefix) == {7: "district", 8: "jiaowei"}
    pcap = shared_dir / "pcaps" / "tests" / "dns" / "dns-tcp-www-google-com" / "dns.pcap"
    result = runner.invoke(cli, ["collect", "pcap", "--json", "--org", "weijianwei", str(pcap)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["unassigned"] == 0
    store.refresh(f"{prefix}-events-*")
    network = store.search(f"{prefix}-events-network.*", {"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
    assert network and {h["_source"]["organization"]["id"] for h in network} == {"weijianwei"}


def test_bad_org_and_bad_maps_are_refused_with_exit_2(settings: Settings, store: Store, prefix: str,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "auth.log"
    log.write_text(_auth(9, "srv9", "192.0.2.1"))
    for key, value in _env(settings).items():
        monkeypatch.setenv(key, value)
    cases = [
        ({}, ["collect", "file", "--org", "Jiao Wei", str(log)], "not a department id"),
        ({"SOC_COLLECT_ORG_SUBNETS": '{"10.1.0.0/33": "jiaowei"}'}, ["collect", "status"], "CIDR"),
        ({"SOC_COLLECT_ORG_SUBNETS": '{"10.1.0.5/16": "jiaowei"}'}, ["collect", "status"], "10.1.0.0/16"),
        ({"SOC_COLLECT_ORG_HOSTS": '{" ": "jiaowei"}'}, ["collect", "status"], "empty host-name pattern"),
        ({"SOC_COLLECT_ORG_HOSTS": '{"jw-*": ""}'}, ["collect", "status"], "not a department id"),
    ]
    for extra, argv, expected in cases:
        with monkeypatch.context() as m:
            for key, value in extra.items():
                m.setenv(key, value)
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(argv)
        assert code == 2, (argv, extra, err.getvalue())
        assert expected in err.getvalue(), err.getvalue()
    assert store.count(f"{prefix}-events-*") == 0
    # An input whose organization is not a department id is refused when the daemon starts.
    inputs = write_inputs(tmp_path / "inputs.yaml", [
        {"name": "x", "type": "file", "paths": [str(log)], "organization": "教委"}])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["collect", "run", "--inputs", str(inputs)])
    assert code == 2 and "organization" in err.getvalue(), err.getvalue()


def test_an_import_inside_a_department_scope_stays_in_that_department(settings: Settings, store: Store,
                                                                      prefix: str) -> None:
    from core.errors import PermissionDenied
    from core.scope import Scope, acting

    settings = _mapped(settings)
    events = [Event("s-1", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z", "host": {"name": "jw-pc"}}),
              Event("s-2", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z", "source": {"ip": "10.2.9.1"}}),
              Event("s-3", "test.ds", {"@timestamp": "2026-11-26T10:00:00.000Z", "source": {"ip": "192.0.2.1"}})]
    minzhengju = Scope(organizations=frozenset({"minzhengju"}), home="minzhengju", user="mz-analyst")
    with acting(minzhengju):
        with pytest.raises(PermissionDenied):
            service.ship_events(settings, store, events, source="unit", organization="jiaowei")
        summary = service.ship_events(settings, store, events, source="unit")
    # Its own department's map match is kept; a map pointing elsewhere and no match are its own.
    assert summary.shipped == 3 and summary.unassigned == 0
    store.refresh(f"{prefix}-events-*")
    got = {h["_id"]: h["_source"]["organization"]["id"]
           for h in store.search(f"{prefix}-events-*", {"query": {"match_all": {}}})["hits"]["hits"]}
    assert got == {"s-1": "minzhengju", "s-2": "minzhengju", "s-3": "minzhengju"}


def test_hunt_evtx_and_collect_evtx_accept_org(settings: Settings, store: Store, prefix: str, shared_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted((shared_dir / "sigma" / "regression_data").rglob("*.evtx"))[:2]
    for key, value in _env(settings).items():
        monkeypatch.setenv(key, value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # The platform's own Linux/network rules over an EVTX-only import: their routes have no
        # index, which answers without aggregations (nothing matched, no crash).
        code = main(["hunt", "evtx", "--json", "--org", "jiaowei", "--rules", str(RULES), str(files[0])])
    assert code == 0, out.getvalue()
    assert json.loads(out.getvalue())["import"]["unassigned"] == 0
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["collect", "evtx", "--org", "weijianwei", str(files[1])]) == 0
    store.refresh(f"{prefix}-events-*")
    orgs = store.search(f"{prefix}-events-*", {"size": 0, "aggs": {"o": {"terms": {"field": "organization.id"}}}})
    assert {b["key"] for b in orgs["aggregations"]["o"]["buckets"]} == {"jiaowei", "weijianwei"}


def test_a_district_operator_narrowed_with_global_org_imports_into_that_department(
        settings: Settings, store: Store, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "auth.log"
    log.write_text(_auth(11, "jw-web01", "192.0.2.1") + _auth(12, "srv9", "192.0.2.1"))
    for key, value in {**_env(settings), "SOC_COLLECT_ORG_HOSTS": json.dumps(HOSTS),
                       "SOC_ORG_DEPARTMENTS": json.dumps([{"id": "weijianwei", "name_zh": "卫健委",
                                                           "name_en": "Health Commission"}])}.items():
        monkeypatch.setenv(key, value)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        refused = main(["--org", "weijianwei", "collect", "file", "--org", "jiaowei", "--parser", "system.auth",
                        str(log)])
        code = main(["--org", "weijianwei", "collect", "file", "--parser", "system.auth", str(log)])
    assert refused == 2 and "outside your scope" in err.getvalue(), err.getvalue()
    assert code == 0, err.getvalue()
    # The jw-* map points outside the narrowed scope; nothing is left to the district either.
    assert _orgs(store, prefix) == {11: "weijianwei", 12: "weijianwei"}
    assert store.count(f"{prefix}-events-*", {"term": {"tags": UNASSIGNED_TAG}}) == 0
