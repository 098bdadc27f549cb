# rlv: two commands do everything. `make demo` sets up and runs a short SAC-vs-RLV comparison;
# `make test` sets up and runs the default test suite (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
DEMO_STEPS ?= 15000
LEROBOT_VENV ?= .venv-lerobot

.PHONY: setup system-deps demo test test-slow test-lerobot lerobot-env lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,tensorboard,metaworld,sweep]"
	touch $@

# MuJoCo renders offscreen on the CPU through OSMesa (Mesa's llvmpipe): Debian's libosmesa6.
system-deps:
	@ldconfig -p | grep -q libOSMesa || { \
		if ! command -v apt-get > /dev/null; then \
			echo "warning: no apt-get; install OSMesa yourself for the push and drawer-open tasks"; exit 0; fi; \
		echo "installing libosmesa6 (MuJoCo CPU rendering)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libosmesa6 > /dev/null; }

setup: system-deps $(BIN)/.installed

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

# LeRobot's own writer for the converter tests, in a venv of its own (tests/lerobot_env.py says why).
lerobot-env:
	$(PYTHON) tests/lerobot_env.py --venv $(LEROBOT_VENV)

test-lerobot: setup lerobot-env
	RLV_REQUIRE_LEROBOT=1 RLV_LEROBOT_VENV=$(LEROBOT_VENV) $(BIN)/python -m pytest -q tests/test_lerobot_library.py

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

demo: setup
	$(BIN)/python benchmarks/demo.py --out $(DEMO_DIR) --steps $(DEMO_STEPS)

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/throughput.py --no-vector --images --image-updates 30
	$(BIN)/python benchmarks/acrobot_sample_efficiency.py

clean:
	rm -rf $(VENV) $(LEROBOT_VENV) $(DEMO_DIR)
