# Quick start: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The machines here export CA variables; the tests clear them themselves, and so do we here
# so that pip and the suite see a clean environment.
CLEAN_ENV := env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR

.PHONY: demo test venv tools lint-corpus bench bytecode clean

$(BIN)/certdoctor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m compileall -q src >/dev/null
	touch $@

# The package's bytecode, as a pip install of a wheel writes it. The machines here set
# PYTHONDONTWRITEBYTECODE: it stops Python from *writing* .pyc files, not from reading them, so
# an editable src/ compiled once here starts from src/**/__pycache__ on every run (without it
# every command recompiles each module it imports: ~1.2x the CPU). A source edited since is
# detected by its mtime and compiled in memory again until the next `make bytecode`.
bytecode: venv
	$(BIN)/python -m compileall -q src >/dev/null

venv: $(BIN)/certdoctor

tools:
	./scripts/ensure-tools.sh

demo: venv tools
	$(CLEAN_ENV) $(BIN)/python -m certdoctor.lab.demo

test: venv tools lint-corpus
	$(CLEAN_ENV) $(BIN)/python -m pytest -q -p no:cacheprovider

# the pinned wheels the lint is measured on (tests/data/lint_corpus/MANIFEST.json), into .cache/
lint-corpus: venv
	$(CLEAN_ENV) $(BIN)/python scripts/fetch-lint-corpus.py

bench: venv tools bytecode
	bash bench/diagnose.sh

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis
	find src -name __pycache__ -type d -prune -exec rm -rf {} +
