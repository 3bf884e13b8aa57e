# The Fibre Cafe order-cancellation service. `make help` lists the targets.
# Everything a target needs is installed from the lock files on first use (and again only when a
# lock changes): a clean clone with Python 3.11 or 3.12 and make is enough. No Docker, no AWS.

PYTHON      ?= python3
# pyenv keeps 3.12 beside the default 3.11: its `python3.12` shim answers only when PYENV_VERSION
# names both. Harmless where python3.12 is a real interpreter.
PYTHON312   ?= python3.12
PYENV_312   ?= 3.11.7:3.12.1
VENV        ?= .venv
VENV312     ?= .venv312
SAM_VENV    ?= .tools/sam
REGION      ?= eu-west-2
TEMPLATE    ?= template.yaml
BUILD_DIR   ?= .aws-sam/build
PYTEST_ARGS ?= -q
SAM_LOCAL_ARGS ?= -q

DEV_LOCK := requirements/dev.lock
SAM_LOCK := requirements/sam.lock
# The lock is complete: install exactly it (no resolver, no surprise upgrades), wheels only, then
# let pip confirm nothing is missing. A stamp inside the venv remembers which lock it holds.
PIP_INSTALL := -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all:
STAMP := .installed-from-lock

# Nothing here may reach real AWS: SAM CLI and cfn-lint get fake credentials, a region, and no
# telemetry or instance-metadata lookups.
OFFLINE_AWS := env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
	AWS_REGION=$(REGION) AWS_DEFAULT_REGION=$(REGION) AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

# For offline commands only: a future `make deploy` must call $(SAM_VENV)/bin/sam with the caller's credentials.
SAM := $(OFFLINE_AWS) $(SAM_VENV)/bin/sam
CFN_LINT := $(OFFLINE_AWS) $(VENV)/bin/cfn-lint

# The Python checks of `make lint`, which `make test` runs too: ruff over the whole repo, mypy --strict on layers/,
# functions/ and tools/ (rules, scope and the pydantic plugin: pyproject.toml).
define PY_LINT
	@echo "ruff check ."; $(VENV)/bin/ruff check .
	@echo "mypy (strict: layers/gateway, functions, tools)"; $(VENV)/bin/mypy
endef

.DEFAULT_GOAL := help
.PHONY: invoke test-sam-local docker-setup help run test test-py312 pytest lint lint-py build deploy smoke openapi replay events lock lock-check venv venv312 sam-venv clean distclean \
	bench soak

help: ## list the targets
	@echo "make <target>   (variables: PYTHON=$(PYTHON) VENV=$(VENV) PYTEST_ARGS='$(PYTEST_ARGS)' REGION=$(REGION))"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## /  \1\t/' | expand -t 16

# ------------------------------------------------------------------------ virtual environments
$(VENV)/$(STAMP): $(DEV_LOCK)
	@test -x $(VENV)/bin/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing $(DEV_LOCK) into $(VENV)"
	$(VENV)/bin/python $(PIP_INSTALL) -r $(DEV_LOCK)
	$(VENV)/bin/python -m pip check --disable-pip-version-check
	@touch $@

$(VENV312)/$(STAMP): $(DEV_LOCK)
	@test -x $(VENV312)/bin/python || { echo "creating $(VENV312) with $(PYTHON312)"; PYENV_VERSION=$(PYENV_312) $(PYTHON312) -m venv $(VENV312); }
	@$(VENV312)/bin/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else f"$(VENV312) is Python {sys.version.split()[0]}, not 3.12: remove it")'
	@echo "installing $(DEV_LOCK) into $(VENV312)"
	$(VENV312)/bin/python $(PIP_INSTALL) -r $(DEV_LOCK)
	$(VENV312)/bin/python -m pip check --disable-pip-version-check
	@touch $@

# SAM CLI pins its own boto3, pydantic and click: it lives in a venv of its own.
$(SAM_VENV)/$(STAMP): $(SAM_LOCK)
	@test -x $(SAM_VENV)/bin/python || { echo "creating $(SAM_VENV) with $(PYTHON)"; $(PYTHON) -m venv $(SAM_VENV); }
	@echo "installing $(SAM_LOCK) into $(SAM_VENV)"
	$(SAM_VENV)/bin/python $(PIP_INSTALL) -r $(SAM_LOCK)
	$(SAM_VENV)/bin/python -m pip check --disable-pip-version-check
	@touch $@

venv: $(VENV)/$(STAMP) ## create/refresh .venv from requirements/dev.lock
venv312: $(VENV312)/$(STAMP) ## create/refresh .venv312 (Python 3.12) from requirements/dev.lock
sam-venv: $(SAM_VENV)/$(STAMP) ## create/refresh .tools/sam (SAM CLI) from requirements/sam.lock

# ------------------------------------------------------------------------ run and test
run: $(VENV)/$(STAMP) ## start the local stack (python -m local_stack) on http://127.0.0.1:3000; LAMBDA=containers runs the built artifact in SAM's Lambda emulation
	$(if $(filter containers,$(LAMBDA)),$(MAKE) --no-print-directory build sam-venv,)
	exec $(VENV)/bin/python -m local_stack $(if $(LAMBDA),--lambda $(LAMBDA),)

# ------------------------------------------------------------------------ Lambda runtime containers (Docker)
# tools/lambda_runtime/: the offline python3.12 Lambda image (tag = hash of its recipe), the idempotent Docker setup
# (engine, network, firewall, image) and `make invoke`. Root is needed to install/start the engine and build the image.
docker-setup: ## install/start Docker, create the project's network, build the Lambda runtime image (each only when needed)
	bash tools/lambda_runtime/docker_setup.sh

invoke: $(VENV)/$(STAMP) $(SAM_VENV)/$(STAMP) ## sam local invoke of the built artifact: make invoke FN=TenantApiFunction EVENT=events/tenant_api/post-valid.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=<event file>"; exit 2; }
	@$(VENV)/bin/python -m tools.lambda_runtime.invoke $(FN) $(EVENT)

test-sam-local: $(VENV)/$(STAMP) $(SAM_VENV)/$(STAMP) build ## the sam_local suite alone: events/ files in containers = in-process, README lines, journey (part of make test)
	$(SAM_LOCAL_TESTS)

# The sam_local suite (tests/sam_local, Docker): once per `make test`, never in test-py312 (pyproject deselects the marker).
SAM_LOCAL_TESTS = $(VENV)/bin/python -m pytest tests/sam_local -m sam_local -p no:randomly $(SAM_LOCAL_ARGS)

test: $(VENV)/$(STAMP) $(SAM_VENV)/$(STAMP) ## make lint (cfn-lint, sam validate --lint, ruff, mypy --strict) + sam build + OpenAPI drift check + the whole test suite + the sam local suite (what CI runs)
	@echo "cfn-lint $(TEMPLATE)"; $(CFN_LINT) $(TEMPLATE)
	@echo "sam validate --lint --template $(TEMPLATE) --region $(REGION)"; $(SAM) validate --lint --template $(TEMPLATE) --region $(REGION)
	$(PY_LINT)
	PYENV_VERSION=$(PYENV_312) $(SAM) build --template $(TEMPLATE) --build-dir $(BUILD_DIR)
	$(VENV)/bin/python -m tools.openapi --check
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)
	@echo "sam local suite: the built artifact in Lambda runtime containers (Docker set up as needed)"
	$(SAM_LOCAL_TESTS)

pytest: $(VENV)/$(STAMP) ## only the test suite (PYTEST_ARGS='-x -k ...' to narrow it)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-py312: $(VENV312)/$(STAMP) ## the test suite on Python 3.12 (the Lambda runtime), in .venv312
	$(VENV312)/bin/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/$(STAMP) ## benchmarks against their floors (not part of test): tables + bench-results/bench.json; BENCH_ARGS='--quick'
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

soak: $(VENV)/$(STAMP) ## tests/reliability at soak size (SOAK=1: 1,200 schemathesis cases, 2,000 POSTs, 80x10 KCIs; sizes overridable)
	SOAK=1 $(VENV)/bin/python -m pytest tests/reliability $(PYTEST_ARGS)

lint: $(VENV)/$(STAMP) $(SAM_VENV)/$(STAMP) ## cfn-lint and sam validate --lint on template.yaml (offline), then ruff and mypy --strict
	@echo "cfn-lint $(TEMPLATE)"; $(CFN_LINT) $(TEMPLATE)
	@echo "sam validate --lint --template $(TEMPLATE) --region $(REGION)"; $(SAM) validate --lint --template $(TEMPLATE) --region $(REGION)
	$(PY_LINT)

lint-py: $(VENV)/$(STAMP) ## only ruff and mypy --strict (no SAM venv needed; seconds)
	$(PY_LINT)

build: $(SAM_VENV)/$(STAMP) ## sam build into .aws-sam/build without Docker (python3.12 via pyenv PYENV_312)
	@echo "sam build --template $(TEMPLATE) --build-dir $(BUILD_DIR)"
	@PYENV_VERSION=$(PYENV_312) $(SAM) build --template $(TEMPLATE) --build-dir $(BUILD_DIR)

# First deployment: `make deploy GUIDED=1` (asks for the stack name, region, parameters; saves them to samconfig.toml).
# SAM reads samconfig.toml from the directory of the template it is given, and the built template lives in
# $(BUILD_DIR), which `sam build` wipes: so the root samconfig.toml is named by its absolute path, for reading
# and (GUIDED=1) for writing. DEPLOY_ARGS adds options, e.g. DEPLOY_ARGS='--no-confirm-changeset'.
SAMCONFIG   ?= $(CURDIR)/samconfig.toml
SAM_DEPLOY  := $(SAM_VENV)/bin/sam deploy --template-file $(BUILD_DIR)/template.yaml --config-file $(abspath $(SAMCONFIG))
deploy: build ## sam deploy of the built stack with samconfig.toml (needs real AWS credentials; GUIDED=1 the first time)
	SAM_CLI_TELEMETRY=0 $(SAM_DEPLOY) $(if $(GUIDED),--guided,) $(DEPLOY_ARGS)

# `make smoke` tests the running `make run` stack; `make smoke STACK=<name> SMOKE_ARGS='--tenant-client-id ...'`
# a deployed one (API URL, token endpoint and tables from the stack outputs; see tools/smoke.py).
smoke: $(VENV)/$(STAMP) ## smoke test over HTTP: the local stack, or STACK=<deployed stack name>
	$(VENV)/bin/python -m tools.smoke $(if $(STACK),--stack-name $(STACK) --config-file $(abspath $(SAMCONFIG)),--local) $(SMOKE_ARGS)

replay: $(VENV)/$(STAMP) ## replay event files: make replay FILES='events/tenant_api/*.json' [TARGET=local|<url>]
	$(VENV)/bin/python -m tools.replay --target $(or $(TARGET),in-process) $(FILES)

# ------------------------------------------------------------------------ generated files
openapi: $(VENV)/$(STAMP) ## regenerate docs/openapi.json from the handlers (make test fails when it is stale)
	$(VENV)/bin/python -m tools.openapi

events: $(VENV)/$(STAMP) ## regenerate events/ (sam local invoke event files) from events/generate.py
	$(VENV)/bin/python events/generate.py

lock: ## re-resolve the lock files from layer.in, dev.txt, sam.txt (needs PyPI; a few minutes)
	PYENV_VERSION=$(PYENV_312) $(PYTHON) requirements/relock.py

lock-check: ## check that the committed lock files install from wheels on 3.11 and 3.12
	PYENV_VERSION=$(PYENV_312) $(PYTHON) requirements/relock.py --check

# ------------------------------------------------------------------------ cleaning
clean: ## remove build output and caches (keeps the virtual environments)
	rm -rf .aws-sam .pytest_cache .hypothesis .ruff_cache .mypy_cache bench-results
	find . -path ./$(VENV) -prune -o -path ./$(VENV312) -prune -o -path ./.tools -prune -o \
		-name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean ## also remove .venv, .venv312 and .tools (next target reinstalls from the locks)
	rm -rf $(VENV) $(VENV312) .tools
