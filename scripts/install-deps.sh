#!/usr/bin/env bash
# Installs Petrel's build and test dependencies from Debian's archive (Debian 12).
# Safe to run again: it installs only what is missing.
set -euo pipefail

PACKAGES=(
  g++ cmake make                           # C++20 compiler and build
  libflatbuffers-dev flatbuffers-compiler  # the .petrel file format
  libonnx-dev libprotobuf-dev protobuf-compiler  # ONNX import and shape inference
  libcli11-dev                         # the petrel command line
  libgtest-dev                         # tests
  libbenchmark-dev                     # kernel micro-benchmarks
  python3-torch python3-torchvision python3-onnx python3-numpy  # test models
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install-deps: done"
