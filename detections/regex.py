"""PCRE-style Sigma regular expressions → Lucene RegExp (the only regex the node runs).

Sigma searches unanchored; Lucene matches the whole value, so the pattern is wrapped in ``.*``
unless anchored. Constructs Lucene can't express are rejected with a lint reason."""

from __future__ import annotations

import re

from detections.models import UnsupportedRule

_UNSUPPORTED_REGEX = (
    (re.compile(r"\(\?[=!<]"), "lookaround assertions"),
    (re.compile(r"(?<!\\)\\[bBAZzG]"), "anchors/word boundaries (\\b, \\A, \\Z)"),
    (re.compile(r"(?<!\\)\\[1-9]"), "back-references"),
    (re.compile(r"\(\?P?<"), "named groups"),
)
_LUCENE_RESERVED = set('@&~<>#"')
MAX_BOUNDED_REPEAT = 16
MAX_MIN_REPEAT = 100


def translate_regex(pattern: str) -> tuple[str, bool]:
    """PCRE-style Sigma regex (unanchored search) → Lucene RegExp (whole-value match).

    Returns ``(lucene_pattern, case_insensitive)``. Raises ``UnsupportedRule`` for constructs Lucene
    cannot express (lookarounds, back-references, word boundaries).
    """
    ci = False
    flags = re.match(r"^\(\?([imsx]+)\)", pattern)
    if flags:
        ci = "i" in flags.group(1)
        if "x" in flags.group(1):
            raise UnsupportedRule("verbose (?x) regular expressions are not supported")
        pattern = pattern[flags.end():]
    for rx, what in _UNSUPPORTED_REGEX:
        if rx.search(pattern):
            raise UnsupportedRule(f"regular expression uses {what}, which Elasticsearch regexp lacks",
                                  "unsupported_regex")
    out: list[str] = []
    i = 0
    in_class = False
    depth = 0
    anchored_start = False
    anchored_end = False
    n = len(pattern)
    top_alternation = False
    loosened: list[str] = []
    optional: list[bool] = []
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "x" and i + 3 < n and re.match(r"[0-9a-fA-F]{2}", pattern[i + 2:i + 4]):
                ch = chr(int(pattern[i + 2:i + 4], 16))
                out.append(_escape_lucene_char(ch))
                i += 4
                continue
            if nxt in "dDwWsS":
                if in_class:
                    out.append({"d": "0-9", "w": "a-zA-Z0-9_", "s": " \t\r\n"}.get(nxt, "\\" + nxt))
                else:
                    out.append("\\" + nxt)
            elif nxt == "n":
                out.append("\n")
            elif nxt == "t":
                out.append("\t")
            elif nxt == "r":
                out.append("\r")
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "-" and (pattern[i + 1:i + 2] == "]" or out[-1] in ("[", "^")):
                # A literal dash at a class edge; Lucene would read it as a range.
                out.append("\\-")
                i += 1
                continue
            out.append("\\" + c if c in _LUCENE_RESERVED or c == "[" else c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(":
            depth += 1
            optional.append(False)
            if pattern.startswith("(?:", i):
                out.append("(")
                i += 3
                continue
            if pattern.startswith("(?", i):
                raise UnsupportedRule("regular expression uses inline group flags", "unsupported_regex")
            out.append("(")
            i += 1
            continue
        if c == ")":
            depth -= 1
            out.append(")")
            if optional and optional.pop():
                out.append("?")
            i += 1
            continue
        if c == "|" and depth > 0 and (pattern[i + 1:i + 2] == ")" or out[-1] == "("):
            # An empty alternative, "(a|)": Lucene has none, so the group becomes optional.
            optional[-1] = True
            i += 1
            continue
        if c == "|" and depth == 0:
            top_alternation = True
        if c == "^":
            if i == 0:
                anchored_start = True
                i += 1
                continue
            raise UnsupportedRule("regular expression uses ^ inside the pattern", "unsupported_regex")
        if c == "$":
            if i == n - 1:
                anchored_end = True
                i += 1
                continue
            raise UnsupportedRule("regular expression uses $ inside the pattern", "unsupported_regex")
        if c == "{":
            m = re.match(r"\{(\d+),(\d*)\}", pattern[i:])
            if m and int(m.group(1)) > MAX_MIN_REPEAT:
                raise UnsupportedRule(f"regular expression repeats at least {m.group(1)} times; Lucene's "
                                      "automaton for it is too large", "unsupported_regex")
            if m and (not m.group(2) or int(m.group(2)) > MAX_BOUNDED_REPEAT):
                # A large bounded repeat explodes the automaton on every shard; {n,} matches a
                # superset, which is what an unanchored search around it accepts anyway.
                out.append("{" + m.group(1) + ",}")
                i += m.end()
                loosened.append(m.group(0))
                continue
        if c in "*+?}" and i + 1 < n and pattern[i + 1] in "?+":
            # lazy/possessive quantifiers: same language for a whole-value match
            out.append(c)
            i += 2
            continue
        out.append(_escape_lucene_char(c) if c in _LUCENE_RESERVED else c)
        i += 1
    body = "".join(out)
    if top_alternation:
        if anchored_start or anchored_end:
            raise UnsupportedRule("regular expression mixes anchors and top-level alternation",
                                  "unsupported_regex")
        body = f"({body})"
    return ("" if anchored_start else ".*") + body + ("" if anchored_end else ".*"), ci


def _escape_lucene_char(ch: str) -> str:
    if ch in _LUCENE_RESERVED or ch in ".?+*|{}[]()\\":
        return "\\" + ch
    return ch
