"""Line parsers, framing, line splitting, inputs file validation, the input registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.config import load_inputs
from collectors.inputs.filereader import iter_file_events
from collectors.inputs.lines import split_lines
from collectors.inputs.syslog_server import Framer
from collectors.parsers import Assembler, get_parser
from collectors.parsers.auditd import parse_kv
from collectors.registry import known_types, resolve
from core.errors import InvalidInput


def test_sshd_sudo_su_and_useradd() -> None:
    p = get_parser("system.auth", "UTC")
    _ds, doc, ok = p.parse(["Nov 26 10:00:00 web1 sshd[42]: Failed password for invalid user bob from "
                            "2001:db8::7 port 5555 ssh2"])
    assert ok and doc["event"]["outcome"] == "failure" and doc["user"]["name"] == "bob"
    assert doc["source"]["ip"] == "2001:db8::7" and doc["process"] == {"name": "sshd", "pid": 42}
    _ds, doc, _ = p.parse(["Nov 26 10:00:01 web1 sudo:    alice : TTY=pts/0 ; PWD=/root ; USER=root ; "
                           "COMMAND=/usr/bin/id"])
    assert doc["user"] == {"name": "alice", "effective": {"name": "root"}}
    assert doc["system"]["auth"]["sudo"]["command"] == "/usr/bin/id"
    _ds, doc, _ = p.parse(["Nov 26 10:00:02 web1 su[9]: FAILED su for root by mallory"])
    assert doc["event"]["outcome"] == "failure" and doc["user"]["name"] == "mallory"
    _ds, doc, _ = p.parse(["Nov 26 10:00:03 web1 useradd[7]: new user: name=eve, UID=1001, GID=1001, "
                           "home=/home/eve, shell=/bin/bash"])
    assert doc["event"]["category"] == ["iam"] and doc["event"]["type"] == ["user", "creation"]
    assert doc["user"]["name"] == "eve"


def test_syslog_routes_and_reads_priorities() -> None:
    p = get_parser("syslog", "Asia/Shanghai")
    dataset, doc, ok = p.parse(["<86>Nov 26 18:00:00 gw sshd[1]: Accepted publickey for ops from 10.0.0.9 port 2 ssh2"])
    assert ok and dataset == "system.auth" and doc["event"]["outcome"] == "success"
    assert doc["@timestamp"].endswith("T10:00:00.000Z")  # 18:00 in Shanghai
    assert doc["log"]["syslog"]["facility"]["name"] == "authpriv"
    dataset, doc, _ = p.parse(["Nov 26 18:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=10.0.0.1 "
                               "PROTO=TCP SPT=4444 DPT=22"])
    assert dataset == "iptables.log" and doc["destination"]["port"] == 22 and doc["event"]["outcome"] == "failure"
    dataset, doc, ok = p.parse(["<200>garbage without a header"])
    assert not ok and "invalid syslog priority" in doc["error"]["message"]
    assert doc["message"] == "garbage without a header"


def test_rfc5424() -> None:
    p = get_parser("syslog")
    _ds, doc, ok = p.parse(['<165>1 2026-11-26T10:00:00.5+08:00 host app 77 ID1 [x@1 a="b"] \ufeffhello'])
    assert ok and doc["@timestamp"] == "2026-11-26T02:00:00.500Z" and doc["message"] == "hello"
    assert doc["process"] == {"name": "app", "pid": 77} and doc["log"]["syslog"]["msgid"] == "ID1"


def test_auditd_groups_records_and_decodes_hex() -> None:
    p = get_parser("auditd.log")
    records = [
        'type=SYSCALL msg=audit(1700000000.123:77): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 '
        'auid=1000 uid=0 comm="cat" exe="/usr/bin/cat" key=(null)',
        'type=EXECVE msg=audit(1700000000.123:77): argc=2 a0="cat" a1=2F6574632F736861646F77',
        "type=PROCTITLE msg=audit(1700000000.123:77): proctitle=636174002F6574632F736861646F77",
        "type=USER_LOGIN msg=audit(1700000001.000:78): pid=5 uid=0 msg='acct=\"root\" addr=10.0.0.5 res=failed'",
    ]
    asm = Assembler(p)
    done = []
    for i, rec in enumerate(records):
        done += asm.push(i * 100, i * 100 + 99, rec)
    assert asm.pending_offset == 300  # USER_LOGIN still held: a checkpoint must not skip it
    done += asm.flush()
    assert [d[0] for d in done] == [0, 300]
    _ds, doc, ok = p.parse(done[0][2])
    assert ok and doc["process"]["args"] == ["cat", "/etc/shadow"] and doc["process"]["title"] == "cat /etc/shadow"
    assert doc["auditd"]["log"]["record_type"] == ["SYSCALL", "EXECVE", "PROCTITLE"]
    assert doc["event"]["outcome"] == "success" and doc["@timestamp"] == "2023-11-14T22:13:20.123Z"
    _ds, doc, _ = p.parse(done[1][2])
    assert doc["user"]["name"] == "root" and doc["source"]["ip"] == "10.0.0.5"
    assert doc["event"]["outcome"] == "failure" and doc["event"]["category"] == ["authentication"]
    assert parse_kv("a=1 msg='b=2 c=\"x y\"'") == {"a": "1", "b": "2", "c": "x y"}


def test_access_logs() -> None:
    _ds, doc, ok = get_parser("nginx.access").parse(
        ['203.0.113.9 - bob [26/Nov/2026:10:00:00 +0800] "GET /a/b.php?x=1 HTTP/1.1" 500 12 "-" "curl/8"'])
    assert ok and doc["source"]["ip"] == "203.0.113.9" and doc["user"]["name"] == "bob"
    assert doc["url"] == {"original": "/a/b.php?x=1", "path": "/a/b.php", "query": "x=1", "extension": "php"}
    assert doc["http"]["response"]["status_code"] == 500 and doc["event"]["outcome"] == "failure"
    assert doc["@timestamp"] == "2026-11-26T02:00:00.000Z"
    _ds, doc, ok = get_parser("apache.access").parse(["not an access line"])
    assert not ok and doc["error"]["message"]


def test_split_lines_keeps_everything() -> None:
    lines, used = split_lines(b"ab\ncdefgh\nxy", 100, max_line=4)
    assert [(o, e, b) for o, e, b in lines] == [(100, 103, b"ab"), (103, 107, b"cdef"), (107, 110, b"gh")]
    assert used == 10  # "xy" waits for its newline


def test_framer_octet_counting_newlines_and_partial() -> None:
    f = Framer(max_bytes=1000)
    assert f.feed(b"5 hello6 world!\nplain line\n") == [b"hello", b"world!", b"plain line"]
    assert f.feed(b"20 short") == []
    rest, note = f.close()
    assert rest == b"20 short" and note and "middle of a frame" in note


def test_one_shot_reader_multiline_and_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "syslog"
    path.write_bytes(b"Nov 26 10:00:00 h app[1]: start\n\tcontinued\nNov 26 10:00:01 h app[2]: last")
    events = list(iter_file_events(path, parser="system.syslog"))
    assert [e.doc["message"] for e in events] == ["start\n\tcontinued", "last"]
    assert [e.doc["log"]["offset"] for e in events] == [0, 43]
    again = list(iter_file_events(path, parser="system.syslog"))
    assert [e.id for e in again] == [e.id for e in events]


def test_inputs_file_validation(tmp_path: Path) -> None:
    good = tmp_path / "ok.yaml"
    good.write_text("inputs:\n  - {name: a, type: file, paths: [/tmp/x]}\n  - {name: b, type: syslog}\n")
    assert [e["name"] for e in load_inputs(good)] == ["a", "b"]
    dup = tmp_path / "dup.yaml"
    dup.write_text("inputs:\n  - {name: a, type: file, paths: [x]}\n  - {name: a, type: syslog}\n")
    with pytest.raises(InvalidInput, match="two inputs are named"):
        load_inputs(dup)
    with pytest.raises(InvalidInput):
        resolve("no-such-type")
    assert {"file", "syslog", "journald", "pcap_live"} <= set(known_types())


def test_journald_entries(tmp_path: Path) -> None:
    import orjson

    entries = [
        {"__CURSOR": "s=1;i=1", "__REALTIME_TIMESTAMP": "1700000000123456", "_HOSTNAME": "vm1",
         "SYSLOG_IDENTIFIER": "sshd", "_PID": "700", "SYSLOG_FACILITY": "10", "PRIORITY": "6",
         "MESSAGE": "Accepted publickey for vagrant from 10.0.2.2 port 48274 ssh2: ED25519 SHA256:x"},
        {"__CURSOR": "s=1;i=2", "__REALTIME_TIMESTAMP": "1700000001000000", "_HOSTNAME": "vm1",
         "SYSLOG_IDENTIFIER": "kernel", "MESSAGE": [104, 105]},
    ]
    path = tmp_path / "export.json"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in entries) + b"\n")
    events = list(iter_file_events(path, parser="journald"))
    assert [e.dataset for e in events] == ["system.auth", "journald"]
    auth = events[0].doc
    assert auth["@timestamp"] == "2023-11-14T22:13:20.123Z" and auth["event"]["outcome"] == "success"
    assert auth["user"]["name"] == "vagrant" and auth["source"]["ip"] == "10.0.2.2"
    assert auth["log"]["syslog"]["priority"] == 86
    assert events[1].doc["message"] == "hi"
    # The cursor is the identity, wherever the entry was read from.
    from core.ids import stable_id

    assert events[0].id == stable_id("journald", "s=1;i=1")
