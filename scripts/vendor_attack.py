#!/usr/bin/env python3
"""Regenerate detections/attack/enterprise-attack.json from a pinned PyPI package that bundles
MITRE ATT&CK (pySigma 0.11.23 ships ATT&CK v17.0 as Python literals in sigma/data/mitre_attack.py).

    python3 scripts/vendor_attack.py            # downloads the wheel with pip, writes the JSON

The literals are read with ``ast.literal_eval`` (the module is never imported or executed).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "pysigma==0.11.23"
OUT = Path(__file__).resolve().parents[1] / "detections" / "attack" / "enterprise-attack.json"
# ATT&CK has no official Chinese edition; the tactic names below are the terms in common use in
# Chinese security products. Technique names stay English.
TACTICS_ZH = {
    "reconnaissance": "侦察", "resource-development": "资源开发", "initial-access": "初始访问",
    "execution": "执行", "persistence": "持久化", "privilege-escalation": "权限提升",
    "defense-evasion": "防御规避", "credential-access": "凭据访问", "discovery": "发现",
    "lateral-movement": "横向移动", "collection": "收集", "command-and-control": "命令与控制",
    "exfiltration": "数据渗出", "impact": "影响",
}
ORDER = ["reconnaissance", "resource-development", "initial-access", "execution", "persistence",
         "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
         "collection", "command-and-control", "exfiltration", "impact"]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        src = zipfile.ZipFile(wheel).read("sigma/data/mitre_attack.py").decode("utf-8")
    values = {n.target.id: ast.literal_eval(n.value) for n in ast.parse(src).body
              if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.value is not None}
    by_short = {short: tid for tid, short in values["mitre_attack_tactics"].items()}
    tactics = [{"id": by_short[s], "short": s, "name": s.replace("-", " ").title().replace("And", "and"),
                "name_zh": TACTICS_ZH[s]} for s in ORDER]
    techniques = {tid: {"name": name, "tactics": values["mitre_attack_techniques_tactics_mapping"].get(tid, [])}
                  for tid, name in sorted(values["mitre_attack_techniques"].items())}
    data = {"source": f"{PACKAGE} (sigma/data/mitre_attack.py)", "attack_version": values["mitre_attack_version"],
            "tactics": tactics, "techniques": techniques}
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=0, sort_keys=False) + "\n", "utf-8")
    print(f"wrote {OUT} (ATT&CK {data['attack_version']}: {len(tactics)} tactics, {len(techniques)} techniques)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
