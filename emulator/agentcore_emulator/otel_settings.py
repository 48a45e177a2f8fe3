"""The OpenTelemetry settings each instance gets, pointed at the emulator's OTLP receiver
(``otlp``) under its own session's path."""

from __future__ import annotations

from urllib.parse import quote

from agentcore_emulator.config import RuntimeSpec

OTLP_PATH = "/_otlp"


def instance_observability(spec: RuntimeSpec, emulator_url: str, session_id: str) -> dict[str, str]:
    """The OpenTelemetry settings an instance gets, as AgentCore's observability gives an
    agent (ADOT's variables, honoured by ADOT and by the plain SDK alike), pointed at
    this receiver. A runtime's own ``env`` overrides any of them."""
    return {
        "AGENT_OBSERVABILITY_ENABLED": "true",
        "OTEL_PYTHON_DISTRO": "aws_distro",
        "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"{emulator_url}{OTLP_PATH}/{quote(session_id, safe='')}",
        "OTEL_SERVICE_NAME": f"{spec.name}.DEFAULT",
        "OTEL_RESOURCE_ATTRIBUTES": (
            f"service.name={spec.name}.DEFAULT,cloud.resource_id={spec.arn},"
            f"aws.log.group.names=/aws/bedrock-agentcore/runtimes/{spec.runtime_id}-DEFAULT"
        ),
        # Chosen for a local loop: spans sent within a second, so the dashboard is live
        # (the SDK's default waits five).
        "OTEL_BSP_SCHEDULE_DELAY": "1000",
    }
