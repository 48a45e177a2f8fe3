"""Jokes from a Strands agent on Amazon Bedrock."""

from __future__ import annotations

import botocore.exceptions

SYSTEM_PROMPT = (
    "You tell one short, clean, funny joke about the topic you are given. Reply with the joke only."
)


class JokeUnavailableError(Exception):
    """Bedrock could not produce a joke; the message says why."""


async def tell_joke(topic: str, model_id: str, region: str, max_attempts: int = 3) -> str:
    """Ask the model for one joke about ``topic``."""
    # Strands is imported when a joke is asked for, not when the server starts: it is a
    # second of every instance's start, and most sessions never tell a joke.
    from strands import Agent, ModelRetryStrategy
    from strands.models import BedrockModel
    from strands.types.exceptions import ModelThrottledException

    # Strands' default, as a user's agent has it: ConverseStream.
    model = BedrockModel(model_id=model_id, region_name=region)
    # Strands' default (6 attempts from 4 s) would hold a throttled tool call for minutes.
    retries = ModelRetryStrategy(max_attempts=max_attempts, initial_delay=1, max_delay=8)
    agent = Agent(
        model=model, system_prompt=SYSTEM_PROMPT, callback_handler=None, retry_strategy=retries
    )
    try:
        result = await agent.invoke_async(f"Tell me a joke about {topic}.")
    except ModelThrottledException as exc:
        raise JokeUnavailableError(f"Bedrock throttled the request: {exc}") from exc
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise JokeUnavailableError(
            f"Bedrock refused the request: {error.get('Code')}: {error.get('Message')}"
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise JokeUnavailableError(f"Bedrock could not be reached: {exc}") from exc
    return str(result).strip()
