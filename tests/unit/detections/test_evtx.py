"""EVTX → ECS layout, deterministic ids, and damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.evtx import EvtxStats, count_records, iter_evtx_events

SAMPLE = ("sigma/regression_data/rules/windows/file/file_event/file_event_win_hktl_netexec_file_indicators/"
          "efc21479-9e83-41da-8cf1-122e06ba8db3.evtx")


@pytest.fixture
def sample(shared_dir) -> Path:
    return shared_dir / SAMPLE


def test_winlogbeat_layout_and_stable_ids(sample):
    events = list(iter_evtx_events(sample))
    assert events
    doc = events[0].doc
    assert doc["winlog"]["channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert doc["event"]["code"] == "11" and doc["winlog"]["record_id"] > 0
    assert doc["file"]["path"] == doc["winlog"]["event_data"]["TargetFilename"]
    assert doc["process"]["executable"].endswith("nxc.exe") and doc["process"]["name"] == "nxc.exe"
    assert isinstance(doc["process"]["pid"], int)
    assert events[0].dataset == "windows.sysmon"
    assert [e.id for e in iter_evtx_events(sample)] == [e.id for e in events]


def test_truncated_file_yields_what_it_can(sample, tmp_path):
    data = sample.read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: len(data) * 2 // 3])
    stats = EvtxStats(str(cut))
    events = list(iter_evtx_events(cut, stats))
    full = count_records(sample)
    assert len(events) <= full.records
    assert stats.records == len(events)


@pytest.mark.parametrize("payload", [b"", b"ElfFile\x00" + b"\xff" * 5000, b"not an evtx at all"])
def test_garbage_is_reported_not_raised(tmp_path, payload):
    bad = tmp_path / "bad.evtx"
    bad.write_bytes(payload)
    stats = EvtxStats(str(bad))
    assert list(iter_evtx_events(bad, stats)) == []
    assert stats.errors >= 1 and stats.error_samples


def test_corrupted_middle_does_not_crash(sample, tmp_path):
    data = bytearray(sample.read_bytes())
    for i in range(5000, min(len(data), 9000), 7):
        data[i] ^= 0x5A
    broken = tmp_path / "broken.evtx"
    broken.write_bytes(bytes(data))
    stats = EvtxStats(str(broken))
    events = list(iter_evtx_events(broken, stats))
    assert stats.records == len(events)
