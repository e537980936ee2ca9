# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tests read the data from MINIGRAD_DATA; default to the team's shared copy.
ifeq ($(MINIGRAD_DATA),)
MINIGRAD_DATA := $(abspath $(wildcard ../shared/data))
endif
export MINIGRAD_DATA
PYTEST_ARGS ?=

.PHONY: all venv build test test-slow demo bench doctor clean asan-test

all: build

# The venv with run-time and test dependencies (torch is the test oracle only).
$(STAMP): setup.py pyproject.toml requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip setuptools wheel cffi
	$(BIN)/pip install -q --disable-pip-version-check numpy numba tqdm matplotlib
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

venv: $(STAMP)

# Compiles csrc/ into minigrad/_C*.so in place (cffi API mode, flags probed).
build: $(STAMP) minigrad/.built

minigrad/.built: $(STAMP) $(wildcard csrc/*.c csrc/*.h csrc/*.py) setup.py
	$(BIN)/pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
	$(BIN)/python setup.py -q build_ext --inplace
	$(BIN)/python -c "import minigrad._C as c; print('minigrad._C:', c.ffi.string(c.lib.mg_build_info()).decode())"
	touch $@

test: build
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-slow: build
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

demo: build
	$(BIN)/python examples/demo.py

bench: build
	$(BIN)/python -m benchmarks.kernels

# C kernels under AddressSanitizer/UBSan, built in a separate copy of HEAD (/tmp/mg-asan).
asan-test: $(STAMP)
	tools/asan_test.sh -q $(PYTEST_ARGS)

doctor: build
	$(BIN)/python -m minigrad doctor

clean:
	rm -rf build minigrad/_C*.so minigrad/_C.c minigrad/.built *.egg-info
