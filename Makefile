# tmc.multicluster — every target does its own set-up (venv, pip installs,
# testbed binaries), cached outside the repository.
#   make demo   bring up the local testbed and run playbooks/demo.yml
#   make test   lint, unit tests and integration tests on the real testbed
#   make integration TESTS=tests/integration/test_daemons.py   some integration tests only
#   make molecule SCENARIO=controller   one molecule scenario (all of them without SCENARIO)
#   make dist   build the collection tarball into dist/
#   make sanity   ansible-test sanity on the built collection (also part of make test)
#   make cli    install kubectl-tmc (the kubectl plugin: kubectl tmc ...) into the venv, on make's PATH
#   make install-cli PREFIX=~/.local   install kubectl-tmc into PREFIX/bin for your shell
#   make docs   regenerate the generated reference pages and dashboards (CI checks them)
#   make prometheus   build prometheus and promtool for the testbed (tests build it when they need it)

SHELL := /bin/bash
PYTHON ?= python3
CACHE ?= $(HOME)/.cache/tmc-multicluster
REQ_HASH := $(shell cat requirements.txt requirements-test.txt | sha256sum | cut -c1-16)
VENV ?= $(CACHE)/venv-$(REQ_HASH)
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/tmc/multicluster
DEMO_STATE ?= $(CURDIR)/.testbed/demo
PYTEST_ARGS ?=
# Targets that need what the collection tarball leaves out (benchmarks/, hack/upgrade/: see galaxy.yml) say so.
repo_only = @test -e $(1) || { echo "$(1) is not in the collection tarball: run 'make $@' in a git checkout of tmc.multicluster"; exit 2; }

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PYTHONPATH := $(COLLECTIONS):$(CURDIR)
export PATH := $(BIN):$(PATH)
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python

.PHONY: help venv collection cli install-cli docs prometheus testbed-binaries testbed-up testbed-down testbed-status lint unit integration test demo \
        e2e retained-replicas-long sanity molecule dist bench-placement bench-placement-spread bench-cel schema bench-sync bench-latency bench-latency-short bench-memory bench-cache clean chaos upgrade

help:
	@sed -n 's/^#   //p' Makefile

# The venv's path carries a hash of the requirement files, so a changed pin
# makes a new venv and an unchanged one is reused by every clone.
$(VENV)/.installed:
	@echo "==> creating $(VENV)"
	@rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -r requirements.txt -r requirements-test.txt
	@touch $@

venv: $(VENV)/.installed

collection:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@[ -L $(COLLECTION_LINK) ] || ln -sfn $(CURDIR) $(COLLECTION_LINK)

testbed-binaries:
	@bash hack/testbed/build.sh >/dev/null

prometheus:
	@bash hack/testbed/build-prometheus.sh >/dev/null

# kubectl finds plugins as executables named kubectl-<name> on PATH: kubectl-tmc runs the collection's CLI.
# Under make, PYTHONPATH already points at this checkout's collection; elsewhere the one it was installed from.
define KUBECTL_TMC
#!/bin/sh
# kubectl tmc: the tmc.multicluster operator CLI (docs/guides/cli.md).
PYTHONPATH="$${PYTHONPATH:-$(COLLECTIONS)}" exec "$(BIN)/python" -m ansible_collections.tmc.multicluster.plugins.module_utils.cli "$$@"
endef
export KUBECTL_TMC

cli: venv collection
	@printf '%s\n' "$$KUBECTL_TMC" > $(BIN)/kubectl-tmc.tmp && chmod +x $(BIN)/kubectl-tmc.tmp && mv $(BIN)/kubectl-tmc.tmp $(BIN)/kubectl-tmc

PREFIX ?= $(HOME)/.local
install-cli: cli
	@mkdir -p $(PREFIX)/bin && cp $(BIN)/kubectl-tmc $(PREFIX)/bin/kubectl-tmc && echo "installed $(PREFIX)/bin/kubectl-tmc"

docs: venv collection
	@$(BIN)/python -m hack.docs

testbed-up: venv collection testbed-binaries
	@$(BIN)/python -m hack.testbed up --state $(DEMO_STATE)

testbed-down: venv
	@$(BIN)/python -m hack.testbed down --state $(DEMO_STATE)

testbed-status: venv
	@$(BIN)/python -m hack.testbed status --state $(DEMO_STATE)

lint: venv collection
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@echo "==> import-linter (engine layers)"
	@$(BIN)/lint-imports --no-cache
	@echo "==> ansible-lint"
	@$(BIN)/ansible-lint -q --offline

unit: venv collection cli
	@$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: venv collection cli testbed-binaries
	@$(BIN)/python -m pytest $(or $(TESTS),tests/integration) $(PYTEST_ARGS)

test: venv collection cli testbed-binaries lint
	@echo "==> ansible-test sanity (the built collection)"
	@bash hack/sanity/run.sh
	@$(BIN)/python -m pytest tests/unit tests/integration $(PYTEST_ARGS)

demo: testbed-up
	@ANSIBLE_LOCALHOST_WARNING=false $(BIN)/ansible-playbook -i localhost, -c local playbooks/demo.yml -e tmc_testbed_state=$(DEMO_STATE)

# make chaos: every chaos scenario, full profile, on a testbed of its own in .testbed/chaos (left running).
CHAOS_STATE ?= $(CURDIR)/.testbed/chaos
chaos: venv collection testbed-binaries
	@$(BIN)/python -m hack.testbed up --state $(CHAOS_STATE)
	@ANSIBLE_LOCALHOST_WARNING=false $(BIN)/ansible-playbook -i localhost, -c local playbooks/chaos.yml \
	  -e tmc_testbed_state=$(CHAOS_STATE) -e tmc_chaos_profile=full

# make upgrade: playbooks/upgrade.yml, full profile (previous build -> current -> rollback), on a testbed of its
# own in .testbed/upgrade (left running); the report is .testbed/upgrade/upgrade-report.json.
UPGRADE_STATE ?= $(CURDIR)/.testbed/upgrade
upgrade: venv collection testbed-binaries
	$(call repo_only,hack/upgrade)
	@$(BIN)/python -m hack.testbed up --state $(UPGRADE_STATE)
	@ANSIBLE_LOCALHOST_WARNING=false $(BIN)/ansible-playbook -i localhost, -c local playbooks/upgrade.yml \
	  -e tmc_testbed_state=$(UPGRADE_STATE) -e tmc_upgrade_rollback=true \
	  -e tmc_upgrade_report=$(UPGRADE_STATE)/upgrade-report.json

# Molecule as a user runs it: from the collection root, with the venv on PATH and ANSIBLE_COLLECTIONS_PATH set
# (both exported above). The testbed the scenarios share is .testbed/molecule (TMC_TESTBED_STATE to change it).
SCENARIO ?=
molecule: venv collection testbed-binaries
	@$(BIN)/molecule test $(if $(SCENARIO),-s $(SCENARIO),--all)

e2e: venv collection testbed-binaries
	@$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# The autoscaled Deployment's generation watched for 5 minutes while the daemons run (make test watches 60 s).
retained-replicas-long: venv collection testbed-binaries
	@TMC_RETAIN_OBSERVE_SECONDS=300 $(BIN)/python -m pytest tests/integration/test_retained_replicas.py $(PYTEST_ARGS)

# make dist: the collection tarball, as ansible-galaxy builds it (build_ignore in galaxy.yml), into dist/.
dist: venv
	@mkdir -p dist
	@$(BIN)/ansible-galaxy collection build --force --output-path dist . | tail -n1

sanity: venv collection
	@bash hack/sanity/run.sh

bench-placement: venv collection
	$(call repo_only,benchmarks)
	@$(BIN)/python benchmarks/placement_scale.py --clusters 5000 --placements 1000 --json

bench-placement-spread: venv collection
	$(call repo_only,benchmarks)
	@$(BIN)/python benchmarks/placement_scale.py --clusters 5000 --placements 1000 --spread-heavy --json

bench-cel: venv collection
	$(call repo_only,benchmarks)
	@$(BIN)/python benchmarks/cel_budget.py --json

# The engine's copy of the WorkloadPlacement schema (plugins/module_utils/placement/schema.py), after a CRD change.
schema: venv
	@$(BIN)/python hack/gen_placement_schema.py

bench-sync: venv collection testbed-binaries
	$(call repo_only,benchmarks)
	@$(BIN)/python benchmarks/sync_vs_k8s_module.py --objects 200 --clusters 3 --json

bench-latency: venv collection testbed-binaries
	$(call repo_only,benchmarks)
	@$(BIN)/python benchmarks/sync_latency.py --workloads 1000 --clusters 3 --json

bench-latency-short: venv collection testbed-binaries
	$(call repo_only,benchmarks)
	@$(BIN)/python benchmarks/sync_latency.py --workloads 100 --clusters 3 --json

# Peak and steady memory of the daemons at 10,000 workloads x 3 clusters (issue 6): replicas 0, so no pods.
bench-memory: venv collection testbed-binaries
	$(call repo_only,benchmarks)
	@$(BIN)/python benchmarks/sync_latency.py --workloads 10000 --clusters 3 --replicas 0 --updates 0 \
		--upsync-samples 0 --no-floor --json

# The controller's watch caches at 10,000 workloads x 3 clusters, in one process (no testbed).
bench-cache: venv collection
	$(call repo_only,benchmarks)
	@$(BIN)/python benchmarks/cache_memory.py --workloads 10000 --clusters 3 --json

clean: testbed-down
	rm -rf .build .testbed
