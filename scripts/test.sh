#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, exports the test models
# (torchvision, random weights, PyTorch reference outputs) and runs ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
MODELS_DIR="${PETREL_MODEL_DIR:-$PWD/models}"
/usr/bin/python3 scripts/export_models.py --out "$MODELS_DIR" --models test-set
export PETREL_MODEL_DIR="$MODELS_DIR"
export PETREL_REQUIRE_MODELS=1   # a missing model fails the model tests instead of skipping them
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 1800
