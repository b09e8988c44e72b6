# boosterbeacon.infra: every entry point a developer or CI needs.
# `make test` and `make demo` set up what they need themselves (venv, Docker engine, images).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
export PY_COLORS := 0
export ANSIBLE_FORCE_COLOR := 0
COLLECTION_LINK := .collections/ansible_collections/boosterbeacon/infra
ALL_SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
# The longest first (as measured in the last full run), so the parallel run ends sooner; those
# started from the provisioned image take the first free slots once it is there.
SLOW_SCENARIOS := $(foreach s,provision multihost deploy secrets hardening monitoring backup nodejs ci_workflow contract web pg_dumps environments postgresql module_pm2_process,$(filter $(s),$(ALL_SCENARIOS)))
SCENARIOS ?= $(SLOW_SCENARIOS) $(filter-out $(SLOW_SCENARIOS),$(ALL_SCENARIOS))
# Scenarios run at once (each in its own container); they mostly wait on apt and systemd.
MOLECULE_JOBS ?= 3
DISTRO ?= trixie
APP := tests/fixtures/app
# The development environment's images: official (Docker Hub) or local (built from Debian's packages).
DEV_IMAGES ?= official
# The local images start from the test-host base image.
DEV_NEEDS := venv collection docker $(if $(filter local,$(DEV_IMAGES)),images)

.PHONY: help tools venv collection docker images pkg-cache provisioned lint yamllint ansible-lint specs shellcheck rules actionlint \
	inventories secrets-baseline sanity units app-test molecule test test-matrix build demo demo-down clean deploy promote rollback status ee \
	dev dev-logs dev-app-test dev-stop dev-down dev-test

help: ## list targets
	@grep -hE '^[a-z -]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

tools: ## programs the tests need (installed from Debian's packages as root; elsewhere the command is printed)
	scripts/ensure-tools.sh

$(VENV)/.stamp: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp ## controller tooling from requirements-dev.txt

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

collection: $(COLLECTION_LINK) ## make the working tree importable as boosterbeacon.infra

docker: ## make sure a Docker engine answers (installs and starts one as root on Debian)
	scripts/ensure-docker.sh

images: docker ## systemd test-host images built from Debian packages
	scripts/build-images.sh $(DISTRO)

pkg-cache: images ## the package cache every test container shares (apt-cacher-ng in a trixie container)
	scripts/build-images.sh trixie
	scripts/pkg-cache.sh up

provisioned: venv collection pkg-cache ## the provisioned-host image (rebuilt when what goes into it changes)
	BB_PKG_CACHE_ADDR=$$(scripts/pkg-cache.sh address) scripts/provisioned-image.sh $(DISTRO)

yamllint: venv
	yamllint -s .

ansible-lint: venv collection
	ansible-lint --profile production --offline

specs: venv ## fail when a role's defaults and meta/argument_specs.yml differ
	$(BIN)/python scripts/check-argspecs.py roles

shellcheck: tools ## shell scripts, the sample service's included (sanity skips that Node project)
	shellcheck -x scripts/*.sh bench/*.sh dev/*.sh .ci/run tests/fixtures/*/scripts/*.sh

rules: venv tools ## the alert rules: promtool check rules, then their unit tests (tests/prometheus)
	scripts/promtool-tests.sh

actionlint: venv tools ## the GitHub Actions workflows (this repository's and the service repository's template), shellcheck on their steps
	actionlint -shellcheck shellcheck .github/workflows/*.yml ci/service-repository/.github/workflows/*.yml

inventories: venv ## staging and production agree in variable names, vault files encrypted, no plain-text secret (detect-secrets)
	$(BIN)/python scripts/check-inventories.py

secrets-baseline: venv ## accept the secret scanner's findings outside inventories/ in .secrets.baseline (review the diff)
	$(BIN)/python scripts/check-inventories.py --update-baseline

lint: yamllint ansible-lint specs shellcheck rules actionlint inventories ## yamllint, ansible-lint (production), argument specs, shellcheck, alert rules, actionlint, inventories

sanity: venv tools ## ansible-test sanity on a copy of the tree at ansible_collections/boosterbeacon/infra
	scripts/ansible-test.sh sanity

units: venv collection ## unit tests with coverage of plugins/
	cd tests/unit && pytest -q -p no:cacheprovider --cov=ansible_collections.boosterbeacon.infra.plugins \
	  --cov-report=term-missing --cov-fail-under=$${COV_MIN:-90} .

# Under the deploy's source lock: a deploy's gate or build from this checkout may run meanwhile.
app-test: tools ## the sample service: npm ci, unit tests, build, integration tests on throwaway databases
	$(PYTHON) roles/app_deploy/files/source_lock.py $(APP) $(APP)/scripts/ci-test.sh

molecule: venv collection pkg-cache ## every molecule scenario, MOLECULE_JOBS at a time (DISTRO=trixie by default)
	MOLECULE_DISTRO=$(DISTRO) MOLECULE_JOBS=$(MOLECULE_JOBS) scripts/molecule-all.sh $(SCENARIOS)

test: ## everything CI runs, then a table of wall times per step and scenario
	scripts/test-all.sh

test-matrix: ## molecule scenarios on trixie and bookworm
	$(MAKE) molecule DISTRO=trixie
	$(MAKE) molecule DISTRO=bookworm

build: venv ## collection tarball, then an offline install of it into a scratch path
	rm -rf build && mkdir -p build
	ansible-galaxy collection build --output-path build --force .
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/installed \
	  ansible-galaxy collection install --offline --force -p build/installed build/boosterbeacon-infra-*.tar.gz
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/installed ansible-galaxy collection list boosterbeacon.infra
	if tar -tzf build/boosterbeacon-infra-*.tar.gz | grep -E '(^|/)(node_modules|\.venv|\.git|\.collections)/'; then \
	  echo "ERROR: the tarball holds the files above, which it must not"; exit 1; fi

demo: venv collection images ## bring up the local container (inventories/local), provision and deploy
	scripts/local-host.sh up
	ansible-playbook -i inventories/local --vault-password-file "$$(scripts/local-secrets.sh)" playbooks/site.yml

demo-down: ## remove the local container
	scripts/local-host.sh down

# What CI's deploy jobs run, and a person too: ENV=staging|production|local or an inventory's path,
# ARGS for more ansible-playbook options; secrets as files (scripts/ci-deploy.sh, docs/ci-cd.md).
deploy promote rollback status: venv collection ## deploy.yml, promote.yml, rollback.yml, status.yml on ENV (a Markdown summary of the run after it)
	scripts/ci-deploy.sh $@ "$(ENV)" $(ARGS)

ee: venv ## the execution environment's build context (ansible-builder create) in build/ee, for AWX or ansible-navigator
	ansible-builder create --file execution-environment.yml --context build/ee --output-filename Containerfile

dev: $(DEV_NEEDS) ## development environment: PostgreSQL, Redis, the service from its source (DEV_IMAGES=local without a registry)
	BB_DEV_IMAGES=$(DEV_IMAGES) scripts/dev.sh up

dev-logs: ## every service's log of the development environment (FOLLOW=1 follows)
	scripts/dev.sh logs $(if $(FOLLOW),-f)

dev-app-test: ## the sample service's tests in the development environment, on a database of their own
	scripts/dev.sh test

dev-stop: ## stop the development environment (containers and data stay)
	scripts/dev.sh stop

dev-down: ## remove the development environment's containers and network (VOLUMES=1: its data too)
	scripts/dev.sh down $(if $(filter 1,$(VOLUMES)),--volumes)

dev-test: venv collection images ## the development environment's own test: up, hot reload, isolated tests, logs, down
	scripts/dev-test.sh

clean: ## remove generated files (keeps images and the venv)
	rm -rf build .collections tests/output .pytest_cache
