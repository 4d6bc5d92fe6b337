# rectify: `make demo` (the main job) and `make test` (every test). Both set up everything
# on a fresh machine: .venv with the pinned wheels, then the release build of librectify.so.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Release matrices: one cached venv per release under $(RECTIFY_CACHE)/venvs (default
# ~/.cache/rectify/venvs), made by tests/matrix/matrix.py when missing or out of date.
MATRIX := $(PYTHON) tests/matrix/matrix.py
# The onnxruntime wheel's own library, loaded by the Rust harness (ort load-dynamic).
ORT_LIB = $(firstword $(wildcard $(CURDIR)/$(VENV)/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*))
RUN = ORT_DYLIB_PATH="$${ORT_DYLIB_PATH:-$(ORT_LIB)}"

.PHONY: all venv build build-faults cli package demo bench fuzz asan test test-rust test-python test-matrix-ort test-matrix-tf lint check-models models clean

all: build

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# librectify.so (ONNX Runtime, C) and librectify_tf.so (TensorFlow).
build:
	cargo build --release -p rectify -p rectify-tf

# Test-only library whose sentinel attributes panic inside callbacks (tests/python/test_panics.py).
build-faults:
	cargo build --release -p rectify --features fault-injection --target-dir target/fault-injection

# The `rectify` CLI (debug profile: it shares the tract build with the tests).
CLI := target/debug/rectify
LIB := target/release/librectify.so

cli:
	cargo build -p rectify-cli

# The CLI on every model in models/, then a convert round trip on the CNN, verified.
demo: venv build cli
	@echo '$$ rectify info' && $(RUN) $(CLI) info --library $(LIB) && echo
	@echo '$$ rectify verify --brief models/*.onnx' && $(RUN) $(CLI) verify --brief --library $(LIB) models/*.onnx && echo
	@echo '$$ rectify convert --to builtin models/cnn.onnx target/cnn.builtin.onnx' && \
	  $(RUN) $(CLI) convert --to builtin models/cnn.onnx target/cnn.builtin.onnx && echo
	@echo '$$ rectify convert --to rectify target/cnn.builtin.onnx target/cnn.rectify.onnx' && \
	  $(RUN) $(CLI) convert --to rectify target/cnn.builtin.onnx target/cnn.rectify.onnx && echo
	@echo '$$ rectify verify target/cnn.rectify.onnx' && $(RUN) $(CLI) verify --library $(LIB) target/cnn.rectify.onnx

test: venv build cli lint check-models test-rust test-python test-matrix-ort

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --features rectify/tract -- -D warnings
	cargo clippy --all-targets --features fault-injection -- -D warnings

test-rust: venv build package
	$(RUN) cargo test --workspace --features rectify/tract --lib --bins --tests --examples

# The Python package, installed into .venv the way users install it (it bundles both libraries).
package: venv
	$(PY) -m pip install --quiet --disable-pip-version-check .

test-python: venv build build-faults package
	$(PY) -m pytest -q tests/python
	$(PY) -m pytest -q tests/tf

# The same librectify.so against every ONNX Runtime release from 1.16 on
# (tests/matrix/ort-releases.txt): the pytest suites on each, two releases at a time, and
# the CLI where the wheel ships libonnxruntime.so.
test-matrix-ort: build build-faults cli
	$(MATRIX) ort

# librectify_tf.so and rectify.tf against every TensorFlow release from 2.16 on
# (tests/matrix/tf-releases.txt). Not part of `make test`: each wheel is about 600 MB.
test-matrix-tf: build
	$(MATRIX) tf

# The committed models must be exactly what the generator writes.
check-models: venv
	@tmp=$$(mktemp -d) && $(PY) models/generate.py --out $$tmp >/dev/null && \
	  diff -r --exclude=generate.py --exclude=__pycache__ models $$tmp && rm -rf $$tmp && \
	  echo "models/ matches models/generate.py"

models: venv
	$(PY) models/generate.py

# Model-level and kernel benchmarks; ort_chains writes docs/BENCHMARKS.md and docs/benchmarks.svg.
bench: venv build
	$(RUN) cargo bench --bench ort_chains -- --write
	cargo bench --bench kernels

# Long checks, not part of `make test` (see docs/RELIABILITY.md). They use nightly-only
# flags through RUSTC_BOOTSTRAP=1 on the stable toolchain.
FUZZ_SECONDS ?= 600
ASAN_TARGET := x86_64-unknown-linux-gnu
ASAN_FLAGS := -Zsanitizer=address -Clink-arg=-Wl,--export-dynamic

fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in slope_plan kernels; do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$t -- -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 || exit 1; done

# The Rust tests under AddressSanitizer, with an instrumented librectify.so loaded into
# ONNX Runtime (libstdc++ preloaded so ASan can intercept C++ exceptions thrown by ORT).
# The C host tests are skipped: a plain C program cannot link the instrumented library (it
# runs under valgrind's memcheck in `make test` instead).
asan: venv
	RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(ASAN_FLAGS)" cargo build --lib --target $(ASAN_TARGET) --target-dir target/asan
	$(RUN) RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(ASAN_FLAGS)" LD_PRELOAD=$$(gcc -print-file-name=libstdc++.so.6) \
	  RECTIFY_LIBRARY=$(CURDIR)/target/asan/$(ASAN_TARGET)/debug/librectify.so \
	  ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=1 \
	  cargo test --target $(ASAN_TARGET) --target-dir target/asan --lib --tests -- \
	  --skip c_host_runs_every_kernel --skip readme_c_snippet

clean:
	cargo clean
	rm -rf $(VENV)
