# The web page (web/): a separate npm project, bundled by esbuild into web/dist/, which the API
# serves at "/". Included from the top Makefile (`include web/web.mk`).
#   make web          install web/node_modules (npm ci) and build web/dist/
#   make web-check    type-check the page (tsc --noEmit) and run its unit tests (node --test)
#   make api-types    render src/schemas.ts from the API's OpenAPI document (tools/api_types.py)
#   make web-browser  Debian's Chromium (+ a CJK font for readable screenshots) for the browser test
#   make test-web     the browser story (tests/e2e/test_web.py); screenshots in test-artifacts/web/
.PHONY: web web-check web-browser test-web web-clean api-types

WEB_DIR := web
WEB_SOURCES := $(shell find $(WEB_DIR)/src -type f 2>/dev/null) $(WEB_DIR)/build.mjs $(WEB_DIR)/tsconfig.json

$(WEB_DIR)/node_modules/.stamp: $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	# esbuild's binary comes from its optional @esbuild/<platform> package; no install script needed.
	cd $(WEB_DIR) && node -e "require('esbuild').transform('let a = 1').then(() => {}, (e) => { console.error(e); process.exit(1) })"
	touch $@

$(WEB_DIR)/dist/index.html: $(WEB_SOURCES) $(WEB_DIR)/node_modules/.stamp
	cd $(WEB_DIR) && node build.mjs

web: $(WEB_DIR)/dist/index.html ## install the web page's npm packages and build web/dist/

web-check: $(WEB_DIR)/node_modules/.stamp ## type-check the web page and run its unit tests
	cd $(WEB_DIR) && ./node_modules/.bin/tsc --noEmit -p .
	cd $(WEB_DIR) && node --test tests/unit.test.mjs tests/secret.unit.test.mjs tests/secretProposal.unit.test.mjs tests/secretTrustees.unit.test.mjs

api-types: setup ## render web/src/schemas.ts (the page's API types) from the API's OpenAPI document
	$(VENV)/bin/python -m tools.api_types

web-browser: ## install Debian's chromium (and a CJK font) for the browser test
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	fc-list :lang=zh 2>/dev/null | grep -q . || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-wqy-microhei

test-web: setup web web-browser ## the page in a real browser (screenshots in test-artifacts/web/)
	$(VENV)/bin/pytest -q tests/e2e/test_web.py $(PYTEST_ARGS)

web-clean: ## remove the web page's build output
	rm -rf $(WEB_DIR)/dist
