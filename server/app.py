"""The demo server's MCP tools and its streamable HTTP app (AgentCore's MCP contract)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel, Field
from starlette.applications import Starlette

from server import jokes
from server.weather import Weather, describe, weather_for

RUNTIME_SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
# AgentCore's payload limit; the SDK's default cap is far lower.
MAX_REQUEST_BODY = 100_000_000


@dataclass(frozen=True)
class ServerSettings:
    """The server's settings, read once from the environment."""

    host: str = "0.0.0.0"
    port: int = 8000
    stateless: bool = True
    json_response: bool = False
    model_id: str = "amazon.nova-micro-v1:0"
    region: str = "us-east-1"
    forecast_step_seconds: float = 0.2
    bedrock_max_attempts: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServerSettings:
        mode = env.get("MCP_SESSION_MODE", "stateless").lower()
        if mode not in ("stateless", "stateful"):
            raise SystemExit(f"MCP_SESSION_MODE must be stateless or stateful, not {mode!r}")
        return cls(
            host=env.get("HOST", cls.host),
            port=int(env.get("PORT", cls.port)),
            stateless=mode == "stateless",
            json_response=env.get("MCP_JSON_RESPONSE", "").lower() in ("1", "true"),
            model_id=env.get("BEDROCK_MODEL_ID", cls.model_id),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or cls.region,
            forecast_step_seconds=float(
                env.get("FORECAST_STEP_SECONDS", cls.forecast_step_seconds)
            ),
        )


class Identity(BaseModel):
    runtime_session_id: str | None = Field(description="The AgentCore runtime session (sandbox) id")
    hostname: str
    pid: int


class Forecast(BaseModel):
    city: str
    days: list[Weather]


class CityAnswer(BaseModel):
    city: str = Field(description="The city to get the weather for")


def build_server(settings: ServerSettings) -> MCPServer:
    """The MCP server with its tools; elicitation and sampling only when stateful."""
    mcp = MCPServer(
        "agentcore-demo-server",
        instructions="Weather, jokes and sandbox identity, served from Amazon Bedrock AgentCore.",
        log_level="WARNING",
    )

    @mcp.tool()
    def get_weather(city: str) -> Weather:
        """Get today's weather for a city."""
        return weather_for(city)

    @mcp.tool()
    async def get_forecast(city: str, days: int, ctx: Context) -> Forecast:
        """Get a multi-day forecast; reports progress after each day."""
        if not 1 <= days <= 14:
            raise ToolError("days must be between 1 and 14")
        forecast = []
        for day in range(days):
            await asyncio.sleep(settings.forecast_step_seconds)
            forecast.append(weather_for(city, day))
            await ctx.report_progress(day + 1, days, f"day {day + 1} of {days}")
        return Forecast(city=city, days=forecast)

    @mcp.tool()
    def whoami(ctx: Context) -> Identity:
        """Identify the sandbox serving this call (its AgentCore runtime session)."""
        headers = ctx.headers or {}
        return Identity(
            runtime_session_id=headers.get(RUNTIME_SESSION_HEADER),
            hostname=socket.gethostname(),
            pid=os.getpid(),
        )

    @mcp.tool()
    async def tell_joke(topic: str = "programmers") -> str:
        """Tell a joke about a topic, written by a model on Amazon Bedrock."""
        try:
            return await jokes.tell_joke(
                topic, settings.model_id, settings.region, settings.bedrock_max_attempts
            )
        except jokes.JokeUnavailableError as exc:
            raise ToolError(str(exc)) from exc

    if not settings.stateless:

        @mcp.tool()
        async def weather_where_i_am(ctx: Context) -> str:
            """Ask the user for their city (elicitation), then report its weather."""
            answer = await ctx.elicit("Which city are you in?", CityAnswer)
            if answer.action != "accept" or answer.data is None:
                return f"No city given ({answer.action})."
            return describe(weather_for(answer.data.city))

        @mcp.tool()
        async def weather_poem(city: str, ctx: Context) -> str:
            """Ask the client's model (sampling) for a two-line poem about the weather."""
            prompt = f"Write a two-line poem about this weather: {describe(weather_for(city))}"
            result = await ctx.session.create_message(
                [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
                max_tokens=100,
                related_request_id=ctx.request_id,
            )
            content = result.content
            return content.text if isinstance(content, TextContent) else str(content)

    return mcp


def build_app(settings: ServerSettings) -> Starlette:
    """The streamable HTTP app at /mcp, as AgentCore's MCP contract expects."""
    return build_server(settings).streamable_http_app(
        stateless_http=settings.stateless,
        json_response=settings.json_response,
        host=settings.host,  # 0.0.0.0: no DNS-rebinding allow-list; AgentCore fronts it
        max_request_body_size=MAX_REQUEST_BODY,
    )


def main() -> None:
    settings = ServerSettings.from_env(os.environ)
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_level="warning")
