# Set-up is part of every target: a local virtual environment is created or
# reused, the project is installed into it (torch pinned by constraints.txt),
# and the OS simulators are installed when missing and permitted.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bitforge-installed
OUT ?= out/demo

.PHONY: setup tools test demo clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) tools

tools:
	@bash scripts/ensure-tools.sh

test: setup
	$(PY) -m pytest

demo: setup
	$(VENV)/bin/bitforge demo --out $(OUT)

clean:
	rm -rf .bitforge-build out
