# tickdesk: `make run` opens the TUI on the simulated market; `make test` runs the suite.
# Both create .venv and install what is missing first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_VERSION := 2.13.0

.PHONY: run test install bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# Install the CPU torch wheel first when none is present, so the torch>=2.4 requirement
	# never pulls the multi-GB CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q -e ".[test,ray]"  # ray: the evaluate --ray test runs in CI
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/tickdesk

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/tickdesk bench models
	$(VENV)/bin/tickdesk bench state
	$(VENV)/bin/tickdesk bench replay

clean:
	rm -rf $(VENV) build *.egg-info
