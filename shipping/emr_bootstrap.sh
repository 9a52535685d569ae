#!/usr/bin/env bash
# EMR bootstrap action: installs lineage_lib (the lineage-lib wheel) on this node from a wheelhouse,
# without reaching any package index.
#
#   emr_bootstrap.sh [--python PYTHON] [--target DIR] SOURCE
#
#   SOURCE     the wheelhouse built by `make artifacts` (emr/wheelhouse/): s3://bucket/prefix/emr/wheelhouse/,
#              file:///path/to/wheelhouse or /path/to/wheelhouse
#   --python   the interpreter the jobs use (default: python3, Python 3.9 on EMR 7)
#   --target   install into DIR instead of the interpreter's site-packages
#
# Idempotent: when the wheelhouse's version is already importable, it says so and exits 0.
# A failure prints one line to stderr saying what failed and what to check, and exits non-zero.
set -euo pipefail
shopt -s nullglob

readonly PROG="lineage bootstrap"
readonly DIST="lineage-lib"
readonly WHEEL_PREFIX="lineage_lib-"

python="python3"
target=""
source_uri=""
wheelhouse=""
version=""

fail() {
  echo "$PROG: $*" >&2
  exit 1
}

trap 'fail "unexpected failure of \"$BASH_COMMAND\" (line $LINENO)"' ERR

usage() {
  echo "usage: $0 [--python PYTHON] [--target DIR] SOURCE" >&2
  exit 2
}

parse_args() {
  while (($#)); do
    case "$1" in
      --python | --target)
        (($# >= 2)) || fail "$1 needs a value; see the usage in this script's header"
        if [[ $1 == --python ]]; then python="$2"; else target="$2"; fi
        shift 2
        ;;
      -h | --help) usage ;;
      -*) fail "unknown option $1; see the usage in this script's header" ;;
      *)
        [[ -z $source_uri ]] || fail "one SOURCE expected, got $source_uri and $1"
        source_uri="$1"
        shift
        ;;
    esac
  done
  [[ -n $source_uri ]] || usage
  # Absolute, because the import check runs from / (see installed_version).
  if [[ -n $target && $target != /* ]]; then target="$PWD/$target"; fi
}

check_python() {
  command -v "$python" >/dev/null \
    || fail "python not found: '$python'; pass --python with the interpreter your jobs use"
}

fetch_wheelhouse() {
  case "$source_uri" in
    s3://*)
      command -v aws >/dev/null || fail "source unreachable: no aws CLI on PATH to copy $source_uri"
      wheelhouse="$(mktemp -d)"
      trap 'rm -rf "$wheelhouse"' EXIT
      aws s3 cp --recursive --only-show-errors "$source_uri" "$wheelhouse" \
        || fail "source unreachable: aws s3 cp $source_uri failed; check the URI and that the" \
          "cluster's instance profile allows s3:ListBucket and s3:GetObject on it"
      ;;
    file://*) wheelhouse="${source_uri#file://}" ;;
    *) wheelhouse="$source_uri" ;;
  esac
  [[ -d $wheelhouse ]] || fail "source unreachable: $source_uri is not a folder; check the SOURCE argument"
}

find_wheel() {
  local wheels=("$wheelhouse/$WHEEL_PREFIX"*.whl)
  ((${#wheels[@]} > 0)) \
    || fail "no wheel found: $source_uri holds no $WHEEL_PREFIX*.whl; upload the emr/wheelhouse" \
      "folder built by 'make artifacts' there"
  ((${#wheels[@]} == 1)) \
    || fail "several wheels found: $source_uri holds ${#wheels[@]} $WHEEL_PREFIX*.whl; keep one version"
  version="$(basename "${wheels[0]}")"
  version="${version#"$WHEEL_PREFIX"}"
  version="${version%%-*}"
}

# The version of lineage-lib that imports with $python (in --target DIR only, when given), or nothing.
installed_version() {
  local probe='import lineage_lib, importlib.metadata as m; print(m.version("lineage-lib"))'
  # From / so that a lineage_lib folder in the working directory cannot answer for the install.
  if [[ -n $target ]]; then
    (cd / && PYTHONPATH="$target" "$python" -S -c "$probe" 2>/dev/null) || true
  else
    (cd / && "$python" -c "$probe" 2>/dev/null) || true
  fi
}

install() {
  local pip=(-m pip install --no-index --find-links "$wheelhouse" --disable-pip-version-check --quiet)
  local command=("$python" "${pip[@]}")
  if [[ -n $target ]]; then
    command+=(--target "$target" --upgrade)
  elif ((EUID != 0)); then
    # EMR runs bootstrap actions as the hadoop user; the system interpreter's site-packages is root's.
    command=(sudo "$(command -v "$python")" "${pip[@]}")
  fi
  "${command[@]}" "$DIST==$version" \
    || fail "pip failed to install $DIST $version from $source_uri with $python; check pip's message" \
      "above and that the wheelhouse holds wheels for this Python ($("$python" -V 2>&1))"
}

main() {
  parse_args "$@"
  check_python
  fetch_wheelhouse
  find_wheel
  local where="for $python${target:+ in $target}"
  if [[ "$(installed_version)" == "$version" ]]; then
    echo "$PROG: $DIST $version is already installed $where; nothing to do"
    exit 0
  fi
  install
  [[ "$(installed_version)" == "$version" ]] \
    || fail "installed $DIST $version but lineage_lib does not import $where; check pip's message above"
  echo "$PROG: installed $DIST $version $where"
}

main "$@"
