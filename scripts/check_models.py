#!/usr/bin/python3
"""Convert and run every exported model in a folder; compare with PyTorch.

For each DIR/NAME.onnx that has NAME.input.npy and NAME.output.npy (made by
scripts/export_models.py), runs `petrel convert` and `petrel run` and prints one
line: the relative L2 error against PyTorch's output, or the error Petrel gave.
A robustness sweep over the whole torchvision family, too slow for CI:

  /usr/bin/python3 scripts/export_models.py --out /tmp/all --models all --keep-going
  /usr/bin/python3 scripts/check_models.py /tmp/all

Exit status: 0 when every model converts, runs and stays within --tolerance.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def petrel(*args):
    """Runs build/petrel; returns (ok, last line of its error output)."""
    result = subprocess.run([os.path.join(ROOT, "build", "petrel"), *args], capture_output=True, text=True)
    lines = (result.stderr or result.stdout).strip().splitlines()
    return result.returncode == 0, (lines[-1] if lines else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", help="folder of NAME.onnx, NAME.input.npy, NAME.output.npy")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest relative L2 error accepted (default 1e-3)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    names = sorted(f[:-5] for f in os.listdir(args.dir) if f.endswith(".onnx"))
    if not names:
        sys.exit(f"check_models: no .onnx files in {args.dir}")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            base = os.path.join(args.dir, name)
            if not (os.path.exists(base + ".input.npy") and os.path.exists(base + ".output.npy")):
                print(f"{name:24s} skipped: no input/output .npy")
                continue
            model = os.path.join(tmp, name + ".petrel")
            ok, message = petrel("convert", base + ".onnx", model)
            if ok:
                ok, message = petrel("run", model, "--input", f"input={base}.input.npy", "--output-dir", tmp,
                                     "--threads", str(args.threads))
            if not ok:
                failures += 1
                print(f"{name:24s} FAILED: {message}")
                continue
            mine = np.load(os.path.join(tmp, "output.npy"))
            reference = np.load(base + ".output.npy")
            error = float(np.linalg.norm(mine - reference) / max(np.linalg.norm(reference), 1e-30))
            verdict = "ok" if error <= args.tolerance else "TOO FAR"
            failures += verdict != "ok"
            print(f"{name:24s} rel L2 {error:.2e}  {verdict}")
            os.remove(model)
    print(f"{len(names) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
