# Thin wrappers over docker compose. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

COMPOSE ?= docker compose
PROD := $(COMPOSE) -f docker-compose.yml -f docker-compose.prod.yml
# TEST_PROJECT, as for scripts/test-stack, lets two checkouts lint and test side by side.
TEST_PROJECT ?= flotilla-test
TEST := $(COMPOSE) -p $(TEST_PROJECT) -f docker-compose.yml -f docker-compose.test.yml
# The services and their databases are listed once, in services.txt.
DATABASES := $(shell scripts/services databases)
# The linter runs from the test-runner image, so the host needs nothing but Docker.
TOOLS := $(TEST) --profile tests run --rm --no-deps -T -v "$(CURDIR)":/src:ro -w /src tests

.PHONY: help up down logs ps build test chaos fuzz bench bench-smoke lint fmt psql clean secrets certs \
	prod-up prod-down test-prod swarm-up swarm-down test-swarm service remove-service \
	$(addprefix psql-,$(DATABASES))

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_%-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: ## Start the development stack and wait until every container is healthy
	$(COMPOSE) up --build -d --wait

down: ## Stop the development stack (data volumes are kept)
	$(COMPOSE) down

logs: ## Follow the logs of every container (S=service for one)
	$(COMPOSE) logs -f $(S)

ps: ## Show the containers and their health
	$(COMPOSE) ps

build: ## Build every image
	$(COMPOSE) build

test: ## Lint, then run every test against a throwaway stack; always tears it down
	scripts/test-stack

test-prod: ## The production override: hardening, TLS, secrets, graceful stops (own stack)
	scripts/test-prod

chaos: ## Orders while every container of the order and event path is killed in turn (own stack)
	CHAOS_ONLY=1 scripts/test-stack

# make fuzz: schemathesis 4 with every check (`--checks all`), every phase (examples, coverage,
# fuzzing, stateful), FUZZ_EXAMPLES per operation, once with an admin token and once with a
# customer's, on the merged /api/openapi.json through NGINX (tests/fuzz).
# Checks left out (FUZZ_EXCLUDE_CHECKS, comma-separated): none; each needs a line here.
# What the configuration (tests/fuzz/schemathesis.toml) narrows, and why it is right:
# - positive_data_acceptance also takes 422 from POST /api/orders: the schema cannot say
#   "no two entries for one product" (JSON Schema's uniqueItems compares whole entries) nor
#   which product ids exist, and a generated Idempotency-Key repeated with another body is
#   API.md's 422 idempotency_key_reused.
# - Bodies carry whole numbers as integers (tests/fuzz/hooks.py): OpenAPI 3.1's JSON Schema
#   counts 2.0 as an integer, API.md refuses it (422).
# - No string holds NUL or a lone surrogate: API.md refuses both everywhere (422; tested in
#   tests/test_attacks.py), and JSON Schema has no pattern for it that every tool reads alike.
FUZZ_EXCLUDE_CHECKS ?=
export FUZZ_EXCLUDE_CHECKS

fuzz: ## Schemathesis (all checks, stateful, admin and customer) through NGINX (own stack)
	FUZZ_ONLY=1 scripts/test-stack

bench: ## Throughput and latency, direct vs through NGINX + gateway (docs/performance.md)
	scripts/bench

bench-smoke: ## The same in seconds, only to prove it works (part of make test)
	BENCH_SMOKE=1 scripts/bench

lint: ## Check the code (ruff), Dockerfiles (hadolint), CI workflow, YAML, Prometheus' rules
	$(TEST) --profile tests build tests
	$(TOOLS) scripts/lint
	scripts/check-prometheus

fmt: ## Reformat the code with ruff
	$(TEST) --profile tests build tests
	$(TEST) --profile tests run --rm --no-deps -T --user "$$(id -u):$$(id -g)" \
		-v "$(CURDIR)":/src -w /src tests \
		sh -c 'ruff check --no-cache --fix . && ruff format --no-cache .'

.PHONY: seed
seed: ## Load the demo catalog and a demo customer into the running stack (idempotent)
	COMPOSE="$(COMPOSE)" scripts/seed

.PHONY: backup restore
backup: ## Back up PostgreSQL (all databases at one instant) to BACKUP_DIR=./backups, keep BACKUP_KEEP=7
	COMPOSE="$(COMPOSE)" scripts/backup

restore: ## Restore FROM=backups/<time>: checked first; writers stopped, PostgreSQL restored, restarted
	COMPOSE="$(COMPOSE)" scripts/restore "$(FROM)"

psql: psql-users ## psql as a service's own role: psql-<database> (services.txt), e.g. psql-orders

# A static pattern rule: make never applies implicit (%) rules to .PHONY targets.
$(addprefix psql-,$(DATABASES)): psql-%:
	$(COMPOSE) exec postgres psql -U $* -d $*

service: ## Add a service from templates/service (NAME=shipping: shipping-service, /api/shipping)
	scripts/new-service "$(NAME)"

remove-service: ## Take a service out of every file that names it (NAME=storefront)
	scripts/remove-service "$(NAME)"

secrets: ## Create random production secrets in ./secrets (kept out of git)
	scripts/make-secrets

certs: ## A self-signed TLS certificate and key for NGINX in ./secrets (TLS_HOSTNAMES=a,b)
	scripts/make-secrets certs

prod-up: ## Start with the production override (needs `make secrets certs` first)
	$(PROD) up --build -d --wait

prod-down: ## Stop the production stack
	$(PROD) down

swarm-up: ## Deploy the production stack on Docker Swarm (swarm init if needed; STACK=flotilla-swarm)
	scripts/swarm up

swarm-down: ## Remove the Swarm stack (volumes kept); leave the swarm if swarm-up created it
	scripts/swarm down

test-swarm: ## Replicas, rolling updates under load and a killed replica on a one-node swarm
	scripts/test-swarm

clean: ## Remove the containers, volumes and images of the dev and test stacks
	$(COMPOSE) down -v --remove-orphans --rmi local
	$(TEST) --profile tests down -v --remove-orphans --rmi local
