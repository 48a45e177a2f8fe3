# Two commands do everything offline:  make demo   and   make test
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
TOX := $(TOOLS)/bin/tox
# The pyenv interpreters of the tox matrix, when pyenv has them; never downloaded.
PYENV_BINS := $(shell r=$$(pyenv root 2>/dev/null) && for v in 3.11 3.12 3.13; do \
  d=$$(ls -d $$r/versions/$$v.* 2>/dev/null | sort -V | tail -1); [ -n "$$d" ] && printf '%s:' "$$d/bin"; done)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system

STACK ?= agentcore-mcp-demo
IMAGE_REPO ?= agentcore-mcp-demo
PLATFORM ?= linux/arm64
REGION = $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),$(shell aws configure get region 2>/dev/null))

.PHONY: help demo test test-envs bench conformance docs lint build push deploy outputs smoke-test clean require-region require-aws require-docker require-sam

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(TOOLS)/.ready: Makefile
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) (3.11+) is required" >&2; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9" "tox==4.67.15" "tox-uv==1.37.1"
	@touch $@

.venv/.ready: $(TOOLS)/.ready pyproject.toml uv.lock
	@# After `make test`, uv may have left .venv as a file naming a tox env: make it a venv.
	@if [ -f .venv ]; then rm -f .venv; fi
	$(UV) sync --locked --group emulator --extra server
	@touch $@

conformance: .venv/.ready ## MCP's conformance suite (npm), 2026-07-28 server scenarios: directly vs through the HTTP front end
	.venv/bin/python scripts/conformance.py

demo: .venv/.ready ## run the demo server in the emulator and smoke-test it through the proxy, offline
	.venv/bin/python scripts/demo.py

test: $(TOOLS)/.ready test-envs ## the offline tox matrix: lint types cfn, every test on py311 under coverage, py312 py313
	PATH="$(PYENV_BINS)$$PATH" $(TOX) run

# Fixture agents whose frameworks cannot share the suite's environment (Strands' A2A server
# pins a2a-sdk 0.3; the suite's A2A client is 1.x): each gets one of its own.
test-envs: .venvs/strands-a2a/.ready .venvs/mcp-proxy-for-aws/.ready ## the environments of fixture agents and clients that need their own
.venvs/strands-a2a/.ready: $(TOOLS)/.ready fixtures/strands-a2a/requirements.txt
	$(UV) venv -q --allow-existing -p python3.11 .venvs/strands-a2a
	$(UV) pip install -q -p .venvs/strands-a2a/bin/python -r fixtures/strands-a2a/requirements.txt
	@touch $@
# AWS's own proxy, pointed at an emulator gateway by the suite.
.venvs/mcp-proxy-for-aws/.ready: $(TOOLS)/.ready fixtures/mcp-proxy-for-aws/requirements.txt
	$(UV) venv -q --allow-existing -p python3.11 .venvs/mcp-proxy-for-aws
	$(UV) pip install -q -p .venvs/mcp-proxy-for-aws/bin/python -r fixtures/mcp-proxy-for-aws/requirements.txt
	@touch $@

ROUNDS ?= 3
bench: .venv/.ready ## benchmarks (bench/); prints and writes bench/results.md (ROUNDS=3)
	$(UV) sync --locked --extra test --group emulator
	.venv/bin/python bench/run.py --rounds $(ROUNDS)

docs: .venv/.ready ## rewrite the docs' generated tables (settings, emulator config)
	.venv/bin/python scripts/docs.py

lint: $(TOOLS)/.ready ## ruff only
	$(TOX) run -e lint

# ---- the real thing: AWS, Docker and SAM ------------------------------------------------
require-region:
	@[ -n "$(REGION)" ] || { echo "make: no AWS region: set AWS_REGION or run 'aws configure set region REGION'" >&2; exit 1; }
require-aws:
	@command -v aws >/dev/null || { echo "make: this target needs the AWS CLI (https://aws.amazon.com/cli/)" >&2; exit 1; }
require-docker:
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "make: this target needs a running Docker engine with Buildx" >&2; exit 1; }
require-sam:
	@command -v sam >/dev/null || { echo "make: this target needs the AWS SAM CLI (https://aws.amazon.com/serverless/sam/)" >&2; exit 1; }

ACCOUNT = $(shell aws sts get-caller-identity --query Account --output text 2>/dev/null)
REGISTRY = $(ACCOUNT).dkr.ecr.$(REGION).amazonaws.com
TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo latest)

build: require-docker ## build the demo server image (linux/arm64)
	docker buildx build --platform $(PLATFORM) -t $(IMAGE_REPO):$(TAG) --load server

push: require-aws require-region require-docker build ## create the ECR repository if missing, push the image
	aws ecr describe-repositories --region $(REGION) --repository-names $(IMAGE_REPO) >/dev/null 2>&1 || \
	  aws ecr create-repository --region $(REGION) --repository-name $(IMAGE_REPO) --image-scanning-configuration scanOnPush=true >/dev/null
	aws ecr get-login-password --region $(REGION) | docker login --username AWS --password-stdin $(REGISTRY)
	docker tag $(IMAGE_REPO):$(TAG) $(REGISTRY)/$(IMAGE_REPO):$(TAG)
	docker push $(REGISTRY)/$(IMAGE_REPO):$(TAG)

deploy: require-sam push ## build, push and deploy the stack with SAM
	sam deploy --region $(REGION) --stack-name $(STACK) --parameter-overrides ContainerUri=$(REGISTRY)/$(IMAGE_REPO):$(TAG)

outputs: require-aws require-region ## the stack's outputs (runtime ARN, ProxyInvokeRoleArn)
	aws cloudformation describe-stacks --region $(REGION) --stack-name $(STACK) --query 'Stacks[0].Outputs' --output table

smoke-test: require-aws require-region .venv/.ready ## smoke-test the deployed runtime through the proxy
	.venv/bin/python scripts/proxy_smoketest.py "$$(aws cloudformation describe-stacks --region $(REGION) --stack-name $(STACK) --query "Stacks[0].Outputs[?OutputKey=='AgentRuntimeArn'].OutputValue" --output text)"

clean: ## remove virtual environments and build output
	rm -rf .venv $(TOOLS) .tox dist build .coverage .coverage.* htmlcov .pytest_cache .ruff_cache .aws-sam
