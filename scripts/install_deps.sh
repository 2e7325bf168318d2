#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages flowcpp needs to build and test.
# A fast no-op when everything is present; uses sudo when not run as root.
# Usage: scripts/install_deps.sh [--bench]   (--bench adds python3-torch for `make bench`)
#        scripts/install_deps.sh --fuzz      (adds clang-14 and its libFuzzer runtime for `make fuzz`)
set -euo pipefail

packages=(
  g++ make pkg-config
  libopenblas-openmp-dev   # OpenMP build of OpenBLAS: BLAS and our loops share one pool
  libomp-dev
  catch2                   # v2, catch2/catch.hpp
  libcxxopts-dev
  libstb-dev
  libgif-dev
  zlib1g-dev
  libcurl4-openssl-dev     # downloading the datasets (datasets/download.cpp)
  nlohmann-json3-dev
  fonts-dejavu-core
  zip                      # the tests read archives zip(1) made as CelebA's zip (tests/test_celeba.cpp)
  libopenmpi-dev openmpi-bin   # data-parallel training under mpirun (engine/comm/mpi.cpp)
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch)
fi
if [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)  # libclang_rt.fuzzer*.a and the sanitizer runtimes
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_deps: apt-get not found; install these packages by hand: ${missing[*]}" >&2
  exit 1
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install_deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
