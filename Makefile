# The two commands of the README: `make demo` and `make test`. Both create the project's
# environment (.venv, pinned by requirements.txt) when it is missing or out of date.
VENV ?= .venv
CORES ?= 2
BIN := $(abspath $(VENV))/bin
# `shell:` rules and Snakemake's `script:` jobs run the first python on PATH: make it ours.
export PATH := $(BIN):$(PATH)
# The folder `make demo` runs the workflow in, with its config.yaml (`make demo RUNDIR=DIR`).
RUNDIR := $(CURDIR)

.PHONY: env demo test lint report clean

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check --no-deps -e .
	touch $@

# profiles/local: rerun-incomplete (a killed job's outputs are made again; training resumes from
# its last epoch), one GPU job at a time.
demo: env
	$(BIN)/python -m vplan_core.run_lock $(RUNDIR)  # a killed run's stale lock, never a live one's
	$(BIN)/snakemake --profile $(CURDIR)/profiles/local --cores $(CORES) --directory $(RUNDIR)

report: env
	$(BIN)/snakemake --cores $(CORES) --report results/demo/report.html

test: env
	$(BIN)/snakemake --lint
	$(BIN)/python -m pytest tests

lint: env
	$(BIN)/snakemake --lint

clean:
	rm -rf results resources logs benchmarks .snakemake
