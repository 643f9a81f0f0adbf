from __future__ import annotations

from pathlib import Path

import pytest

from core import yamlio
from core.errors import InvalidInput


def test_duplicate_keys_are_rejected_with_location() -> None:
    with pytest.raises(InvalidInput) as err:
        yamlio.loads("a: 1\nb:\n  c: 2\n  c: 3\n", source="plan.yml")
    assert "duplicate key 'c'" in err.value.message
    assert "plan.yml" in err.value.message
    assert "line 4" in err.value.message


def test_python_tags_are_refused() -> None:
    with pytest.raises(InvalidInput):
        yamlio.loads("x: !!python/object/apply:os.system ['echo hi']")


def test_alias_bomb_is_refused() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for i in range(1, 40):
        name = f"l{i}"
        lines.append(f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
        prev = name
    with pytest.raises(InvalidInput) as err:
        yamlio.loads("\n".join(lines))
    assert "aliases" in err.value.message


def test_a_few_aliases_are_fine() -> None:
    data = yamlio.loads("base: &b {x: 1}\nother: *b\n")
    assert data["other"] == {"x": 1}


def test_oversized_and_unreadable_files(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_bytes(b"a: " + b"x" * (yamlio.MAX_YAML_BYTES + 1))
    with pytest.raises(InvalidInput, match="larger than"):
        yamlio.load_file(big)
    with pytest.raises(InvalidInput, match="cannot read"):
        yamlio.load_file(tmp_path / "missing.yml")
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        yamlio.load_file(binary)


def test_multi_document_stream() -> None:
    assert yamlio.loads("a: 1\n---\nb: 2\n", multi=True) == [{"a": 1}, {"b": 2}]
