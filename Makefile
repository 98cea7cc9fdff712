# The two set-up commands of the README: `make run` and `make test`.
# Both create .venv from requirements.txt on first use (and again when
# requirements.txt changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test stateful lint bench installer clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py

test: $(STAMP)
	tools/ensure_postgresql.sh
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# The stateful window test (issue 13) at length: many random user sessions where `make test`
# runs a few fixed ones; a failure prints the shortest sequence of user steps that breaks it.
# Takes about 8 s per example: make stateful STATEFUL_EXAMPLES=50 for a shorter run.
STATEFUL_EXAMPLES ?= 200
STATEFUL_STEPS ?= 40
stateful: $(STAMP)
	EMBRYOGRADE_STATEFUL_EXAMPLES=$(STATEFUL_EXAMPLES) EMBRYOGRADE_STATEFUL_STEPS=$(STATEFUL_STEPS) \
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider tests/gui/test_stateful_window.py

lint: $(STAMP)
	$(PY) -m ruff check .

# The foundation's two speed claims; the other benches (bench/*.py) are run one by one.
bench: $(STAMP)
	$(PY) bench/model_latency.py
	$(PY) bench/synth_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist

# The Linux one-folder bundle dist/EmbryoGrade/ and its --self-test (installers/README.md).
# Before resources/models/default.pt exists: make installer INSTALLER_ARGS="--self-test-model CKPT"
installer: $(STAMP)
	PYTHON=$(PY) installers/build_linux.sh $(INSTALLER_ARGS)
