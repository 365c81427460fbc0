#!/usr/bin/env bash
# Configures and builds Petrel (Release) into build/. Incremental: re-running
# rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
