# Static analysis and hostile-input tools. Included by the Makefile; the targets:
#   lint-tools      the tool venv (.venv-lint: slither, schemathesis) and solhint (npm), pinned
#   lint-contracts  slither + solhint over contracts/: fails on any finding not fixed; the
#                   detectors and rules switched off are in the tools' configs, each with its
#                   reason (docs/security.md lists the findings they cover)
#   hostile-api     schemathesis against a live API server it starts (long run)
#   fuzz-long       tests/fuzz: many long adversarial histories against the contracts
# Nothing here downloads at run time: solc is the project's solc-js shim, solhint is told not
# to check for updates, schemathesis's telemetry is off.

LINT_VENV := .venv-lint
LINT_PY := $(LINT_VENV)/bin/python
LINT_BOOT ?= python3
LINT_NPM := tools/lint/node_modules
LINT_SOLC ?= $(CURDIR)/.tools/solcx/solc-v$(SOLC_VERSION)
LINT_OUT := build/lint
HOSTILE_EXAMPLES ?= 100
HOSTILE_MAX_TIME ?= 600
FUZZ_LONG_EXAMPLES ?= 40
FUZZ_LONG_STEPS ?= 200

.PHONY: lint-tools lint-contracts lint-slither lint-solhint hostile-api fuzz-long

$(LINT_VENV)/.stamp: tools/lint/requirements.lock
	test -x $(LINT_PY) || $(LINT_BOOT) -m venv $(LINT_VENV)
	# --no-deps: the lock is the whole resolved set; nothing may re-resolve or upgrade.
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r $<
	touch $@

$(LINT_NPM)/.stamp: tools/lint/package.json tools/lint/package-lock.json tools/lint/.npmrc
	cd tools/lint && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

lint-tools: $(LINT_VENV)/.stamp $(LINT_NPM)/.stamp ## slither, schemathesis and solhint, pinned, apart from .venv

lint-contracts: lint-slither lint-solhint ## slither + solhint: every finding fixed or its check switched off for a reason

# Detectors slither.config.json excludes (JSON takes no comments: the reasons are here), each
# for every finding it made in contracts/ (docs/security.md counts them):
#   assembly             kept only where bench/gas_*.py shows it pays: the two batch loops
#                        (Council._countBallots, TimeBank._fastRun) and the memory context they
#                        read, and a few per-call helpers whose comment gives the measured saving.
#   incorrect-shift      false positive: Yul's shl(shift, value); each one is `1 << x` as meant.
#   uninitialized-state  false positive: the ballot boxes are written through their slot (the
#                        batch loop, _markVoted) and _milestones by push() through a pointer.
#   calls-loop           the Registry is the deployment's own immutable contract; the loops are
#                        bounded by a request's approvers and by a batch's skipped records.
#   timestamp            voting windows last hours to days and roll history 400 days: a
#                        validator's seconds of drift cannot change an outcome.
#   unused-return        deliberate: TimeBank needs only the version from rollSnapshot, and only
#                        the signer from ECDSA.tryRecover (address(0) on any error).
#   naming-convention    the getters of public constants keep the constants' names (COMMITTEE(),
#                        MAX_OPTIONS()...), as OpenZeppelin's do; DOMAIN_SEPARATOR is EIP-2612's
#                        name; they are the ABI the Python and TypeScript clients are built from.
# The solc-js shim answers --standard-json, which is the only way crytic-compile drives it here;
# the optimizer settings are brownie-config.yaml's (cancun is solc 0.8.28's default EVM).
lint-slither: $(LINT_VENV)/.stamp node_modules/.stamp $(LINT_SOLC)
	mkdir -p $(LINT_OUT) && rm -f $(LINT_OUT)/slither.json
	$(LINT_VENV)/bin/slither contracts \
		--config-file tools/lint/slither.config.json \
		--solc-standard-json --solc $(LINT_SOLC) --solc-working-dir . \
		--solc-remaps "@openzeppelin/contracts=node_modules/@openzeppelin/contracts" \
		--solc-args "--optimize --optimize-runs $$(awk '/runs:/{print $$2; exit}' brownie-config.yaml)" \
		--json $(LINT_OUT)/slither.json \
		|| { echo "slither: findings above; fix them (a detector is excluded only for a reason that"; \
		     echo "  covers all its findings: tools/lint/lint.mk, docs/security.md)"; exit 1; }

lint-solhint: $(LINT_NPM)/.stamp
	$(LINT_NPM)/.bin/solhint --disc --noPrompt --max-warnings 0 \
		--config tools/lint/solhint.yaml 'contracts/**/*.sol'

hostile-api: setup $(LINT_VENV)/.stamp ## schemathesis vs the live API: no 5xx, only documented statuses
	$(PY) tools/lint/hostile_api.py --examples $(HOSTILE_EXAMPLES) --max-time $(HOSTILE_MAX_TIME)

fuzz-long: setup ## contract invariants under long random call sequences (tests/fuzz)
	COMMONS_TEST_FUZZ_EXAMPLES=$(FUZZ_LONG_EXAMPLES) COMMONS_TEST_FUZZ_STEPS=$(FUZZ_LONG_STEPS) COMMONS_TEST_FUZZ_TIMEOUT=14400 \
		$(VENV)/bin/pytest -q tests/fuzz $(PYTEST_ARGS)
