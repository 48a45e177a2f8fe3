"""The demo server's tools, in process, and its streamable HTTP app."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import Client
from starlette.testclient import TestClient

from server.app import ServerSettings, build_app, build_server
from server.weather import CONDITIONS, weather_for

STATELESS = ServerSettings(forecast_step_seconds=0)
STATEFUL = ServerSettings(stateless=False, forecast_step_seconds=0)
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_weather_is_deterministic_per_city_and_plausible() -> None:
    assert weather_for("New York").model_dump(exclude={"city"}) == weather_for(
        " new york "
    ).model_dump(exclude={"city"})
    assert weather_for("New York") != weather_for("Paris") or weather_for(
        "Paris", 1
    ) != weather_for("New York", 1)
    for city in ("Oslo", "Lima", "Cairo", "Perth", "Quito"):
        report = weather_for(city)
        assert report.conditions in CONDITIONS
        assert -5 <= report.temperature_c <= 34 and 0 <= report.wind_kph < 60


async def _call(settings: ServerSettings, name: str, arguments: dict, progress: list | None = None):
    async with Client(build_server(settings)) as client:

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, total, message))

        return await client.call_tool(
            name, arguments, progress_callback=on_progress if progress is not None else None
        )


def test_stateless_tools_and_stateful_extras() -> None:
    async def names(settings: ServerSettings) -> set[str]:
        async with Client(build_server(settings)) as client:
            return {t.name for t in (await client.list_tools()).tools}

    stateless, stateful = anyio.run(names, STATELESS), anyio.run(names, STATEFUL)
    assert stateless == {"get_weather", "get_forecast", "whoami", "tell_joke"}
    assert stateful == stateless | {"weather_where_i_am", "weather_poem"}


def test_forecast_reports_progress_for_each_day() -> None:
    progress: list = []
    result = anyio.run(_call, STATELESS, "get_forecast", {"city": "Oslo", "days": 3}, progress)
    assert [p[0] for p in progress] == [1, 2, 3]
    assert [d["city"] for d in result.structured_content["days"]] == ["Oslo"] * 3
    bad = anyio.run(_call, STATELESS, "get_forecast", {"city": "Oslo", "days": 40})
    assert bad.is_error and "between 1 and 14" in bad.content[0].text


def test_settings_from_environment() -> None:
    settings = ServerSettings.from_env(
        {"PORT": "9001", "MCP_SESSION_MODE": "stateful", "BEDROCK_MODEL_ID": "m"}
    )
    assert (settings.port, settings.stateless, settings.model_id) == (9001, False, "m")
    with pytest.raises(SystemExit, match="MCP_SESSION_MODE"):
        ServerSettings.from_env({"MCP_SESSION_MODE": "sometimes"})


def test_http_app_serves_mcp_at_slash_mcp_with_the_runtime_session() -> None:
    with TestClient(build_app(STATELESS), base_url="http://127.0.0.1:8000") as http:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        }
        headers = {**ACCEPT, "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "s" * 40}
        answer = http.post("/mcp", json=body, headers=headers)
    assert answer.status_code == 200
    data = next(line for line in answer.text.splitlines() if line.startswith("data:"))
    assert json.loads(data[5:])["result"]["structuredContent"]["runtime_session_id"] == "s" * 40
