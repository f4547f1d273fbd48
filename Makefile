# The two commands of the README:
#   make demo   install everything and run the main job on the example campaign
#   make test   lint, type-check and run every test
# Both create .venv on first use; nothing is installed outside it except, for the
# tests, the Debian and npm packages named in .ci/install-system-deps.sh.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	@echo "Installing campaign and what it needs into $(VENV) (a few minutes the first time)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

# The message catalogues (README, "Languages"): compiled whenever a .po is newer than its .mo
# (setup.py compiles them at install time too); `make messages` extracts the marked
# messages into campaign/locale/campaign.pot and brings every language's .po up to date,
# and copies Babel's day and month names into campaign/locale/formats.json.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard campaign/locale/*/LC_MESSAGES/campaign.po))
%.mo: %.po $(STAMP)
	@$(BIN)/pybabel compile --statistics -D campaign -i $< -o $@

.PHONY: install demo test lint bench messages
install: $(STAMP) $(CATALOGUES)

messages: $(STAMP)
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k N_ -k ngettext:1,2 \
		--project campaign -o campaign/locale/campaign.pot .
	for lang in $(notdir $(wildcard campaign/locale/??)); do \
		$(BIN)/pybabel update --no-fuzzy-matching -D campaign -l $$lang \
			-i campaign/locale/campaign.pot -d campaign/locale || exit 1; done
	$(BIN)/python -c 'from campaign.i18n import write_formats; write_formats()'

# The main job on its embedded defaults: check the example stories, then rehearse the
# whole week against the local sandbox, one campaign day every 6 seconds, with a few
# injected faults so that retries, reconciliation and an alert can be seen.
demo: $(STAMP) $(CATALOGUES)
	@$(BIN)/campaign check --brief
	@echo
	@$(BIN)/campaign run --sandbox --day-seconds 6 --until-done --faults demo

lint: $(STAMP) $(CATALOGUES)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done
