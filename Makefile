# Telemetry Lab. Start with `make lab` (runs every notebook) or `make test` (runs every test).
# `make help` lists every target.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
KERNEL := telemetry-lab
LABKIT := $(PY) -m labkit
# --durations: the slowest tests, printed after every run, so the time budget stays visible.
PYTEST_ARGS ?= --durations=12 --order=shuffle

.DEFAULT_GOAL := help
.PHONY: help env lock doctor lab test lint test-unit test-integration test-notebooks test-reliability test-browser chromium \
        hub jupyter infra-up infra-down infra-status simulate process api live chaos bench reset clean

help: ## list every target with one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# requirements.lock: the exact versions `make test` last passed with (`make lock` refreshes
# it). Installs use it as constraints, so a class installing on different days gets the
# same versions; LOCK= (empty) installs the newest versions pyproject.toml allows instead.
LOCK ?= requirements.lock

# Two installs from one list (pyproject.toml): the lab's own packages for students (`make lab`,
# `make jupyter`, the services), and those plus the tests' (pytest, the browser driver, linters)
# for `make test`. Each is recorded by a stamp file in the environment.
define install
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=python3.11)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# PYTHONWARNINGS: setuptools' note on editable installs is for package authors, not students.
	@echo "Installing $(2)$(if $(LOCK), at the versions of $(LOCK)) (a few minutes the first time)..."
	@PYTHONWARNINGS=ignore $(PY) -m pip install --quiet $(if $(LOCK),-c $(LOCK)) -e ".[$(1)]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (telemetry-lab)" > /dev/null
	@touch $@
	@echo "Environment ready in $(VENV) with Jupyter kernel '$(KERNEL)'."
endef

$(STAMP): pyproject.toml $(LOCK)
	$(call install,lab,the lab's packages)

$(DEV_STAMP): pyproject.toml $(LOCK)
	$(call install,dev,the lab's packages and the tests')
	@touch $(STAMP)

env: $(STAMP) ## create the virtual environment (the lab's packages) and the Jupyter kernel (done by lab)

doctor: $(STAMP) ## check this machine for the lab (Python, Java, Maven, memory, disk, ports) and say how to fix it
	$(LABKIT) doctor

lab: $(STAMP) doctor ## the main job: check the machine, start services, run every notebook headless, print a table
	$(LABKIT) infra up
	$(LABKIT) lab

# The reliability tier runs meanwhile on a second stack of its own (tests/run_tiers.py).
test: $(DEV_STAMP) lint chromium ## lint, then every test tier; starts the services it needs and stops what it started
	$(PY) -m tests.run_tiers $(PYTEST_ARGS)

test-browser: $(DEV_STAMP) chromium ## the maps and the API's /docs in a real chromium without internet
	$(LABKIT) infra run -- $(PY) -m pytest -m browser $(PYTEST_ARGS)

# The browser tier drives the system's chromium (playwright's own browser download is not
# needed). Installed from Debian when missing and run as root; otherwise say how.
chromium:
	@command -v chromium > /dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null \
	  && echo "Installing chromium for the browser tier (apt-get)..." \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium > /dev/null; } \
	  || { echo "The browser tier needs chromium: sudo apt-get install chromium"; exit 1; }

lint: $(DEV_STAMP) ## ruff over labkit, tests and bench (rules in pyproject.toml)
	$(PY) -m ruff check labkit tests bench

test-unit: $(DEV_STAMP) ## unit tests only (no services)
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

test-integration: $(DEV_STAMP) ## integration tests against the real services
	$(LABKIT) infra run -- $(PY) -m pytest -m integration $(PYTEST_ARGS)

test-notebooks: $(DEV_STAMP) ## nbval and papermill over notebooks/
	$(LABKIT) infra run -- $(PY) -m pytest -m notebook $(PYTEST_ARGS)

test-reliability: $(DEV_STAMP) ## crash, restart and outage tests
	$(LABKIT) infra run -- $(PY) -m pytest -m reliability $(PYTEST_ARGS)

# JupyterLab refuses to run as root without --allow-root (containers and lab machines often are root).
JUPYTER_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

hub: $(STAMP) ## inside a JupyterHub user's server: the kernel for this user, free ports for the services (no second JupyterLab)
	$(LABKIT) hub setup

jupyter: $(STAMP) ## open JupyterLab on the notebooks (services: make infra-up)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(JUPYTER_ROOT)

infra-up: $(STAMP) ## start Kafka and MongoDB (Docker if an engine answers, else local processes; BROKERS=3: a cluster; PROMETHEUS=1: and Prometheus)
	$(LABKIT) infra up $(if $(BROKERS),--brokers $(BROKERS)) $(if $(PROMETHEUS),--prometheus)

infra-down: $(STAMP) ## stop the services (data is kept)
	$(LABKIT) infra down

infra-status: $(STAMP) ## show whether each service runs and answers
	$(LABKIT) infra status

simulate: $(STAMP) ## run the fleet simulator into Kafka in real time (CARS=2 RATE=1; Ctrl+C stops)
	$(LABKIT) simulate --cars $(or $(CARS),2) --rate $(or $(RATE),1)

process: $(STAMP) ## run the stream processor on the live topic (Ctrl+C stops after committing)
	$(LABKIT) process

live: $(STAMP) ## simulator + processor + API (and Grafana with Docker) until Ctrl+C (CARS=10)
	$(LABKIT) live --cars $(or $(CARS),10)

api: $(STAMP) ## serve the Telemetry API on port 8000 (docs at /docs; Ctrl+C stops)
	$(LABKIT) api --host $(or $(HOST),127.0.0.1)

chaos: $(STAMP) ## kill processor, broker and database mid-stream, then count everything (EVENTS=60000)
	$(LABKIT) infra up
	$(LABKIT) chaos --events $(or $(EVENTS),60000)

bench: $(DEV_STAMP) ## run the benchmarks side by side and record the results in bench/results/
	$(LABKIT) infra run -- sh -c "$(PY) bench/bench_producer.py --record && $(PY) bench/bench_processor.py --record \
	  && $(PY) bench/bench_queries.py --cars 100 --seconds 1000 --record \
	  && $(PY) bench/bench_queries.py --cars 1000 --seconds 1000 --memory-server 27018 --record \
	  && $(PY) bench/bench_api.py --record"

lock: ## refresh requirements.lock: the newest allowed versions, kept only if make test passes with them
	rm -rf .venv-lock
	$(MAKE) test VENV=.venv-lock LOCK=
	{ echo "# The versions make test last passed with: written by make lock, installed as pip constraints."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable --all | grep -v -E '^(pip|setuptools|wheel)=='; } > $(LOCK)
	rm -rf .venv-lock
	@echo "$(LOCK) now holds the versions the tests just passed with; commit it."

reset: $(STAMP) ## stop the services and delete their data (a clean lab for the next class)
	$(LABKIT) infra reset
	rm -rf runs

clean: ## remove the virtual environment, built jars and run outputs (keeps service data)
	rm -rf $(VENV) infra/local/target runs .pytest_cache
