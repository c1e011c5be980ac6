# Quick start: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The machines here export CA variables; the tests clear them themselves, and so do we here
# so that pip and the suite see a clean environment.
CLEAN_ENV := env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR

.PHONY: demo test venv tools lint-corpus bench clean

$(BIN)/certdoctor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

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

bench: venv tools
	bash bench/diagnose.sh

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis
