"""Check that the built wheel and sdist carry what an installed copy needs (run by .ci/run).

Usage: ``python check_dists.py DIST_DIR``. Each archive must hold the demo model, its configs and
metrics (package data found with importlib.resources) and the LICENSE; the wheel's metadata must
declare the SPDX licence and the version ``symnet_core.__version__`` says. Exits 1 naming what is
missing.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from pathlib import Path

ASSETS = ("demo_model.pth", "demo.yaml", "demo_base.yaml", "metrics.json", "eval_1000.json", "README.md")


def main() -> int:
    dist = Path(sys.argv[1])
    wheels, sdists = sorted(dist.glob("symnet_annotate-*.whl")), sorted(dist.glob("symnet_annotate-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"check dists: expected one wheel and one sdist in {dist}, found {wheels + sdists}", file=sys.stderr)
        return 1
    problems: list[str] = []
    with zipfile.ZipFile(wheels[0]) as whl:
        names = set(whl.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = whl.read(meta_name).decode("utf-8")
        init = whl.read("symnet_core/__init__.py").decode("utf-8")
    problems += [f"wheel lacks symnet_core/assets/demo/{a}" for a in ASSETS
                 if f"symnet_core/assets/demo/{a}" not in names]
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append("wheel lacks LICENSE")
    if "License-Expression: MIT" not in meta:
        problems.append("wheel METADATA has no 'License-Expression: MIT'")
    declared = re.search(r"^__version__ = \"([^\"]+)\"", init, re.M)
    version = re.search(r"^Version: (.+)$", meta, re.M)
    if not declared or not version or declared.group(1) != version.group(1).strip():
        problems.append(f"wheel version {version and version.group(1)} != symnet_core.__version__ "
                        f"{declared and declared.group(1)}")
    with tarfile.open(sdists[0]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    problems += [f"sdist lacks symnet_core/assets/demo/{a}" for a in ASSETS
                 if f"symnet_core/assets/demo/{a}" not in members]
    problems += [f"sdist lacks {f}" for f in ("LICENSE", "README.md", "pyproject.toml", "constraints.txt")
                 if f not in members]
    for p in problems:
        print(f"check dists: {p}", file=sys.stderr)
    if not problems:
        print(f"check dists: OK ({wheels[0].name}, {sdists[0].name})")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
