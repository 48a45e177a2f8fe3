"""Set the one version of the three distributions: ``python scripts/set_version.py 0.5.0``.

The proxy, the emulator and their wire contract are released together: each pyproject's
version, each package's ``__version__`` and the exact pins on ``agentcore-wire`` change as
one (tests/test_packaging.py holds them together), then the lock is rewritten.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECTS = [
    ROOT / "pyproject.toml",
    ROOT / "emulator/pyproject.toml",
    ROOT / "wire/pyproject.toml",
]
INITS = [
    ROOT / "src/mcp_agentcore_proxy/__init__.py",
    ROOT / "emulator/agentcore_emulator/__init__.py",
    ROOT / "wire/agentcore_wire/__init__.py",
]


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not re.fullmatch(r"\d+\.\d+\.\d+", argv[0]):
        print("usage: set_version.py MAJOR.MINOR.PATCH", file=sys.stderr)
        return 2
    version = argv[0]
    for path in PYPROJECTS:
        text = re.sub(r'(?m)^version = "[^"]+"', f'version = "{version}"', path.read_text())
        text = re.sub(r"(agentcore-wire(?:\[\w+\])?)==[\d.]+", rf"\g<1>=={version}", text)
        path.write_text(text)
    for path in INITS:
        path.write_text(
            re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', path.read_text())
        )
    uv = ROOT / ".tools/bin/uv"
    subprocess.run([str(uv) if uv.exists() else "uv", "lock"], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
