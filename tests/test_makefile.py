"""The Makefile's AWS targets: dry runs show the commands; missing tools fail clearly."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.harness import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_help_lists_every_target() -> None:
    listed = _make("help").stdout
    for target in (
        "demo",
        "test",
        "bench",
        "build",
        "push",
        "deploy",
        "outputs",
        "smoke-test",
        "clean",
    ):
        assert f"make {target} " in listed


def test_dry_run_deploy_shows_build_push_and_sam_deploy() -> None:
    plan = _make("-n", "deploy", AWS_REGION="eu-west-1").stdout
    assert "docker buildx build --platform linux/arm64" in plan
    assert "aws ecr create-repository --region eu-west-1" in plan
    assert "docker push" in plan
    assert "sam deploy --region eu-west-1 --stack-name agentcore-mcp-demo" in plan


def test_dry_run_smoke_test_resolves_the_arn_from_the_stack() -> None:
    plan = _make("-n", "smoke-test", AWS_REGION="eu-west-1").stdout
    assert (
        "aws cloudformation describe-stacks --region eu-west-1 --stack-name agentcore-mcp-demo"
        in plan
    )
    assert "scripts/proxy_smoketest.py" in plan


def test_build_without_a_docker_engine_says_so() -> None:
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    ):
        pytest.skip("a Docker engine is running here")
    done = _make("build")
    assert done.returncode != 0
    assert "needs a running Docker engine" in done.stderr


def test_aws_targets_need_a_region() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    done = subprocess.run(
        ["make", "--no-print-directory", "require-region"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "AWS_CONFIG_FILE": os.devnull, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0 and "no AWS region" in done.stderr
