"""Every console module parses as an ES module (Node's parser), so a syntax slip in one page fails
here instead of as a blank page in the browser."""

from __future__ import annotations

import shutil
import subprocess

from api.console import STATIC_DIR


def test_every_console_module_parses() -> None:
    node = shutil.which("node")
    assert node, "node is needed for this check (the machine's Node.js)"
    sources = sorted(p for p in STATIC_DIR.rglob("*.js") if "vendor" not in p.parts)
    assert len(sources) > 15
    bad = []
    for path in sources:
        proc = subprocess.run([node, "--check", "--input-type=module"], input=path.read_bytes(), capture_output=True,
                              timeout=60)
        if proc.returncode != 0:
            bad.append(f"{path.relative_to(STATIC_DIR)}: {proc.stderr.decode(errors='replace').strip()[:300]}")
    assert not bad, "\n".join(bad)
