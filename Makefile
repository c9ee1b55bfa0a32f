# The Makefile is the interface: install, train, run, shell, test, lint, eval, bench.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
RASA := $(BIN)/rasa
MODEL := models/wallet.tar.gz
SPACY_MODEL := models/spacy_zh/meta.json
INSTALLED := $(VENV)/.installed

# Operator settings: the environment, or a .env file (see .env.example).
-include .env
export SUPPORT_HOURS SUPPORT_TIMEZONE PENDING_ALERT_MINUTES IDENTITY_SECRET
export TELEGRAM_TOKEN TELEGRAM_SECRET_TOKEN TELEGRAM_API_URL
export WECHAT_TOKEN WECHAT_APP_ID WECHAT_APP_SECRET WECHAT_AES_KEY WECHAT_API_URL WECHAT_REPLY_SECONDS
export WIDGET_JWT_SECRET WIDGET_JWT_PUBLIC_KEY WIDGET_JWT_AUDIENCE WIDGET_JWT_MAX_HOURS WIDGET_ALLOWED_ORIGINS
export WIDGET_DEMO_ACCOUNT BINDING_DB_URL
export HANDOFF_DB_URL HANDOFF_MINUTES_PER_TICKET HANDOFF_PICKUP_MINUTES HANDOFF_WATCH_SECONDS AGENT_SESSION_HOURS
export HANDOFF_ASSIGN_SECONDS HANDOFF_REASSIGN_MINUTES SLA_FIRST_RESPONSE_MINUTES SLA_NEXT_RESPONSE_MINUTES
export WALLET_DB_URL WALLET_BACKEND_URL WALLET_BACKEND_TOKEN WALLET_BACKEND_TIMEOUT WALLET_BACKEND_RETRIES
export HELP_CENTER_REFRESH_SECONDS HELP_CENTER_PUBLIC_URL
SHELL_ACCOUNT ?= demo-alice

RASA_PORT ?= 5005
ACTION_PORT ?= 5055
export ACTION_ENDPOINT_URL ?= http://localhost:$(ACTION_PORT)/webhook
# Both servers on loopback unless configured otherwise. An empty secret means none; it is still
# exported because endpoints.yml refuses an unset ${ACTION_SERVER_SECRET}.
export RASA_INTERFACE ?= 127.0.0.1
export RASA_API_JWT_SECRET ?=
export ACTION_INTERFACE ?= 127.0.0.1
export ACTION_SERVER_SECRET ?=
export TRACKER_DB_URL ?= sqlite:///$(CURDIR)/var/tracker.db
export REDIS_URL MAX_MESSAGE_CHARS RATE_LIMIT_BURST RATE_LIMIT_PER_MINUTE MAX_REQUEST_BYTES
export TRUSTED_PROXIES SUPPORT_ENV
# Exported only when set: an empty RATE_LIMIT_EXEMPT means "exempt nothing", unset means loopback.
ifneq ($(origin RATE_LIMIT_EXEMPT),undefined)
export RATE_LIMIT_EXEMPT
endif
# Rasa reads it with int(): exported, it must not be empty.
export TICKET_LOCK_LIFETIME ?= 60
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
# Importing sanic turns DeprecationWarnings back on: `shell` and `run` also use scripts/quiet.py.
export PYTHONWARNINGS := ignore

CACHE_HOME := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/im-wallet-support
# $(call digest,files): a short digest of the files' contents, in the order given.
digest = $(shell cat $(1) | sha256sum | cut -c1-16)

# Rasa's training cache outside the clone, so a new clone of unchanged data restores the trained
# components instead of training them again. Rasa keys a component by its class, config and inputs,
# not by the modules and dictionaries it reads: the directory is named after their digest.
NLU_CODE_DIGEST := $(call digest,$(sort $(wildcard bot/nlu/*.py data/jieba/*)) data/lexicon.yml \
	requirements.lock)
export RASA_CACHE_DIRECTORY ?= $(CACHE_HOME)/rasa-$(NLU_CODE_DIGEST)

TRAIN_INPUTS := config.yml domain.yml $(shell find data -type f) $(wildcard bot/nlu/*.py) $(SPACY_MODEL)
# A model trained from exactly these inputs on this machine before is taken as it is, as
# `rasa train` does with the models in models/ (which a new clone has not got). The spaCy
# pipeline is built from inputs already in the digest.
MODEL_CACHE ?= $(CACHE_HOME)/models
TRAINED := $(MODEL_CACHE)/wallet-$(call digest,$(sort $(filter-out $(SPACY_MODEL),$(TRAIN_INPUTS))) \
	requirements.lock).tar.gz

.PHONY: help install spacy-model train train-reviewed kb-export kb-import seed demo-confirm demo-pending agent run production-stack shell actions test system-deps lint eval bench bench-training leak-check report time-training cross-validate clean

help:
	@echo "make run    - set everything up and start the assistant (REST + socket.io on :$(RASA_PORT))"
	@echo "make test   - set everything up and run all tests"
	@echo "make shell  - chat with the assistant in the terminal"
	@echo "make eval   - score the held-out NLU sets per category, the secret guard, the help center"
	@echo "make cross-validate - 5-fold cross-validation over the hand-written NLU examples"
	@echo "make bench  - latency and throughput: embedded, production x1/x2, a bare rasa init"
	@echo "make bench-training - serving latency while a candidate trains, against none"
	@echo "make leak-check - one server's memory over 50,000 turns (flat within 5 %)"
	@echo "make production-stack - PostgreSQL, Redis and SERVERS=2 servers on loopback"
	@echo "make train-reviewed - the leads' review labels to data/nlu/reviewed.yml, then train"
	@echo "make kb-export / kb-import - help-center articles: database <-> data/help_center/"
	@echo "make lint   - ruff and mypy"

# uv installs the locked set from its cache in seconds where pip takes minutes. It compiles the
# bytecode as pip does: every server and test worker would otherwise compile TensorFlow and Rasa
# again at each start where PYTHONDONTWRITEBYTECODE is set.
$(INSTALLED): requirements.lock pyproject.toml web/package-lock.json
	@scripts/ensure-venv.sh $(VENV)
	$(BIN)/pip install --quiet "$$(grep '^uv==' requirements.lock)"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(PY) --no-deps -e .
	npm ci --prefix web --no-audit --no-fund --silent
	@touch $@

install: $(INSTALLED)

$(SPACY_MODEL): $(INSTALLED) bot/nlu/spacy_pipeline.py bot/nlu/lexicon.py bot/nlu/amounts.py data/lexicon.yml data/jieba/wallet_dict.txt
	rm -rf models/spacy_zh
	$(PY) -m bot.nlu.spacy_pipeline models/spacy_zh

spacy-model: $(SPACY_MODEL)

$(MODEL): $(INSTALLED) $(TRAIN_INPUTS)
	@if [ -f "$(TRAINED)" ]; then \
		cp "$(TRAINED)" $@ && echo "the model trained from these inputs before: $(TRAINED)"; \
	else \
		$(RASA) train --fixed-model-name wallet --out models && mkdir -p "$(MODEL_CACHE)" && \
		cp $@ "$(TRAINED)" && ls -t "$(MODEL_CACHE)"/wallet-*.tar.gz | tail -n +6 | xargs -r rm -f; \
	fi
	@touch $@

train: $(MODEL)

# The labels leads gave in the console's review (HANDOFF_DB_URL) as data/nlu/reviewed.yml (the
# same labels give the same file), then the model trained again if that changed its data.
train-reviewed: $(INSTALLED)
	$(PY) -m bot.improvement.export --out data/nlu/reviewed.yml
	@$(MAKE) --no-print-directory train

# The help center's articles between the handoff database (HANDOFF_DB_URL) and data/help_center/:
# export for review in git, import after it (a broken file stops the import, nothing saved).
kb-export: $(INSTALLED)
	$(PY) -m bot.help_center.files export

kb-import: $(INSTALLED)
	$(PY) -m bot.help_center.files import

# Demo accounts in an empty wallet database; where they are, their times are moved to now (so the
# README's demo holds whenever it is tried); a database without them is left alone.
seed: $(INSTALLED)
	@mkdir -p var
	@$(PY) -m bot.wallet.demo_refresh --if-empty

# The demo's chain moves only by hand: confirm demo-alice's fresh pending TRON transfer (a
# 「到账了通知我」 watch on it is told within seconds); make demo-pending puts it back.
demo-confirm: $(INSTALLED)
	@$(PY) -m bot.wallet.demo_chain confirmed

demo-pending: $(INSTALLED)
	@$(PY) -m bot.wallet.demo_chain pending

# make agent AGENT=li [AGENT_NAME=小李] [ROLE=admin] [TEAMS=general,security] [CAPACITY=3]: creates a
# console login (the first admin; admins manage the others in the console) or sets a new password
# (asked, or AGENT_PASSWORD); DISABLE=1 or DELETE=1 disables or deletes it. All of them end the
# agent's sessions.
agent: $(INSTALLED)
	@mkdir -p var
	@$(PY) -m bot.handoff.agents $(AGENT) $(if $(AGENT_NAME),--name $(AGENT_NAME)) \
		$(if $(ROLE),--role $(ROLE)) $(if $(TEAMS),--teams $(TEAMS)) \
		$(if $(CAPACITY),--capacity $(CAPACITY)) $(if $(DISABLE),--disable) $(if $(DELETE),--delete)

actions: $(INSTALLED)
	$(PY) -m bot.action_server --port $(ACTION_PORT)

run: $(MODEL) seed
	@RASA_PORT=$(RASA_PORT) ACTION_PORT=$(ACTION_PORT) scripts/run.sh

# make production-stack [SERVERS=3]: several servers on a private PostgreSQL and Redis, as deployed.
production-stack: $(MODEL) system-deps
	$(PY) -m scripts.production_stack $(if $(SERVERS),--servers $(SERVERS))

# The shell's own action server treats the terminal user as SHELL_ACCOUNT (a demo account), so it
# stays on loopback whatever ACTION_INTERFACE says (scripts/shell.sh).
shell: $(MODEL) seed
	@RASA_PORT=$(RASA_PORT) ACTION_PORT=$(ACTION_PORT) SHELL_ACCOUNT=$(SHELL_ACCOUNT) scripts/shell.sh

# The suite waits on servers and browsers a third of its time: one worker more than cores.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

test: $(MODEL) system-deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# Debian packages the browser tests need (chromium, a CJK font); installs what is missing.
system-deps:
	@scripts/ensure-system-packages.sh

# What a look-up adds to a reply; then latency and throughput of the embedded default, the
# production setup with one and two servers, and a bare `rasa init` reference; then the desk: 200
# tickets automatically assigned to 6 agents on two servers; last, 1,000 transfer watches: the
# delay from a change in the wallet backend to the user's message, and the watcher's cost per poll.
bench: $(MODEL) system-deps
	$(PY) -m scripts.bench_lookup
	$(PY) -m scripts.bench
	$(PY) -m scripts.bench_assignment
	$(PY) -m scripts.bench_watches

# Serving latency under bench's mixed load while a candidate trains on the same machine.
bench-training: $(MODEL)
	$(PY) -m scripts.bench_training

leak-check: $(MODEL)
	$(PY) -m scripts.leak_check

# make report [DAYS=7]: the support insight report (results/report.html) and a text summary.
report: $(INSTALLED) system-deps
	$(PY) -m bot.insight.report $(if $(DAYS),--days $(DAYS))

time-training: $(INSTALLED)
	@scripts/time-training.sh

eval: $(MODEL)
	$(PY) -m scripts.evaluate_nlu --model $(MODEL)
	$(PY) -m scripts.evaluate_secret_guard
	$(PY) -m scripts.evaluate_help_center --model $(MODEL)

# 5-fold cross-validation over the hand-written NLU examples (augmentation on the training folds).
cross-validate: $(INSTALLED) $(SPACY_MODEL)
	$(PY) -m scripts.cross_validate

lint: $(INSTALLED)
	$(BIN)/ruff check bot actions tests scripts
	$(BIN)/ruff format --check bot actions tests scripts
	$(BIN)/mypy

clean:
	rm -rf models/spacy_zh $(MODEL) results
