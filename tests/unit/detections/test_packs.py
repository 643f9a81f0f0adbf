"""The default pack's header read selects exactly what a full YAML parse selects, over every rule
of the shared SigmaHQ checkout; hostile files cannot break the pre-selection."""

from __future__ import annotations

from pathlib import Path

import yaml

from detections import packs

LEVELS = packs.LEVELS


def _by_yaml(path: Path, pack: packs.Pack) -> bool:
    doc = yaml.load(path.read_text("utf-8"), Loader=yaml.CSafeLoader)
    if not isinstance(doc, dict) or "correlation" in doc:
        return False
    ls = doc.get("logsource") or {}
    level = doc.get("level")
    return (ls.get("product") in pack.products and doc.get("status") in pack.statuses and level in LEVELS
            and LEVELS.index(level) >= LEVELS.index(pack.min_level))


def test_header_read_agrees_with_yaml_on_all_sigmahq_rules(shared_dir: Path) -> None:
    pack = packs.load("default")
    root = shared_dir / "sigma"
    selected = set(packs.sigmahq_files(pack, root))
    expected = {p for p in sorted((root / "rules").rglob("*.yml")) if _by_yaml(p, pack)}
    assert selected == expected
    assert len(selected) > 2000
    products = {p.relative_to(root / "rules").parts[0] for p in selected}
    assert products == {"linux", "network", "windows"}


def test_hostile_and_unknown_inputs(tmp_path: Path) -> None:
    pack = packs.load("default")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bomb.yml").write_text("a: &a [" + ",".join(["*a"] * 50) + "]\nstatus: test\nlevel: high\n")
    (rules / "bad.yml").write_bytes(b"\xff\xfe not utf-8")
    (rules / "ok.yml").write_text("title: x\nstatus: test\nlevel: high\nlogsource:\n    category: process_creation\n"
                                  "    product: windows\ndetection: {}\n")
    got = sorted(p.name for p in packs.sigmahq_files(pack, tmp_path))
    assert got == ["bad.yml", "ok.yml"]  # the unreadable one goes to the loader, which says why
    try:
        list(packs.sigmahq_files(pack, tmp_path / "nope"))
        raise AssertionError("a folder without rules/ was accepted")
    except Exception as exc:  # noqa: BLE001
        assert "not a SigmaHQ checkout" in str(exc)
    try:
        packs.load("nosuch")
        raise AssertionError("unknown pack accepted")
    except Exception as exc:  # noqa: BLE001
        assert "default" in str(exc)
