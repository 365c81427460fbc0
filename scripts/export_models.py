#!/usr/bin/python3
"""Export torchvision classification models to ONNX with reference input and output.

For every requested model NAME this writes, into --out DIR:
  NAME.onnx         the model (input "input" [batch,3,H,W], output "output" [batch,classes],
                    dynamic batch axis, constant folding on, checked by onnx.checker)
  NAME.onnx.data    only for models above protobuf's 2 GB limit: all weights, one external file
  NAME.input.npy    float32 [--batch,3,224,224] (inception_v3: 299x299), standard normal,
                    seeded by --seed
  NAME.output.npy   float32, PyTorch's own eager output for that input

There is no network, so weights are random (weights=None). Random initialisation leaves
BatchNorm at identity (mean 0, var 1), so activations shrink layer after layer and some
outputs vanish (mobilenet_v2's logits are about 1e-9), which makes comparisons
meaningless. Before export every BatchNorm therefore gets its running statistics from one
train-mode pass over a different random batch, and ViT's zero-initialised classification
head gets small random weights. The output's std is printed; a warning goes to stderr when
it is below 1e-3. Two torch 1.13 export gaps are worked around: nn.MultiheadAttention's
fused eval path (ViT) and aten::zero (swin_v2); see export_one and register_missing_symbolics.

Usage:
  /usr/bin/python3 scripts/export_models.py --out DIR [--opset 13..17] [--models LIST]
      [--seed 0] [--batch 1] [--force] [--keep-going] [--list-ops]

  --models  comma-separated names, "test-set" (default: resnet18, resnet50, mobilenet_v2,
            mobilenet_v3_small, squeezenet1_1, vit_b_16) or "all" (every classification
            builder of torchvision; several are large and slow).
  --force   re-export models whose three files already exist (otherwise they are skipped).
  --keep-going  continue past a failing model and list the failures at the end.
  --list-ops    print the ONNX op types (with counts) of every requested model.

Exit status: 0 when every requested model is exported (or already present), 1 otherwise.
"""

import argparse
import collections
import os
import shutil
import sys
import time
import traceback
import warnings

import numpy as np
import onnx
import onnx.checker
import torch
import torchvision.models

TEST_SET = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1", "vit_b_16"]
IMAGE_SIZE = 224
# inception_v3's auxiliary classifier (run by the train-mode calibration pass) needs its
# native 299x299: at 224 a 5x5 conv meets a 3x3 feature map.
NATIVE_IMAGE_SIZE = {"inception_v3": 299}
CALIBRATION_BATCH = 8
VANISHING_STD = 1e-3
HEAD_INIT_STD = 0.02


def classification_model_names():
    """Every classification builder in torchvision.models (not detection/segmentation/video)."""
    models = torchvision.models
    if hasattr(models, "list_models"):
        return sorted(models.list_models(module=models))
    # Older torchvision: public lower-case callables of the top-level module are the builders.
    helpers = {"get_model", "get_model_builder", "get_model_weights", "get_weight", "list_models"}
    return sorted(name for name, obj in vars(models).items()
                  if callable(obj) and name[0].islower() and not name.startswith("_")
                  and name not in helpers)


def resolve_model_names(spec):
    available = classification_model_names()
    if spec == "all":
        return available
    if spec == "test-set":
        return list(TEST_SET)
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in available]
    if unknown:
        raise SystemExit("error: unknown model(s): %s\navailable: %s"
                         % (", ".join(unknown), ", ".join(available)))
    return names


def output_paths(out_dir, name):
    base = os.path.join(out_dir, name)
    return base + ".onnx", base + ".input.npy", base + ".output.npy"


def build_model(name):
    with warnings.catch_warnings():
        # googlenet / inception_v3 warn that their default init scheme will change.
        warnings.simplefilter("ignore", FutureWarning)
        return getattr(torchvision.models, name)(weights=None)


def initialise_vit_head(model):
    """torchvision zero-initialises ViT's classification head, making every output 0."""
    heads = getattr(model, "heads", None)
    head = getattr(heads, "head", None) if heads is not None else None
    if isinstance(head, torch.nn.Linear):
        torch.nn.init.normal_(head.weight, std=HEAD_INIT_STD)
        torch.nn.init.normal_(head.bias, std=HEAD_INIT_STD)


def image_size(name):
    return NATIVE_IMAGE_SIZE.get(name, IMAGE_SIZE)


def calibrate_batch_norm(model, seed, size):
    """Set BatchNorm running statistics from one train-mode pass over random data."""
    batch_norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not batch_norms:
        return
    for bn in batch_norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one pass the stats are that batch's
    generator = torch.Generator().manual_seed(seed + 1)  # differs from the exported input
    calibration = torch.randn(CALIBRATION_BATCH, 3, size, size, generator=generator)
    model.train()
    with torch.no_grad():
        model(calibration)


def register_missing_symbolics():
    """torch 1.13 cannot export aten::zero (Tensor.zero_). swin_v2 calls it on a slice of a
    copy of its qkv bias, so the result is constant folded away; zeros of the input's shape
    is its exact meaning."""
    def zero(g, self):
        return g.op("ConstantOfShape", g.op("Shape", self), value_t=torch.tensor([0.0]))
    for opset in range(13, 18):
        torch.onnx.register_custom_op_symbolic("aten::zero", zero, opset)


def export_onnx(model, example, onnx_path, opset):
    """Export to a private folder first, so an interrupted export never looks finished.

    Above 2 GB torch writes one external file per weight next to the model; those are
    gathered into a single NAME.onnx.data so the output folder stays tidy.
    """
    out_dir, file_name = os.path.split(onnx_path)
    staging = os.path.join(out_dir, "." + file_name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        staged_model = os.path.join(staging, file_name)
        with warnings.catch_warnings():
            # Tracer chatter about shape arithmetic and asserts traced as constants.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                model, (example,), staged_model,
                input_names=["input"], output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                opset_version=opset, do_constant_folding=True)
        data_name = file_name + ".data"
        external = len(os.listdir(staging)) > 1
        if external:
            proto = onnx.load(staged_model)  # pulls the external tensors back in
            onnx.save_model(proto, staged_model, save_as_external_data=True,
                            all_tensors_to_one_file=True, location=data_name)
            del proto
        onnx.checker.check_model(staged_model)  # by path: works above 2 GB too
        data_path = os.path.join(out_dir, data_name)
        if os.path.exists(data_path):
            os.remove(data_path)  # left by an earlier export of a larger variant
        if external:
            os.replace(os.path.join(staging, data_name), data_path)
        os.replace(staged_model, onnx_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export_one(name, out_dir, opset, seed, batch):
    """Returns the output std."""
    onnx_path, input_path, output_path = output_paths(out_dir, name)
    torch.manual_seed(seed)
    model = build_model(name)
    initialise_vit_head(model)
    calibrate_batch_norm(model, seed, image_size(name))
    model.eval()

    generator = torch.Generator().manual_seed(seed)
    example = torch.randn(batch, 3, image_size(name), image_size(name), generator=generator)
    # Not under no_grad: in eval mode without grad, nn.MultiheadAttention (ViT) takes a
    # fused fast path, aten::_native_multi_head_attention, which torch 1.13 cannot export
    # to ONNX at any opset. With grad enabled it runs the composed ops, both for the
    # reference output and for the trace, so the reference comes from the exported graph.
    with torch.enable_grad():
        reference = model(example)
        if not isinstance(reference, torch.Tensor):
            raise RuntimeError("%s returned %s instead of a tensor" % (name, type(reference).__name__))
        reference = reference.detach()
        export_onnx(model, example, onnx_path, opset)

    reference = reference.float().numpy()
    np.save(input_path, example.numpy().astype(np.float32))
    np.save(output_path, reference.astype(np.float32))
    return float(reference.std())


def op_type_counts(onnx_path):
    proto = onnx.load(onnx_path, load_external_data=False)  # op types only, skip the weights
    return collections.Counter(node.op_type for node in proto.graph.node)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Export torchvision models to ONNX with a seeded random input and PyTorch's output.")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--opset", type=int, default=17, choices=range(13, 18), metavar="13..17",
                        help="ONNX opset version (default 17)")
    parser.add_argument("--models", default="test-set",
                        help='comma-separated names, "test-set" (default) or "all"')
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and input (default 0)")
    parser.add_argument("--batch", type=int, default=1, help="batch of the saved input (default 1)")
    parser.add_argument("--force", action="store_true", help="re-export models that already exist")
    parser.add_argument("--keep-going", action="store_true",
                        help="continue past failures and report them at the end")
    parser.add_argument("--list-ops", action="store_true",
                        help="print the ONNX op types used by each model")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    names = resolve_model_names(args.models)
    register_missing_symbolics()
    os.makedirs(args.out, exist_ok=True)
    failures = []
    for name in names:
        paths = output_paths(args.out, name)
        if not args.force and all(os.path.exists(p) for p in paths):
            print("skipping %s (already exported)" % name, flush=True)
        else:
            print("exporting %s ..." % name, end=" ", flush=True)
            start = time.monotonic()
            try:
                std = export_one(name, args.out, args.opset, args.seed, args.batch)
            except Exception as error:  # report which model failed, then stop or go on
                print("FAILED", flush=True)
                lines = str(error).strip().splitlines()
                message = "%s: %s" % (type(error).__name__, lines[0] if lines else "")
                failures.append((name, message))
                if not args.keep_going:
                    traceback.print_exc()
                    print("error: exporting %s failed: %s" % (name, message), file=sys.stderr)
                    return 1
                continue
            print("%.1f s, output std %.3g" % (time.monotonic() - start, std), flush=True)
            if std < VANISHING_STD:
                print("warning: %s output std %.3g is below %g: comparisons against it are "
                      "meaningless" % (name, std, VANISHING_STD), file=sys.stderr, flush=True)
        if args.list_ops:
            counts = op_type_counts(paths[0])
            print("  ops: " + ", ".join("%s x%d" % item for item in sorted(counts.items())),
                  flush=True)
    if failures:
        print("\n%d of %d model(s) failed:" % (len(failures), len(names)), file=sys.stderr)
        for name, message in failures:
            print("  %s: %s" % (name, message), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
