# Two commands on a fresh clone: `make run` and `make test`. Both set up .venv first:
# `make run` installs only what the app and wsdump need, `make test` adds the rest.
#
# The Python that builds .venv; pick another with `make run PY=python3.12`.
# .venv is rebuilt whenever that Python's version changes.
PY ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
# The finished app: the highest stage folder there is.
STEP ?= $(patsubst %/__main__.py,%,$(lastword $(sort $(wildcard step*/__main__.py))))
# Extra options for the server, e.g. make run ARGS="--port 8081".
ARGS ?=

# The oldest Pythons that work: 3.10 runs the stages, 3.11 runs the tests and tools.
# PY_INFO is e.g. "3.12.1 True True True": the version, whether it is new enough for
# each, and whether its own pip can install into .venv (pip 22.3 or newer can).
PY_INFO := $(shell $(PY) -c 'import sys; v = sys.version_info; \
	print("%d.%d.%d" % v[:3], v >= (3, 10), v >= (3, 11), end=" "); \
	import pip; print(tuple(map(int, pip.__version__.split(".")[:2])) >= (22, 3))' \
	2>/dev/null)
PY_VERSION := $(word 1,$(PY_INFO))
NEWER_PYTHON = $(if $(PY_VERSION),$(PY) is Python $(PY_VERSION),$(PY) was not found). \
	robot-dates needs Python $(1) or newer for this. Get one from \
	https://www.python.org/downloads/ (see "Setting up by hand" in README.md), \
	then: make $(firstword $(MAKECMDGOALS) run) PY=python3.12

# Stamps inside .venv say what is installed, and for which Python.
VENV_MADE := $(VENV)/.made-by-python-$(PY_VERSION)
RUN_INSTALLED := $(VENV)/.run-installed-$(PY_VERSION)
CHECK_INSTALLED := $(VENV)/.check-installed-$(PY_VERSION)
DEV_INSTALLED := $(VENV)/.dev-installed-$(PY_VERSION)
# With PY's own pip, .venv needs no copy of pip: that saves `make run` about 4 s.
OUTER_PIP := $(filter True,$(word 4,$(PY_INFO)))
PIP_INSTALL := $(if $(OUTER_PIP),$(PY) -m pip --python $(PYTHON),$(PYTHON) -m pip) \
	install --quiet --disable-pip-version-check

.PHONY: install install-dev python-runs python-tests run test matrix lint clean \
	screenshot check bench bench-instructions diff carry

python-runs:
	$(if $(filter True,$(word 2,$(PY_INFO))),,$(error $(call NEWER_PYTHON,3.10)))

python-tests:
	$(if $(filter True,$(word 3,$(PY_INFO))),,$(error $(call NEWER_PYTHON,3.11)))

$(VENV_MADE): | python-runs
	rm -rf $(VENV)
	$(PY) -m venv $(if $(OUTER_PIP),--without-pip) $(VENV) || { rm -rf $(VENV); exit 1; }
	touch $@

$(RUN_INSTALLED): requirements.txt constraints.txt | $(VENV_MADE)
	@echo "Installing aiohttp, wsdump and redis into $(VENV) (16 MB, about 10 s)..."
	$(PIP_INSTALL) --no-compile -r requirements.txt  # bytecode later, as imported
	touch $@

$(CHECK_INSTALLED): requirements-check.txt $(RUN_INSTALLED)
	@echo "Installing pytest for the stage tests (about 5 s)..."
	$(PIP_INSTALL) -r requirements-check.txt
	touch $@

$(DEV_INSTALLED): requirements-dev.txt $(CHECK_INSTALLED) | python-tests
	@echo "Installing the test tools, linters and benchmark into $(VENV): about 500 MB,"
	@echo "one to three minutes the first time (a browser driver, a plotting library)..."
	$(PIP_INSTALL) -r requirements-dev.txt
	$(PYTHON) -m compileall -q $(VENV)/lib  # the tests start many servers: compile once
	touch $@

install: $(RUN_INSTALLED)

install-dev: python-tests $(DEV_INSTALLED)

run: install
	$(PYTHON) -m $(STEP) $(ARGS)

# The whole suite on several workers: most tests wait on real servers, not the CPU.
TEST_WORKERS ?= 4
test: install-dev
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadgroup

# The whole suite on every supported Python this machine has, each in a fresh
# environment (what CI runs; the sessions are defined in noxfile.py).
matrix: install-dev
	$(PYTHON) -m nox

# mypy checks what pyproject.toml lists, then the stages once more as Python 3.10,
# the oldest they run on.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --python-version 3.10 $(patsubst %/__main__.py,%,$(wildcard step*/__main__.py))

clean:
	rm -rf $(VENV) .nox .pytest_cache .ruff_cache .mypy_cache .hypothesis

# Retake the pictures of the web page (needs Chromium).
screenshot: install-dev
	$(PYTHON) -m docs.screenshot

# Run a stage's tests against your own copy of it:
#   make check STEP=step2_loop SRC=path/to/my_step2
check: $(CHECK_INSTALLED)
	@# STEP must be named: its default, the newest stage, is rarely the one you copied
	@test -n "$(SRC)" -a "$(origin STEP)" != file || { echo 'usage: make check STEP=step2_loop SRC=path/to/your/copy'; exit 2; }
	$(PYTHON) -m tests.check $(STEP) "$(SRC)"

# What a stage adds to the one before it, with no bytecode in the way:
#   make diff STEP=step3_robots
STAGES := $(patsubst %/__main__.py,%,$(sort $(wildcard step*/__main__.py)))
diff:
	@test -n "$(filter $(STEP),$(wordlist 2,99,$(STAGES)))" -a "$(origin STEP)" != file || \
		{ echo 'usage: make diff STEP=step3_robots (any stage but the first)'; exit 2; }
	@previous=$$(printf '%s\n' $(STAGES) | grep -B1 -x '$(STEP)' | head -n 1); \
		diff -ruN -x __pycache__ "$$previous" $(STEP) || test $$? = 1

# After changing a file that later stages copy, carry the change forward:
#   make carry FILE=step3_robots/robots.py
carry:
	@test -n "$(FILE)" || { echo 'usage: make carry FILE=step3_robots/robots.py'; exit 2; }
	$(PY) -m scripts.carry $(FILE)

# Every server under the same load, side by side; then the party's fan-out beside
# a peer on websockets' broadcast(), on one process and on two sharing Redis; and
# a chart of both in bench-results/bench.png (git ignores it). About six minutes
# on two cores. The book's chart is redrawn only when asked:
#   make bench CHART=docs/bench.png
bench: install-dev
	$(PYTHON) -m bench.run $(if $(CHART),--chart "$(CHART)")

# CPU instructions per message, under valgrind: steady on a noisy machine. The
# finished stage's bounds: an echo's count over its count 0.80 or more, a 4 KB
# message 3 short ones at most (about three minutes).
bench-instructions: install-dev
	$(PYTHON) -m bench.instructions
