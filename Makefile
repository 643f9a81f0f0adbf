# The two commands: `make up` runs the platform with demo data, `make test` runs the checks.
.PHONY: bootstrap up down test lint unit bench

bootstrap:
	@bash scripts/bootstrap.sh

up: bootstrap
	.venv/bin/soc up

down:
	.venv/bin/soc down

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy

test: lint
	.venv/bin/python -m pytest -n 2 --dist loadfile

unit: bootstrap
	.venv/bin/python -m pytest tests/unit
