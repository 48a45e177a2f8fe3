"""Which failed calls are sent again, and after how long."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from mcp_agentcore_proxy.errors import ConnectFailedError, RuntimeServiceError


@dataclass(frozen=True)
class RetryPolicy:
    """Resend only what the runtime cannot have run: errors answered before any output.

    botocore's own retries would also resend after a read timeout or a dropped
    connection, when a tool may already be running; so the proxy never uses them.
    """

    max_attempts: int = 3
    base_delay: float = 0.05
    throttle_base_delay: float = 0.5
    # AgentCore counts calls over a sliding second: a throttled call retried within it
    # is throttled again, so a retry waits the window out first (then backs off, jittered).
    throttle_window: float = 1.0
    max_delay: float = 20.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, throttled: bool) -> float:
        base = self.throttle_base_delay if throttled else self.base_delay
        jittered = random.uniform(0, min(self.max_delay, base * 2**attempt))  # noqa: S311
        return self.throttle_window + jittered if throttled else jittered

    def should_retry(self, exc: Exception, attempt: int) -> bool:
        if attempt + 1 >= self.max_attempts:
            return False
        if isinstance(exc, RuntimeServiceError):
            return exc.aws_error.retryable
        return isinstance(exc, ConnectFailedError)
