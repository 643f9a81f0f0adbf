"""`soc rules import --pack default` against a SigmaHQ-shaped checkout: own rules plus the selected
SigmaHQ rules (copied at test time from the shared checkout), the rest left out."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.auditing import Actor, MemoryAuditor
from detections.service import import_pack

PICK = ["rules/linux/builtin/lnx_clear_syslog.yml",             # linux, selected
        "rules/network/zeek/zeek_dce_rpc_mitre_bzar_execution.yml",  # zeek
        "rules/macos/process_creation/proc_creation_macos_applescript.yml"]  # macos: not selected


def test_default_pack(store, prefix, shared_dir: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "sigma"
    for rel in PICK:
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_dir / "sigma" / rel, checkout / rel)
    auditor = MemoryAuditor()
    result = import_pack(store, prefix, "default", sigmahq_dir=checkout, actor=Actor("cli:t", "cli"), auditor=auditor)
    sources = {e["source"] for e in result["entries"]}
    assert any("lnx_clear_syslog" in s for s in sources) and not any("macos" in s for s in sources)
    own = [e for e in result["entries"] if "detections/rules" in e["source"]]
    assert own and all(e["status"] == "loaded" for e in own)
    assert result["pack"]["name"] == "default" and not result["pack"]["sigmahq_missing"]
    assert auditor.records[-1]["target"].startswith("pack:default sigmahq:")
    without = import_pack(store, prefix, "default", sigmahq_dir=None, actor=Actor("cli:t", "cli"), auditor=auditor)
    assert without["pack"]["sigmahq_missing"] and without["summary"]["loaded"] == len(own)
