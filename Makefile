# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEBS := docker.io docker-registry skopeo umoci runc busybox-static debootstrap bzip2 xz-utils zstd openssl slirp4netns apache2-utils rpm ruby libmaven3-core-java golang-go golang-github-coreos-bbolt-dev nodejs chromium tmux openssh-server qemu-user-static binfmt-support
PYTEST_ARGS ?=

.PHONY: install compile deps test demo lint bench clean

$(BIN)/lamina: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/lamina

# Byte-compile lamina's own sources: start-up stays fast even where PYTHONDONTWRITEBYTECODE is set.
compile: $(BIN)/lamina
	@$(BIN)/python -m compileall -q src >/dev/null

install: $(BIN)/lamina compile

# Debian packages the tests use as real peers (only when root and missing). apt waits up to ten
# minutes for another apt/dpkg to let go of its lock instead of failing.
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing >/dev/null; \
	  else echo "not root: tests needing$$missing will report what is missing"; fi; \
	fi

test: deps install
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

demo: deps install
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo-tutorial.sh

lint: install
	$(BIN)/ruff check src tests

bench: install
	$(BIN)/python bench/store_bench.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
