"""Writes the tables of the docs that are generated from code: ``make docs``.

    python scripts/docs.py           rewrite them in place
    python scripts/docs.py --check   exit 1 if a file is stale (the test suite runs this)

The proxy's settings table (docs/proxy.md) comes from ``settings.SETTINGS`` and the
defaults of ``ProxyConfig``; the emulator's config reference (docs/emulator.md) from
``config_keys``; its table of AgentCore's operations from ``operations``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from agentcore_emulator import operations
from agentcore_emulator.config_keys import reference
from mcp_agentcore_proxy.config import ProxyConfig
from mcp_agentcore_proxy.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def _default(value: object) -> str:
    if value is None or value == () or value is False:
        return "none" if value is not False else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def settings_table() -> str:
    """One row per setting: its variables and flag, its default, what it does."""
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(ProxyConfig)
        if f.default is not dataclasses.MISSING
    }
    rows = ["| variable (flag) | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        names = " or ".join(f"`{name}`" for name in setting.variables)
        default = {"agent_arn": "required", "region": "the ARN's"}.get(setting.field) or _default(
            defaults[setting.field]
        )
        rows.append(f"| {names} (`{setting.flag}`) | {default} | {setting.help} |")
    rows.append(
        "| `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`, `AWS_ENDPOINT_URL_STS` | "
        "AWS | endpoints, as boto3 defines them (this is how it reaches the emulator) |"
    )
    return "\n".join(rows) + "\n"


GENERATED = [
    (ROOT / "docs" / "proxy.md", "settings", settings_table),
    (ROOT / "docs" / "emulator.md", "config", reference),
    (ROOT / "docs" / "emulator.md", "operations", operations.reference),
]


def rewritten(text: str, marker: str, content: str) -> str:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    if not rest:
        raise SystemExit(f"docs: no {start} marker")
    return f"{head}{start}\n{content}{end}{tail}"


def main(argv: list[str]) -> int:
    stale = []
    for path, marker, render in GENERATED:
        text = path.read_text()
        new = rewritten(text, marker, render())
        if new != text:
            stale.append(f"{path.relative_to(ROOT)} ({marker})")
            if "--check" not in argv:
                path.write_text(new)
    if stale and "--check" in argv:
        print(f"docs: stale: {', '.join(map(str, stale))}; run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
