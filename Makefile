# Two set-up commands for a fresh machine: `make demo` (the main job on synthetic data) and `make test`; `make docs` builds the docs site.
# On a machine without an NVIDIA GPU, `make demo TORCH=cpu` installs PyTorch's CPU-only build first (about
# 0.2 GB instead of the CUDA build's 3+ GB of nvidia/ libraries); pip then keeps it for fercomp's `torch`.
# `make check` is the developer's fast loop: every test that starts no hand-in jail, no system packages installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fercomp-installed
TORCH ?=
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
ifeq ($(TORCH),cpu)
TORCH_FIRST := $(BIN)/python -m pip install --quiet torch torchvision --index-url $(TORCH_CPU_INDEX)
else ifeq ($(TORCH),)
TORCH_FIRST :=
else
$(error TORCH=$(TORCH): expected TORCH=cpu (PyTorch's CPU-only wheels) or nothing (PyPI's default build))
endif
# Test files run in parallel (pytest-xdist), one worker a core: most of the suite's time is jails, each busy on one
# core. At most 4: every worker holds a hand-in's jails (up to ~2.5 GB each in the hostile corpus) at a time. Whole
# files go to one worker (--dist loadfile): a module's shared set-up (a scored arena, a Slurm cluster) runs once,
# and the hostile corpus, whose cases check host-wide traces (a process that outlived its jail, the kernel log's
# rate limit), runs its cases one after another as before. The longest files go first (tests/conftest.py
# LONGEST_FIRST; --no-loadscope-reorder keeps that order), so no worker is left alone with a long file at the end.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder

.PHONY: demo test check docs bench clean browser jail slurm

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(TORCH_FIRST)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) jail
	$(BIN)/fercomp demo

test: $(STAMP) browser jail slurm
	$(PYTEST)

# The modules marked `jail` are left out (tests/conftest.py fails any unmarked test that starts a hand-in's process).
check: $(STAMP)
	$(PYTEST) -m "not jail"

# The reference pages are generated from the code (tests/test_docs.py fails when they are stale), then the site is
# built offline into site/ with every link checked.
docs: $(STAMP)
	$(BIN)/python -m fercomp.cli.reference docs/reference
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

# The jail runs hand-ins as nobody, who must be able to pass through every folder on the way to Python (a
# pyenv under /root, mode 0700, blocks it). As root, let it pass (o+x: enter, not list); else fercomp says why.
jail: $(STAMP)
	@[ "$$(id -u)" != 0 ] || for d in $$($(BIN)/python -c 'from fercomp.submission import jail; print(" ".join(jail.untraversable(jail.library_roots(), jail.NOBODY)))'); do \
	  echo "note: chmod o+x $$d so the jail's user can reach the Python environment"; chmod o+x "$$d"; done

# The HTML leaderboard is checked in a real headless browser; install Debian's chromium when we can.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "note: no chromium; the browser test will be skipped (CI fails instead)"; }

# The course's Slurm scripts are tested on a real one-node Slurm (tests/test_slurm_cluster.py starts its daemons
# itself); install Debian's slurm-wlm and munge when we can.
slurm:
	@{ command -v slurmctld && command -v munged; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null) || \
	  echo "note: no slurm-wlm; the real-Slurm test will be skipped (CI fails instead)"; }

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data_load.py
	$(BIN)/python benchmarks/bench_score.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_repeatability.py
	$(BIN)/python benchmarks/bench_stats.py
	$(BIN)/python benchmarks/bench_cohort.py
	$(BIN)/python benchmarks/bench_export.py
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_memory.py
# Longer or special: bench_train_fidelity.py (~10 min), bench_first_epoch.py, bench_gradescope.py (root, cgroups).

clean:
	rm -rf $(VENV) reports/demo site
