# `make bench`: cold start, round trips, warm time, consumer reads, size and
# memory, each beside a baseline from the same run. Not part of `make test`.
# Included by the main Makefile, which defines PYTHON313, VENV, PY and STAMP.
# Recipes run under /bin/sh.

BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: bench clean-bench

# Lambda-like: the function's requirements and the runtime's boto3, nothing else.
$(BENCH_STAMP): requirements-bench.txt functions/token_refresher/requirements.txt constraints.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 is needed: see README" >&2; exit 1; }
	@# Quiet on stdout, which carries only the table.
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON313) -m venv $(BENCH_VENV) >&2
	@$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r requirements-bench.txt -c constraints.txt >&2
	@touch $@

# sam build (for the sizes) needs python3.13 on PATH: the dev venv provides it.
bench: $(STAMP) $(BENCH_STAMP) ## benchmarks beside their baselines (a few minutes)
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m scripts.bench \
		--bench-python $(BENCH_VENV)/bin/python

clean: clean-bench

clean-bench:
	rm -rf $(BENCH_VENV)
