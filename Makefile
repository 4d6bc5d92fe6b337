# rectify: `make demo` (the main job) and `make test` (every test). Both set up everything
# on a fresh machine: .venv with the pinned wheels, then the release build of librectify.so.
# `make wheel` writes the prebuilt wheel, `make install` the C/C++ package.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Release matrices: one cached venv per release under $(RECTIFY_CACHE)/venvs (default
# ~/.cache/rectify/venvs), made by tests/matrix/matrix.py when missing or out of date.
MATRIX := $(PYTHON) tests/matrix/matrix.py
RECTIFY_CACHE ?= $(HOME)/.cache/rectify
export RECTIFY_CACHE
# The onnxruntime wheel's own library, loaded by the Rust harness (ort load-dynamic).
ORT_LIB = $(firstword $(wildcard $(CURDIR)/$(VENV)/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*))
RUN = ORT_DYLIB_PATH="$${ORT_DYLIB_PATH:-$(ORT_LIB)}"

# A venv cached under $(RECTIFY_CACHE)/venvs, made from a requirements file and made again
# when the file's contents change (not its date: a fresh clone dates every file now).
# $(call cached_venv,VENV,REQUIREMENTS)
define cached_venv
	@if ! cmp -s $(2) $(1)/.installed; then \
	  echo "making $(1) from $(2)" && rm -rf $(1) && $(PYTHON) -m venv $(1) && \
	  $(1)/bin/pip install --quiet --disable-pip-version-check -r $(2) && cp $(2) $(1)/.installed; \
	fi
endef

.PHONY: all venv venv-test build build-faults cli spec package wheel install demo bench bench-tf bench-peers venv-serving venv-tf2onnx venv-torch venv-peers fixtures models-real fuzz asan test test-rust test-python test-exporters test-package test-serving test-matrix-ort test-matrix-tf lint check-models models clean

all: build

# .venv: what the demo needs (requirements.txt); the tests add requirements-test.txt.
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

# librectify.so (ONNX Runtime, C) and librectify_tf.so (TensorFlow).
build:
	cargo build --release -p rectify
	cargo build --release -p rectify-tf

# Test-only library whose sentinel attributes panic inside callbacks (tests/python/test_panics.py).
build-faults:
	cargo build --release -p rectify --features fault-injection --target-dir target/fault-injection

# The `rectify` CLI (debug profile: it shares the tract build with the tests).
CLI := target/debug/rectify
LIB := target/release/librectify.so

cli:
	cargo build -p rectify-cli

# python/rectify/spec.json: the registry as `rectify info --json` prints it (a test fails when
# it is stale).
spec: cli
	$(CLI) info --json > python/rectify/spec.json

# The CLI on every model in models/, then a convert round trip on the CNN, verified.
demo: venv build cli
	@echo '$$ rectify info' && $(RUN) $(CLI) info --library $(LIB) && echo
	@echo '$$ rectify verify --brief models/*.onnx' && $(RUN) $(CLI) verify --brief --library $(LIB) models/*.onnx && echo
	@echo '$$ rectify convert --to builtin models/cnn.onnx target/cnn.builtin.onnx' && \
	  $(RUN) $(CLI) convert --to builtin models/cnn.onnx target/cnn.builtin.onnx && echo
	@echo '$$ rectify convert --to rectify target/cnn.builtin.onnx target/cnn.rectify.onnx' && \
	  $(RUN) $(CLI) convert --to rectify target/cnn.builtin.onnx target/cnn.rectify.onnx && echo
	@echo '$$ rectify verify target/cnn.rectify.onnx' && $(RUN) $(CLI) verify --library $(LIB) target/cnn.rectify.onnx

test: venv-test build cli lint check-models test-rust test-python test-exporters test-package test-serving test-matrix-ort

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --all-targets --features fault-injection -- -D warnings
	cargo clippy -p rectify-tf --all-targets -- -D warnings

test-rust: venv-test build package
	$(RUN) cargo test --workspace --lib --bins --tests --examples

# The prebuilt wheel (dist/rectify-VERSION-py3-none-manylinux_2_17_x86_64.whl) and the sdist
# it is built from: `python -m build` makes the sdist, then the wheel from it (setup.py:
# cargo-zigbuild, glibc 2.17). auditwheel must place it at manylinux_2_17.
WHEEL_TAG := py3-none-manylinux_2_17_x86_64
wheel: venv-test
	rm -rf dist
	CARGO_TARGET_DIR=$(CURDIR)/target $(PY) -m build --outdir dist . >/dev/null
	$(PY) -m auditwheel show dist/rectify-*-$(WHEEL_TAG).whl | tr '\n' ' ' | \
	  grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"' || \
	  { $(PY) -m auditwheel show dist/*.whl; exit 1; }
	@ls dist

# The Python package, installed into .venv from the wheel users get (both libraries inside).
package: wheel
	$(PY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps dist/rectify-*.whl

# The C/C++ package: librectify.so.VERSION (soname librectify.so.ABI, see build.rs),
# include/rectify.h, pkg-config's rectify.pc and CMake's rectify::rectify target.
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ABI := $(if $(filter 0.%,$(VERSION)),$(word 1,$(subst ., ,$(VERSION))).$(word 2,$(subst ., ,$(VERSION))),$(word 1,$(subst ., ,$(VERSION))))
LIBDIR := $(DESTDIR)$(PREFIX)/lib
install: build
	install -d $(LIBDIR)/pkgconfig $(LIBDIR)/cmake/rectify $(DESTDIR)$(PREFIX)/include
	install -m 755 target/release/librectify.so $(LIBDIR)/librectify.so.$(VERSION)
	ln -sf librectify.so.$(VERSION) $(LIBDIR)/librectify.so.$(ABI)
	ln -sf librectify.so.$(ABI) $(LIBDIR)/librectify.so
	install -m 644 ffi/rectify.h $(DESTDIR)$(PREFIX)/include/rectify.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' ffi/pkgconfig/rectify.pc.in > $(LIBDIR)/pkgconfig/rectify.pc
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ABI@|$(ABI)|' ffi/cmake/rectifyConfig.cmake.in > $(LIBDIR)/cmake/rectify/rectifyConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|' ffi/cmake/rectifyConfigVersion.cmake.in > $(LIBDIR)/cmake/rectify/rectifyConfigVersion.cmake

test-python: venv-test build build-faults package cli
	$(PY) -m pytest -q tests/python
	$(PY) -m pytest -q tests/tf
	$(PY) -m pytest -q tests/cli

# The wheel in fresh venvs with no cargo on PATH (ONNX Runtime 1.16.3 and 1.32.0), and the
# C/C++ package installed into a temporary DESTDIR, built against with CMake and pkg-config.
test-package: venv-test build package
	$(PY) -m pytest -q tests/package

# examples/serving under load: Ray Serve, 2 replicas with the wheel's library, one killed
# mid-run (its venv cached under $(RECTIFY_CACHE)/venvs/serving).
SERVE_VENV := $(RECTIFY_CACHE)/venvs/serving
venv-serving:
	$(call cached_venv,$(SERVE_VENV),examples/serving/requirements.txt)

test-serving: venv-serving package
	$(SERVE_VENV)/bin/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps dist/rectify-*.whl
	$(SERVE_VENV)/bin/python tests/serving/run.py

# The same librectify.so against every ONNX Runtime release from 1.16 on
# (tests/matrix/ort-releases.txt): the pytest suites on each, two releases at a time, and
# the CLI where the wheel ships libonnxruntime.so.
test-matrix-ort: build build-faults cli
	$(MATRIX) ort

# librectify_tf.so and rectify.tf against every TensorFlow release from 2.16 on
# (tests/matrix/tf-releases.txt). Not part of `make test`: each wheel is about 600 MB.
test-matrix-tf: build wheel
	$(MATRIX) tf

# The committed models must be exactly what the generator writes.
check-models: venv
	@tmp=$$(mktemp -d) && $(PY) models/generate.py --out $$tmp >/dev/null && \
	  diff -r --exclude=generate.py --exclude=__pycache__ --exclude=real models $$tmp && rm -rf $$tmp && \
	  echo "models/ matches models/generate.py"

models: venv
	$(PY) models/generate.py

# tests/fixtures: models exported by tf2onnx (Keras 3, TensorFlow) and by PyTorch's exporters,
# with the frameworks' outputs (committed; each exporter's venv cached under
# $(RECTIFY_CACHE)/venvs).
TF2ONNX_VENV := $(RECTIFY_CACHE)/venvs/tf2onnx
venv-tf2onnx:
	$(call cached_venv,$(TF2ONNX_VENV),tests/fixtures/requirements-tf2onnx.txt)

TORCH_VENV := $(RECTIFY_CACHE)/venvs/torch
venv-torch:
	$(call cached_venv,$(TORCH_VENV),tests/fixtures/requirements-torch.txt)

# models/real: MTCNN's P/R/O-Net with facenet-pytorch's trained weights, exported by PyTorch,
# and their rectify form (committed; their tests in tests/cli need no torch).
models-real: venv-torch cli
	$(TORCH_VENV)/bin/python models/real/export_mtcnn.py
	for n in pnet rnet onet; do $(CLI) convert --to rectify --all --force models/real/$$n.onnx models/real/$$n.rectify.onnx || exit 1; done

# Peers on the same models, side by side in one run (benches/peers.py): ONNX Runtime built-in
# and + rectify, OpenVINO, PyTorch eager, tract built-in and + rectify's tract host.
PEERS_VENV := $(RECTIFY_CACHE)/venvs/peers
venv-peers:
	$(call cached_venv,$(PEERS_VENV),benches/requirements-peers.txt)

bench-peers: venv-peers build
	cargo build --release -p rectify-tract --example time_model
	PYTHONPATH=python $(PEERS_VENV)/bin/python benches/peers.py --write

# rectify.torch and rectify.tf2onnx through the exporters themselves, each in its cached venv
# (PyTorch + onnxscript; TensorFlow + tf2onnx), with this checkout's package and libraries.
test-exporters: venv-torch venv-tf2onnx build cli
	PYTHONPATH=python $(TORCH_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/torch
	PYTHONPATH=python $(TF2ONNX_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/tf2onnx

fixtures: venv-tf2onnx venv-torch
	$(TF2ONNX_VENV)/bin/python tests/fixtures/export_tf2onnx.py
	$(TORCH_VENV)/bin/python tests/fixtures/export_torch.py

# Model-level and kernel benchmarks; ort_chains writes docs/BENCHMARKS.md and docs/benchmarks.svg.
bench: venv-test build
	$(RUN) cargo bench --bench ort_chains -- --write
	cargo bench --bench kernels

# rectify.tf against TensorFlow's own ops (forward and gradients, float32 and float16), with
# the freshly built librectify_tf.so (docs/BENCHMARKS.md, "TensorFlow").
bench-tf: venv-test build
	PYTHONPATH=$(CURDIR)/python $(PY) benches/tf_ops.py --write

# Long checks, not part of `make test` (see docs/RELIABILITY.md). They use nightly-only
# flags through RUSTC_BOOTSTRAP=1 on the stable toolchain.
FUZZ_SECONDS ?= 600
ASAN_TARGET := x86_64-unknown-linux-gnu
ASAN_FLAGS := -Zsanitizer=address -Clink-arg=-Wl,--export-dynamic

# The convert target starts from every committed model (fuzz/corpus/convert is its own).
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	mkdir -p fuzz/corpus/convert && cp models/*.onnx tests/fixtures/tf2onnx/*.onnx fuzz/corpus/convert/
	cd fuzz && for t in slope_plan kernels convert; do \
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
	  --skip c_host_runs_every_kernel --skip c_example_compiles

clean:
	cargo clean
	rm -rf $(VENV) dist build
