"""The three distributions as users get them: versions in step, no direct references, wheels
that install together from a folder, and one editable install of all, in fresh
environments, offline (uv's cache holds what `make test` installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.harness import ROOT

PROJECTS = {
    "mcp-proxy-for-agentcore": ROOT,
    "agentcore-emulator": ROOT / "emulator",
    "agentcore-wire": ROOT / "wire",
}
PACKAGES = {
    "mcp-proxy-for-agentcore": ROOT / "src/mcp_agentcore_proxy/__init__.py",
    "agentcore-emulator": ROOT / "emulator/agentcore_emulator/__init__.py",
    "agentcore-wire": ROOT / "wire/agentcore_wire/__init__.py",
}


def _project(name: str) -> dict:
    return tomllib.loads((PROJECTS[name] / "pyproject.toml").read_text())["project"]


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools/bin/uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed: `make test` bootstraps it into .tools/")
    return found


def _run(*command: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=300, cwd=ROOT, env=env
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_one_version_everywhere_and_the_packages_pinned_to_it() -> None:
    version = _project("agentcore-wire")["version"]
    for name, init in PACKAGES.items():
        assert _project(name)["version"] == version, name
        assert f'__version__ = "{version}"' in init.read_text(), init
    for name in ("mcp-proxy-for-agentcore", "agentcore-emulator"):
        project = _project(name)
        requirements = [
            *project["dependencies"],
            *(r for extra in project.get("optional-dependencies", {}).values() for r in extra),
        ]
        assert not [r for r in requirements if "@" in r], name  # no direct reference
        ours = [r for r in requirements if r.startswith("agentcore-wire")]
        assert ours and all(r.endswith(f"=={version}") for r in ours), ours


def _fresh_environment(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A new environment with the third-party packages of the lock, none of ours."""
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "env")}
    _run(
        _uv(), "sync", "--frozen", "--offline", "--no-install-workspace", "-q",
        "-p", sys.executable, "--extra", "http", "--no-default-groups", "--group", "emulator",
        env=env,
    )  # fmt: skip
    return tmp_path / "env", env


def _works(env: Path) -> None:
    assert (
        _run(str(env / "bin/mcp-agentcore-proxy"), "--version").split()[-1]
        == (_project("agentcore-wire")["version"])
    )
    exports = _run(str(env / "bin/agentcore-emulator"), "env", "--config", "emulator/demo.toml")
    assert "export AGENTCORE_AGENT_ARN=" in exports


def test_the_wheels_install_together_from_a_folder(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _run(_uv(), "build", "--offline", "--all-packages", "--wheel", "-q", "--out-dir", str(wheels))
    built = sorted(path.name.split("-")[0] for path in wheels.glob("*.whl"))
    assert built == ["agentcore_emulator", "agentcore_wire", "mcp_proxy_for_agentcore"]
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            metadata = next(n for n in archive.namelist() if n.endswith("METADATA"))
            assert "file:" not in archive.read(metadata).decode(), wheel.name
            if wheel.name.startswith("agentcore_emulator"):  # the dashboard's own assets
                names = set(archive.namelist())
                for asset in ("index.html", "app.js", "style.css"):
                    assert f"agentcore_emulator/dashboard/{asset}" in names, asset
    env, _ = _fresh_environment(tmp_path)
    _run(
        _uv(), "pip", "install", "--offline", "--no-index", "-q", "-p", str(env),
        "--find-links", str(wheels), "mcp-proxy-for-agentcore[http]", "agentcore-emulator",
    )  # fmt: skip
    _works(env)


def test_one_editable_install_of_every_distribution(tmp_path: Path) -> None:
    # Before: `pip install -e . -e ./emulator` failed (ResolutionImpossible): the emulator
    # named the proxy by a file reference.
    env, _ = _fresh_environment(tmp_path)
    _run(
        _uv(), "pip", "install", "--offline", "-q", "-p", str(env),
        "-e", "./wire", "-e", "./emulator", "-e", ".[http]",
    )  # fmt: skip
    _works(env)
