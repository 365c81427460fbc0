#!/usr/bin/env bash
# The main job: install, build, export resnet18 with random weights, convert it
# to .petrel, run it on PyTorch's input and print a small result table.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-resnet18}"
scripts/install-deps.sh
scripts/build.sh
MODELS_DIR="${PETREL_MODEL_DIR:-$PWD/models}"
/usr/bin/python3 scripts/export_models.py --out "$MODELS_DIR" --models "$MODEL"
build/petrel convert "$MODELS_DIR/$MODEL.onnx" "$MODELS_DIR/$MODEL.petrel"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
build/petrel run "$MODELS_DIR/$MODEL.petrel" --input "input=$MODELS_DIR/$MODEL.input.npy" --output-dir "$OUT" >/dev/null
for threads in 1 2; do
  build/petrel bench "$MODELS_DIR/$MODEL.petrel" --threads "$threads" --warmup 3 --loops 20 --json >"$OUT/bench$threads.json"
done
/usr/bin/python3 - "$MODEL" "$OUT" "$MODELS_DIR" <<'PY'
import json, sys
import numpy as np
model, out, models = sys.argv[1:4]
mine = np.load(f"{out}/output.npy")
torch_out = np.load(f"{models}/{model}.output.npy")
diff = float(np.abs(mine - torch_out).max())
rel = float(np.linalg.norm(mine - torch_out) / max(np.linalg.norm(torch_out), 1e-30))
print()
print(f"| model | threads | median ms | peak RSS MiB | max abs diff vs PyTorch | rel L2 |")
print(f"|---|---|---|---|---|---|")
for t in (1, 2):
    b = json.load(open(f"{out}/bench{t}.json"))
    print(f"| {model} | {t} | {b['median_ms']:.2f} | {b['peak_rss_bytes'] / 2**20:.0f} | {diff:.2e} | {rel:.2e} |")
PY
