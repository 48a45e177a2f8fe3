"""The registered runtimes, found by ARN or id, with the faults currently injected."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace

from agentcore_emulator.config import FaultSpec, RuntimeSpec
from agentcore_emulator.exceptions import (
    ERROR_CLASSES,
    ResourceNotFoundException,
    ThrottlingException,
    ValidationException,
)
from agentcore_wire.aws_errors import AwsError

logger = logging.getLogger(__name__)


class RuntimeRegistry:
    """Runtimes by name, id and ARN; faults can be switched while serving."""

    def __init__(self, specs: Iterable[RuntimeSpec], account: str) -> None:
        self._account = account
        self._specs: dict[str, RuntimeSpec] = {s.name: s for s in specs}
        self._calls: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )

    def __iter__(self) -> Iterator[RuntimeSpec]:
        return iter(list(self._specs.values()))

    def resolve(self, arn_or_id: str, account_id: str | None) -> RuntimeSpec:
        """The runtime named by an ARN, or by a bare id plus the accountId parameter."""
        for spec in self._specs.values():
            if arn_or_id == spec.arn:
                return spec
        if not arn_or_id.startswith("arn:"):
            if account_id is None:
                raise ValidationException.for_field(
                    "accountId", "accountId is required when agentRuntimeArn is a runtime id"
                )
            for spec in self._specs.values():
                if arn_or_id == spec.runtime_id and account_id == self._account:
                    return spec
        # AWS's answer names only what was asked; the log also says what is served.
        served = ", ".join(f"{spec.name}={spec.arn}" for spec in self._specs.values())
        logger.warning("no runtime %s here; this emulator serves: %s", arn_or_id, served)
        raise ResourceNotFoundException(f"Runtime not found: {arn_or_id}")

    def by_name(self, name: str) -> RuntimeSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ResourceNotFoundException(f"Runtime not found: {name}") from None

    def set_faults(self, name: str, faults: FaultSpec) -> RuntimeSpec:
        spec = self.by_name(name).with_faults(faults)
        self._specs[name] = spec
        self._calls.pop(name, None)
        return spec

    def admit(self, spec: RuntimeSpec, now: float | None = None) -> None:
        """Count a call; raise the injected errors (throttling past a rate, the next N fail)."""
        if spec.faults.fail_next > 0:
            faults = replace(spec.faults, fail_next=spec.faults.fail_next - 1)
            self._specs[spec.name] = spec.with_faults(faults)
            code = spec.faults.fail_code
            raise ERROR_CLASSES.get(code, AwsError)(f"Injected {code}", code=code)
        limits = [spec.faults.throttle_per_second, spec.requests_per_second]
        limit = min((value for value in limits if value is not None), default=None)
        if limit is None:
            return
        now = time.monotonic() if now is None else now
        window = self._calls[spec.name]
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= limit:
            raise ThrottlingException("Rate exceeded")
        window.append(now)
