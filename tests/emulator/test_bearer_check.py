"""The token check against an identity provider that never answers."""

from __future__ import annotations

import asyncio

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from agentcore_emulator.config import JwtAuthorizerSpec, OAuthClient
from agentcore_emulator.exceptions import UnauthorizedException
from agentcore_emulator.oauth import BearerCheck, IdentityProvider

DEADLINE = 0.3


class HangingProvider:
    """Accepts connections and never answers; tells when one arrives."""

    def __init__(self) -> None:
        self.connections = 0
        self.arrived = asyncio.Event()
        self._open: list[asyncio.StreamWriter] = []

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._open.append(writer)
        self.arrived.set()

    def close(self) -> None:
        for writer in self._open:
            writer.close()


def _token() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": "x", "exp": 4_000_000_000, "sub": "s"}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


async def _refusal(check: BearerCheck, web: aiohttp.ClientSession, url: str) -> str:
    authorizer = JwtAuthorizerSpec(discovery_url=url)
    with pytest.raises(UnauthorizedException) as refused:
        await check.verify(web, authorizer, f"Bearer {_token()}")
    return str(refused.value)


def test_callers_of_a_hanging_provider_share_one_fetch_each_with_its_own_deadline() -> None:
    async def scenario() -> None:
        provider = HangingProvider()
        server = await asyncio.start_server(provider.accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
        check = BearerCheck(IdentityProvider("http://idp", [OAuthClient("a", "b")]), DEADLINE)
        async with aiohttp.ClientSession() as web:
            first = asyncio.ensure_future(_refusal(check, web, url))
            await provider.arrived.wait()  # the first caller's fetch is under way
            second = await _refusal(check, web, url)
            assert "did not answer within 0.3 s" in await first
            assert "did not answer within 0.3 s" in second
            # The second joined the first's fetch instead of queueing a fetch of its own
            # behind it (which would have waited out both deadlines): one connection.
            assert provider.connections == 1
            # A failed fetch is not remembered: the next caller asks the provider again.
            await _refusal(check, web, url)
            assert provider.connections == 2
            await check.close()
        provider.close()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())
