"""Before a one-shot import ships anything: can the chosen parser read this file at all?

A JSON export, a binary or an unrelated text given to ``soc collect file`` by mistake would
otherwise be stored as thousands of garbage events (issue 15.8). The first chunk of each file is
parsed with the import's own parser; if not one event of it parses, the import is refused before
anything is sent, naming the file, the parser and what the file looks like. ``--parser plain``
(store every line as it is) is never refused.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from collectors.counters import Counters
from collectors.parsers import guess_parser
from core.errors import InvalidInput

SAMPLE_EVENTS = 200
HEAD_BYTES = 4096
MAX_HOST = 255


def looks_like(head: bytes) -> str:
    """A short description of what a file that no parser read seems to be."""
    if b"\x00" in head:
        return "binary data"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "JSON"
    if text[:5].lower() == b"<?xml" or text[:1] == b"<" and b">" in text[:200] and not text[:2].isdigit():
        return "XML/HTML"
    if text[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x0a\x0d\x0d\x0a") or text[:7] == b"ElfFile":
        return "a capture or event-log file (use `soc collect pcap` or `soc collect evtx`)"
    return "text in another layout"


def check_parsable(paths: list[Path], *, parser: str, encoding: str, timezone: str) -> None:
    """Raise ``InvalidInput`` for the first file whose sample yields no parsed event."""
    from collectors.inputs.filereader import iter_file_events

    if parser == "plain":
        return
    for path in paths:
        counters = Counters()
        sample = list(itertools.islice(
            iter_file_events(path, parser=parser, encoding=encoding, timezone=timezone, counters=counters,
                             input_name="probe"), SAMPLE_EVENTS))
        if not sample or counters.get("probe", "parsed") > 0:
            continue
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        first = head.split(b"\n", 1)[0][:120].decode(encoding, errors="replace")
        used = guess_parser(str(path)) if parser == "auto" else parser
        raise InvalidInput(
            f"{path}: none of the first {len(sample)} events could be read by the {used} parser; the file "
            f"looks like {looks_like(head)} (first line: {first!r}). Nothing was imported. Give the parser "
            f"that fits (--parser system.auth, nginx.access, …), or --parser plain to store each line as "
            f"it is.")


def check_host(host: str | None) -> str | None:
    """``--host NAME``: one host name, as Elasticsearch keyword and the console's pivots expect."""
    if host is None:
        return None
    name = host.strip()
    if not name or len(name) > MAX_HOST or any(c.isspace() or ord(c) < 32 for c in name):
        raise InvalidInput(f"--host {host!r} is not a host name: give one word of at most {MAX_HOST} characters "
                           f"(e.g. --host web-01).")
    return name
