# Load + fault injection: included by the Makefile (`include stress.mk`).
# Uses PY, VENV and the setup target from the Makefile.

STRESS_ARGS ?=

.PHONY: stress stress-short test-stress

stress: setup ## calibrated load for minutes + every fault under it; stress/results/stress.{json,md}
	$(PY) -m stress $(STRESS_ARGS)

stress-short: setup ## the ~2 minute stress run (also inside make test); stress/results/stress-short.*
	$(PY) -m stress --short $(STRESS_ARGS)

test-stress: setup ## fault-injection tests only (tests/stress, the short run included)
	$(VENV)/bin/pytest -q tests/stress $(PYTEST_ARGS)
