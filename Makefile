# Two commands on a fresh clone: `make run` and `make test`. Both set up .venv first.
VENV := .venv
PYTHON := $(VENV)/bin/python
# The finished app: the highest stage folder there is.
STEP ?= $(patsubst %/__main__.py,%,$(lastword $(sort $(wildcard step*/__main__.py))))
# Extra options for the server, e.g. make run ARGS="--port 8081".
ARGS ?=

.PHONY: install run test lint clean screenshot check bench bench-instructions

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: install
	$(PYTHON) -m $(STEP) $(ARGS)

test: install
	$(PYTHON) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# Retake the README's pictures of the web page (needs Chromium).
screenshot: install
	$(PYTHON) -m docs.screenshot

# Run a stage's tests against your own copy of it:
#   make check STEP=step2_loop SRC=path/to/my_step2
check: install
	@test -n "$(SRC)" || { echo 'usage: make check STEP=step2_loop SRC=path/to/your/copy'; exit 2; }
	$(PYTHON) -m tests.check $(STEP) "$(SRC)"

# Stage 2 and stage 3 under the same load, side by side (about a minute).
bench: install
	$(PYTHON) -m bench.run

# The same comparison in CPU instructions per message: steady on a noisy machine.
bench-instructions: install
	$(PYTHON) -m bench.instructions
