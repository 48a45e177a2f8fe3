"""The dashboard in a real browser (Debian's chromium, driven headless by Playwright): the
page shows the runtimes; a session appears when boto3 invokes one; its log line and its
trace appear live; a fault set in the page fails the next call; the invoke panel goes
through the checked API; no console error, and no request leaves the emulator."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.harness import Emulator

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INSTALL = "the dashboard's browser tests need Debian's chromium: apt-get install chromium"


@pytest.fixture
def page(emulator: Emulator) -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip(INSTALL)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        # As root (CI's containers) chromium's own sandbox cannot start: it runs without.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            yield context.new_page()
        finally:
            browser.close()


def _invoke(emulator: Emulator, session: str, prompt: str, **client: Any) -> Any:
    answer = emulator.client(**client).invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["otel_agent"],
        runtimeSessionId=session,
        payload=json.dumps({"prompt": prompt}).encode(),
        contentType="application/json",
    )
    return json.loads(answer["response"].read())


def test_the_dashboard_shows_a_session_its_logs_and_trace_live_and_sets_a_fault(
    emulator: Emulator, page: Any, tmp_path: Path
) -> None:
    errors: list[str] = []
    requested: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requested.append(r.url))
    page.goto(emulator.url)
    page.locator('#runtimes tr[data-runtime="otel_agent"]').wait_for()
    page.locator("#live.on").wait_for()  # subscribed to the live events

    session = f"browser-{uuid.uuid4()}"
    assert _invoke(emulator, session, "from the browser") == {
        "answer": "you said: from the browser"
    }
    row = page.locator(f'#sessions tr[data-session="{session}"]')
    row.wait_for()  # appeared without a reload
    assert "Idle" in row.inner_text()
    row.click()
    page.locator("#logs", has_text="answered 'from the browser'").wait_for()
    page.locator("#trace .span", has_text="agent.invoke").wait_for()  # the instance's span
    assert page.locator('#trace .span[data-source="emulator"]').count() >= 3

    # A fault set in the page: the next call fails, as the page said it would.
    runtime_row = page.locator('#runtimes tr[data-runtime="otel_agent"]')
    runtime_row.locator("input[type=number]").fill("1")
    runtime_row.locator("button.set-faults").click()
    runtime_row.locator(".faults", has_text="next 1 fail: InternalServerException").wait_for()
    with pytest.raises(ClientError) as failed:
        _invoke(emulator, session, "fails", config=Config(retries={"total_max_attempts": 1}))
    assert failed.value.response["Error"]["Code"] == "InternalServerException"
    page.locator("#invocations td.error", has_text="500").first.wait_for()

    # The invoke panel: through the emulator's own, checked, endpoint.
    runtime_row.locator("button.invoke").click()
    page.locator("#invoke-dialog textarea[name=payload]").fill('{"prompt": "from the panel"}')
    page.locator("#invoke-send").click()
    page.locator("#invoke-answer", has_text="you said: from the panel").wait_for()
    page.locator("#invoke-close").click()

    shot = Path(os.environ.get("DASHBOARD_SCREENSHOT", tmp_path / "dashboard.png"))
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []
    assert requested and all(url.startswith(emulator.url) for url in requested), requested
