# gthfx — the two commands that matter are `make demo` and `make test` (see README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test pytest lint typecheck format bench samples lock clean wheel-check docs

$(STAMP): requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## demo: type the shipped samples — last year's run first, then this year's, with its change log —
## then the whole 名特优新 cycle: last year's screening, publicity and certification, this year's
## evaluation of the register, this year's cycle, the register as of 1 December and its figures
S22 := samples/2022/categories
S23 := samples/2023/categories
demo: install
	$(BIN)/gthfx classify --date 2023-07-01 --force
	$(BIN)/gthfx classify --date 2024-07-01 --force
	rm -rf categories
	$(BIN)/gthfx categories screen --run runs/2023-07-01 --date 2023-10-15 \
	  --applications $(S22)/applications.csv --evidence $(S22)/evidence.xlsx --records $(S22)/records.csv
	$(BIN)/gthfx categories publicize categories/2023-10-15/screening --start 2023-10-23
	$(BIN)/gthfx categories certify categories/2023-10-15/screening --objections $(S22)/objections.csv \
	  --date 2023-11-28 --by 武汉市市场监督管理局 --document "武市监〔2023〕88号"
	$(BIN)/gthfx categories evaluate --date 2024-10-15 --run runs/2024-07-01 \
	  --evidence $(S23)/evidence.xlsx --records $(S23)/records.csv --by 武汉市市场监督管理局
	$(BIN)/gthfx categories screen --run runs/2024-07-01 --date 2024-10-15 \
	  --applications $(S23)/applications.csv --evidence $(S23)/evidence.xlsx --records $(S23)/records.csv
	$(BIN)/gthfx categories publicize categories/2024-10-15/screening --start 2024-10-21
	$(BIN)/gthfx categories certify categories/2024-10-15/screening --objections $(S23)/objections.csv \
	  --date 2024-11-28 --by 武汉市市场监督管理局 --document "武市监〔2024〕88号"
	$(BIN)/gthfx categories register --date 2024-12-01
	$(BIN)/gthfx categories numbers --date 2024-12-01

## test: every gate CI runs — lint, format check, types, then the whole test suite
test: install lint typecheck pytest

pytest: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## wheel-check: build the wheel, install it into a clean venv with the runtime lock only (no
## extras), run every command once on copies of gthfx.yaml, rules/ and samples/ (CI runs it)
wheel-check: install
	$(BIN)/python tests/wheel_check.py

## docs: rewrite the README's module table from the module docstrings (tests/test_docs.py checks it)
docs: install
	$(BIN)/python tests/module_table.py --write

## bench: 1 M, 5 M and 10 M synthetic businesses as CSV and typed Parquet, both engines, gthfx
## beside a bare Polars query (ratio, peak memory, seconds per million)
bench: install
	$(BIN)/python bench/run.py

## samples: regenerate the committed samples/ from the generator
samples: install
	$(BIN)/gthfx samples --rows 2000 --out samples --years 2 --format mixed
	$(BIN)/python -m gthfx.tools.sampling_samples samples

## lock: refresh requirements.lock after changing pyproject.toml (needs uv; not used by CI), then
## its runtime subset requirements-runtime.lock (same pins, no extras) for the wheel check
lock:
	uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes -o requirements.lock
	uv pip compile pyproject.toml -c requirements.lock --universal --python-version 3.11 --generate-hashes -o requirements-runtime.lock

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache

## test-spark: the Spark SQL of the rulesets on PySpark in local mode against the samples (needs
## Java 17+; installs the `spark` extra from requirements-spark.lock once; not part of `make test`)
SPARK_STAMP := $(VENV)/.spark-installed-stamp

$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(BIN)/python -m pip install -q --require-hashes -r requirements-spark.lock
	touch $(SPARK_STAMP)

.PHONY: test-spark
test-spark: install $(SPARK_STAMP)
	$(BIN)/python -m pytest -q -m spark tests/engines/test_spark.py
