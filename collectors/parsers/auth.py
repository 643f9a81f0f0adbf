"""Authentication messages (auth.log / secure): sshd, sudo, su, PAM, user and group changes, cron.

Categorisation follows Filebeat's ``system.auth`` fileset (``system.auth.ssh.*``,
``system.auth.sudo.*``, ``event.category`` authentication/session/iam) so Sigma rules written
for Filebeat data match. Additions where Filebeat says nothing (su outcomes, PAM authentication
failures with ``rhost``/``user``) are marked in comments.
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.common import add_related, is_ip

_SSH_LOGIN = re.compile(
    r"(\w+) (\S+) for (?:invalid user )?(.*?) from (\S+) port (\d+)(?: ssh2)?(?:: (.*))?$", re.S)
_SSH_USER = re.compile(r"(\w+) user (.*?) from (\S+)(?: port (\d+))?")
_SSH_NO_ID = re.compile(r"Did not receive identification string from (\S+)")
_SSH_DISCONNECT = re.compile(
    r"(?:Received disconnect|Disconnected|Connection closed|Connection reset) (?:from|by) "
    r"(?:(?:invalid |authenticating )?user (\S+) )?(\S+?)(?: port (\d+))?(?:[: ]|$)")
_SUDO = re.compile(
    r"\s*(.*?) :(?: (.*?) ;)? TTY=(.*?) ; PWD=(.*?) ; USER=(.*?) ;(?: GROUP=.*? ;)?(?: ENV=.*? ;)? COMMAND=(.*)$",
    re.S)
_NEW_GROUP = re.compile(r"new group: name=([^,]*), GID=(\d+)")
_NEW_USER = re.compile(r"new user: name=([^,]*), UID=(\d+), GID=(\d+), home=(.*?), shell=(.*?)$", re.S)
_PAM_FOR_BY = re.compile(r"for user ['\"]?(.*?)['\"]? by ['\"]?(.*?)['\"]?(?:\(uid=(\d+)\))?$")
_PAM_FOR = re.compile(r"for user ['\"]?(.*?)['\"]?$")
_PAM_BY = re.compile(r"by user ['\"]?(.*?)['\"]?$")
_PAM_QUOTED = re.compile(r"(?<! ) user ['\"](.*?)['\"]")
_PAM_AUTH_FAIL = re.compile(r"authentication failure;.*?rhost=(\S*)(?:\s+user=(\S+))?")
_SU = re.compile(r"(Successful|FAILED) su for (\S+) by (\S+)")
_CRON_CMD = re.compile(r"\((\S+)\) CMD \((.*)\)$", re.S)

IAM_PROGRAMS = {"groupadd": ("group", "creation"), "groupdel": ("group", "deletion"),
                "groupmod": ("group", "change"), "useradd": ("user", "creation"),
                "userdel": ("user", "deletion"), "usermod": ("user", "change")}


def enrich_auth(doc: dict[str, Any], message: str) -> bool:
    """Fill ECS fields from an auth message; False if no specific pattern matched."""
    matched = _specific(doc, message)
    if not matched:
        _pam_users(doc, message)
    _categorise(doc, message)
    user = doc.get("user") or {}
    add_related(doc, "user", user.get("name"))
    add_related(doc, "user", (user.get("effective") or {}).get("name"))
    src = (doc.get("source") or {}).get("ip")
    add_related(doc, "ip", src)
    return matched


def _set_source(doc: dict[str, Any], address: str, port: str | None = None) -> None:
    src: dict[str, Any] = {"address": address}
    if is_ip(address):
        src["ip"] = address
    else:
        src["domain"] = address
    if port:
        src["port"] = int(port)
    doc["source"] = src


def _specific(doc: dict[str, Any], msg: str) -> bool:
    m = _SSH_LOGIN.match(msg)
    if m:
        event, method, user, addr, port, sig = m.groups()
        ssh: dict[str, Any] = {"event": event, "method": method}
        if sig:
            ssh["signature"] = sig
        doc.setdefault("system", {}).setdefault("auth", {})["ssh"] = ssh
        doc["user"] = {"name": user.strip()}
        _set_source(doc, addr, port)
        return True
    m = _SSH_USER.match(msg)
    if m:
        event, user, addr, port = m.groups()
        doc.setdefault("system", {}).setdefault("auth", {})["ssh"] = {"event": event}
        doc["user"] = {"name": user}
        _set_source(doc, addr, port)
        return True
    m = _SSH_NO_ID.match(msg)
    if m:
        ip = m.group(1)
        doc.setdefault("system", {}).setdefault("auth", {})["ssh"] = {"dropped_ip": ip}
        if is_ip(ip):
            doc["source"] = {"ip": ip}
        return True
    m = _SUDO.match(msg)
    if m:
        user, err, tty, pwd, runas, command = m.groups()
        sudo = {"tty": tty, "pwd": pwd, "user": runas, "command": command}
        if err:
            sudo["error"] = err
        doc.setdefault("system", {}).setdefault("auth", {})["sudo"] = sudo
        doc["user"] = {"name": user.strip(), "effective": {"name": runas}}
        return True
    m = _NEW_GROUP.match(msg)
    if m:
        doc["group"] = {"name": m.group(1), "id": m.group(2)}
        return True
    m = _NEW_USER.match(msg)
    if m:
        name, uid, gid, home, shell = m.groups()
        doc["user"] = {"name": name, "id": uid}
        doc["group"] = {"id": gid}
        doc.setdefault("system", {}).setdefault("auth", {})["useradd"] = {"home": home, "shell": shell}
        return True
    return False


def _pam_users(doc: dict[str, Any], msg: str) -> None:
    for_user = by_user = by_uid = quoted = None
    m = _PAM_FOR_BY.search(msg)
    if m:
        for_user, by_user, by_uid = m.groups()
    else:
        m = _PAM_FOR.search(msg)
        if m:
            for_user = m.group(1)
        else:
            m = _PAM_BY.search(msg)
            if m:
                by_user = m.group(1)
            else:
                m = _PAM_QUOTED.search(msg)
                if m:
                    quoted = m.group(1)
    user: dict[str, Any] = {}
    if by_user:
        user["name"] = by_user
    if by_uid:
        user["id"] = by_uid
    if for_user:
        if "name" in user:
            user["effective"] = {"name": for_user}
        else:
            user["name"] = for_user
    if quoted and "name" not in user:
        user["name"] = quoted
    # Addition to Filebeat: PAM authentication failures name the remote host and the user.
    fail = _PAM_AUTH_FAIL.search(msg)
    if fail:
        rhost, name = fail.groups()
        if name and "name" not in user:
            user["name"] = name
        if rhost and is_ip(rhost):
            doc["source"] = {"ip": rhost, "address": rhost}
        ev = doc["event"]
        ev["category"] = ["authentication"]
        ev["type"] = ["info"]
        ev["outcome"] = "failure"
    su = _SU.search(msg)
    if su:
        # Addition to Filebeat: su's own success/failure lines.
        outcome, target, by = su.groups()
        user = {"name": by, "effective": {"name": target}}
        ev = doc["event"]
        ev["category"] = ["authentication"]
        ev["type"] = ["info"]
        ev["outcome"] = "success" if outcome == "Successful" else "failure"
        ev["action"] = "su"
    cron = _CRON_CMD.search(msg)
    if cron and "name" not in user:
        user["name"] = cron.group(1)
        doc["process"] = {**(doc.get("process") or {}), "command_line": cron.group(2)}
    if user:
        doc["user"] = {**(doc.get("user") or {}), **user}


def _categorise(doc: dict[str, Any], msg: str) -> None:
    ev = doc["event"]
    ssh = ((doc.get("system") or {}).get("auth") or {}).get("ssh") or {}
    kind = ssh.get("event")
    if kind == "Accepted":
        ev.update(type=["info"], category=["authentication", "session"], action="ssh_login", outcome="success")
    elif kind in ("Invalid", "Failed"):
        ev.update(type=["info"], category=["authentication"], action="ssh_login", outcome="failure")
    process = (doc.get("process") or {}).get("name")
    iam = IAM_PROGRAMS.get(process or "")
    if iam:
        ev.setdefault("category", [])
        if "iam" not in ev["category"]:
            ev["category"].append("iam")
        ev["outcome"] = "failure" if "fail" in msg else "success"
        ev["type"] = [iam[0], iam[1]]
