"""What the file input remembers per file (``Tracked``) and its checkpoint file
(``<state_dir>/files.json``): identity and the offset up to which events are durably spooled,
never past the first line of an event still being assembled."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from collectors.inputs.filereader import FileReader


@dataclass
class Tracked:
    dev: int
    ino: int
    path: str
    fp: str | None
    id_base: str | None
    offset: int
    reader: FileReader | None = None
    fh: BinaryIO | None = None
    last_growth: float = field(default_factory=time.monotonic)
    in_glob: bool = True

    def state(self) -> dict[str, Any]:
        return {"dev": self.dev, "ino": self.ino, "path": self.path, "fp": self.fp, "id_base": self.id_base,
                "offset": self.checkpoint()}

    def checkpoint(self) -> int:
        held = self.reader.assembler.pending_offset if self.reader else None
        return min(self.offset, held) if held is not None else self.offset


def load(path: Path) -> dict[tuple[int, int], Tracked] | None:
    """The files of the checkpoint file, by (device, inode); None when there is none yet."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    files: dict[tuple[int, int], Tracked] = {}
    for row in data.get("files", []):
        try:
            t = Tracked(int(row["dev"]), int(row["ino"]), str(row["path"]), row.get("fp"), row.get("id_base"),
                        int(row["offset"]), in_glob=False)
        except (KeyError, TypeError, ValueError):
            continue
        files[(t.dev, t.ino)] = t
    return files


def save(path: Path, files: dict[tuple[int, int], Tracked]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"files": [t.state() for t in files.values()]}))
    os.replace(tmp, path)


def exists(t: Tracked) -> bool:
    try:
        st = os.stat(t.path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (t.dev, t.ino)
