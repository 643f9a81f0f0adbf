"""Linux audit records (``/var/log/audit/audit.log``) to ECS.

Records sharing one ``msg=audit(<epoch>:<serial>)`` are grouped into one event (SYSCALL with its
EXECVE, CWD, PATH, PROCTITLE, SOCKADDR...). Hex-encoded values (``proctitle``, ``exe``, ``cmd``,
``EXECVE`` arguments, ``data``...) are decoded. Layout follows Filebeat's auditd module:
``auditd.log.*`` holds the records' key/values (first record first; ``record_type`` lists every
record type of the event, so a rule on ``EXECVE`` or on ``SYSCALL`` both match), ``process.*``,
``user.*``, ``source.*``, ``event.category``/``type`` by the primary record's type.
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.common import Clock, add_related, is_ip

_RECORD = re.compile(r"type=(\S+) msg=audit\((\d+(?:\.\d+)?):(\d+)\):\s?(.*)$", re.S)
_NODE_PREFIX = re.compile(r"node=(\S+) ")
_KV = re.compile(r"([\w\-]+)=(\"[^\"]*\"|'[^']*'|\S*)")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")

HEX_KEYS = frozenset({
    "exe", "cmd", "data", "path", "comm", "file", "name", "watch", "cwd", "acct", "dir", "vm", "old-chardev",
    "new-chardev", "old-disk", "new-disk", "old-fs", "new-fs", "old-net", "new-net", "device", "cgroup",
    "apparmor", "operation", "denied_mask", "info", "profile", "requested_mask", "old-rng", "new-rng", "ocomm",
    "grp", "new_group", "invalid_context", "sw", "root_dir", "proctitle",
})

CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "USER_AUTH": (["authentication"], ["info"]), "USER_ACCT": (["authentication"], ["info"]),
    "USER_LOGIN": (["authentication"], ["start"]), "USER_LOGOUT": (["authentication"], ["end"]),
    "USER_ERR": (["authentication"], ["info"]), "CRED_ACQ": (["authentication"], ["info"]),
    "CRED_DISP": (["authentication"], ["info"]), "CRED_REFR": (["authentication"], ["info"]),
    "LOGIN": (["authentication"], ["start"]), "USER_START": (["session"], ["start"]),
    "USER_END": (["session"], ["end"]), "USER_CMD": (["process"], ["start"]), "EXECVE": (["process"], ["start"]),
    "SYSCALL": (["process"], ["info"]), "ANOM_ABEND": (["process"], ["end"]),
    "ADD_USER": (["iam"], ["user", "creation"]), "DEL_USER": (["iam"], ["user", "deletion"]),
    "USER_MGMT": (["iam"], ["user", "change"]), "USER_CHAUTHTOK": (["iam"], ["user", "change"]),
    "ADD_GROUP": (["iam"], ["group", "creation"]), "DEL_GROUP": (["iam"], ["group", "deletion"]),
    "GRP_MGMT": (["iam"], ["group", "change"]), "GRP_CHAUTHTOK": (["iam"], ["group", "change"]),
    "ROLE_ASSIGN": (["iam"], ["user", "change"]), "ROLE_REMOVE": (["iam"], ["user", "change"]),
    "KERN_MODULE": (["driver"], ["start"]), "SOFTWARE_UPDATE": (["package"], ["info"]),
    "SYSTEM_BOOT": (["host"], ["info"]), "SYSTEM_SHUTDOWN": (["host"], ["info"]),
    "SYSTEM_RUNLEVEL": (["host"], ["change"]), "VIRT_MACHINE_ID": (["host"], ["creation"]),
    "VIRT_RESOURCE": (["host"], ["info"]), "VIRT_CONTROL": (["host"], ["info"]),
    "CRYPTO_SESSION": (["process"], ["info"]), "CRYPTO_KEY_USER": (["process"], ["info"]),
    "SERVICE_START": (["process"], ["start"]), "SERVICE_STOP": (["process"], ["end"]),
    "DAEMON_START": (["process"], ["start"]), "DAEMON_END": (["process"], ["end"]),
    "CONFIG_CHANGE": (["configuration"], ["change"]), "AVC": (["intrusion_detection"], ["denied"]),
    "SELINUX_ERR": (["intrusion_detection"], ["denied"]), "ANOM_PROMISCUOUS": (["network"], ["info"]),
    "NETFILTER_CFG": (["configuration"], ["change"]), "MAC_IPSEC_EVENT": (["network"], ["info"]),
}
_VIRT_OP = {"start": "start", "stop": "end", "create": "creation", "delete": "deletion"}
# Records that describe the event itself; the others (PATH, CWD, PROCTITLE...) add detail.
_SECONDARY = frozenset({"EXECVE", "CWD", "PATH", "PROCTITLE", "SOCKADDR", "EOE", "BPRM_FCAPS", "OBJ_PID",
                        "NETFILTER_PKT", "MMAP", "FD_PAIR", "IPC", "SECCOMP"})


def record_key(text: str) -> str | None:
    """``epoch:serial`` of a record (records of one event share it); None if not a record."""
    start = text.find("msg=audit(")
    if start < 0:
        return None
    end = text.find(")", start)
    return text[start + 10:end] if end > 0 else None


def _decode_hex(value: str, sep: str = " ") -> str:
    raw = bytes.fromhex(value)
    return raw.replace(b"\x00", sep.encode()).decode("utf-8", "replace").rstrip(sep)


def parse_kv(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in _KV.findall(body):
        if key == "msg" and value[:1] in ("'", '"'):
            for k2, v2 in _KV.findall(value[1:-1]):
                out[k2] = _clean(k2, v2)
            continue
        if key not in out:
            out[key] = _clean(key, value)
    return out


def _clean(key: str, value: str) -> str:
    if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
        return value[1:-1]
    if (key in HEX_KEYS or (key[:1] == "a" and key[1:].isdigit())) and _HEX.match(value) and value not in ("00",):
        try:
            return _decode_hex(value)
        except ValueError:
            return value
    return value


def parse_group(lines: list[str], doc: dict[str, Any], clock: Clock) -> bool:
    """Fill ``doc`` from the records of one event; False if no line is an audit record."""
    records: list[tuple[str, dict[str, str]]] = []
    epoch = serial = None
    for line in lines:
        text = line
        node = _NODE_PREFIX.match(text)
        if node:
            text = text[node.end():]
        m = _RECORD.match(text)
        if not m:
            continue
        rtype, ep, ser, body = m.groups()
        epoch, serial = epoch or ep, serial or ser
        records.append((rtype, parse_kv(body)))
        if node:
            doc.setdefault("host", {})["name"] = node.group(1)
    if not records or epoch is None or serial is None:
        return False
    doc["@timestamp"] = clock.epoch(float(epoch))
    primary = next((r for r in records if r[0] not in _SECONDARY), records[0])
    ordered = [primary] + [r for r in records if r is not primary]
    merged: dict[str, Any] = {}
    for _t, kv in ordered:
        for k, v in kv.items():
            if v not in ("?", "(null)", "") and k not in merged:
                merged[k] = v
    types = list(dict.fromkeys(t for t, _kv in ordered))
    ptype = primary[0]
    args = _execve_args(records)
    proctitle = next((kv.get("proctitle") for t, kv in records if t == "PROCTITLE"), None)
    cwd = next((kv.get("cwd") for t, kv in records if t == "CWD"), None)
    merged["record_type"] = types
    merged["sequence"] = int(serial)
    doc["auditd"] = {"log": merged}
    ev = doc["event"]
    ev["action"] = ptype.lower()
    cat = CATEGORIES.get(ptype)
    if cat:
        ev["category"], ev["type"] = list(cat[0]), list(cat[1])
        if ptype == "SYSCALL" and args:
            ev["type"] = ["start"]
        if ptype == "VIRT_CONTROL" and merged.get("op") in _VIRT_OP:
            ev["type"] = [_VIRT_OP[merged["op"]]]
    _outcome(ev, merged)
    _process(doc, merged, args, proctitle, cwd)
    _user(doc, merged)
    for key in ("addr", "src", "saddr_ip"):
        value = merged.get(key)
        if value and is_ip(value):
            doc["source"] = {"ip": value, "address": value}
            add_related(doc, "ip", value)
            break
    if merged.get("dst") and is_ip(merged["dst"]):
        doc["destination"] = {"ip": merged["dst"], "address": merged["dst"]}
    host = merged.get("hostname")
    if host and host != "?":
        add_related(doc, "hosts", host)
    msg = " ".join(f"{t}" for t in types)
    doc["message"] = f"audit({epoch}:{serial}) {msg}"
    return True


def _execve_args(records: list[tuple[str, dict[str, str]]]) -> list[str]:
    for rtype, kv in records:
        if rtype == "EXECVE":
            count = int(kv["argc"]) if kv.get("argc", "").isdigit() else 0
            args = []
            for i in range(count or 256):
                value = kv.get(f"a{i}")
                if value is None:
                    break
                args.append(value)
            return args
    return []


def _outcome(ev: dict[str, Any], kv: dict[str, Any]) -> None:
    res = kv.get("res") or kv.get("success") or kv.get("result")
    if res is None:
        return
    value = str(res).lower()
    if value in ("success", "yes", "1"):
        ev["outcome"] = "success"
    elif value in ("failed", "fail", "failure", "no", "0"):
        ev["outcome"] = "failure"


def _process(doc: dict[str, Any], kv: dict[str, Any], args: list[str], title: str | None, cwd: str | None) -> None:
    proc: dict[str, Any] = {}
    if kv.get("comm"):
        proc["name"] = kv["comm"]
    if kv.get("exe"):
        proc["executable"] = kv["exe"]
    for key, target in (("pid", "pid"), ("ppid", "ppid")):
        value = kv.get(key)
        if value and value.isdigit():
            if target == "ppid":
                proc["parent"] = {"pid": int(value)}
            else:
                proc["pid"] = int(value)
    if args:
        proc["args"] = args
        proc["args_count"] = len(args)
        proc["command_line"] = " ".join(args)
    elif kv.get("cmd"):
        proc["args"] = kv["cmd"].split()
        proc["args_count"] = len(proc["args"])
        proc["command_line"] = kv["cmd"]
    if title:
        proc["title"] = title
    if cwd:
        proc["working_directory"] = cwd
    if kv.get("exit") and kv["exit"].lstrip("-").isdigit():
        proc["exit_code"] = int(kv["exit"])
    if proc:
        doc["process"] = proc


def _user(doc: dict[str, Any], kv: dict[str, Any]) -> None:
    user: dict[str, Any] = {}
    name = kv.get("acct") or kv.get("user")
    if name:
        user["name"] = name
    mapping = (("uid", ("id",)), ("gid", ("group", "id")), ("auid", ("audit", "id")), ("euid", ("effective", "id")),
               ("egid", ("effective", "group", "id")), ("suid", ("saved", "id")), ("fsuid", ("filesystem", "id")))
    for key, path in mapping:
        value = kv.get(key)
        if value is None:
            continue
        node = user
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    if kv.get("terminal"):
        user["terminal"] = kv["terminal"]
    if user:
        doc["user"] = user
        add_related(doc, "user", user.get("name"))
