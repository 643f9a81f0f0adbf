"""Rule packs: named selections of rules (see ``default.yml``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import yamlio
from core.errors import InvalidInput, NotFound

PACKS_DIR = Path(__file__).resolve().parent
LEVELS = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Pack:
    name: str
    description: dict[str, str]
    own: bool
    dirs: tuple[str, ...]
    products: tuple[str, ...]
    statuses: tuple[str, ...]
    min_level: str


def names() -> list[str]:
    return sorted(p.stem for p in PACKS_DIR.glob("*.yml"))


def load(name: str) -> Pack:
    path = PACKS_DIR / f"{name}.yml"
    if name not in names():
        raise NotFound(f"No rule pack {name!r}; packs: {', '.join(names())}.")
    data: dict[str, Any] = yamlio.loads(path.read_text("utf-8"))
    sig = data.get("sigmahq") or {}
    return Pack(name=str(data["name"]), description=dict(data.get("description") or {}), own=bool(data.get("own")),
                dirs=tuple(sig.get("dirs") or ()), products=tuple(sig.get("products") or ()),
                statuses=tuple(sig.get("statuses") or ()), min_level=str(sig.get("min_level", "informational")))


_TOP = re.compile(r"^(status|level|correlation):[ \t]*([A-Za-z_-]*)", re.M)
_PRODUCT = re.compile(r"^logsource:[ \t]*\n(?:[ \t]+.*\n)*?[ \t]+product:[ \t]*([A-Za-z0-9_-]+)", re.M)


def _selected(text: str, pack: Pack) -> bool:
    """A header read of SigmaHQ's consistent layout (no YAML parse: thousands of files, and a
    hostile file cannot blow up a pre-selection); the loader parses the selected files properly."""
    top = {k: v for k, v in _TOP.findall(text)}
    if "correlation" in top:
        return False  # SigmaHQ correlations reference rules outside the selection
    product = _PRODUCT.search(text)
    level = top.get("level", "")
    return (product is not None and product.group(1) in pack.products and top.get("status") in pack.statuses
            and level in LEVELS and LEVELS.index(level) >= LEVELS.index(pack.min_level))


def sigmahq_files(pack: Pack, sigmahq_dir: Path) -> Iterator[Path]:
    """The rule files of a SigmaHQ checkout the pack selects."""
    if not pack.dirs:
        return
    if not any((sigmahq_dir / d).is_dir() for d in pack.dirs):
        raise InvalidInput(f"{sigmahq_dir} is not a SigmaHQ checkout (no {', '.join(pack.dirs)} folder in it).",
                           detail=[{"field": "sigmahq", "message": "not a SigmaHQ checkout"}])
    for d in pack.dirs:
        for path in sorted((sigmahq_dir / d).rglob("*.yml")):
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                yield path  # let the loader say why it cannot be read
                continue
            if _selected(text, pack):
                yield path
