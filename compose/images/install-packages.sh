#!/bin/sh
# Install the Debian packages of one or more lists in compose/images/packages/
# (one package per line, # comments). Dockerfile RUN steps call this; the
# lists are the single place where each image's packages are named, so
# tests/test_compose.py can check them against this machine.
#
#   install-packages.sh LIST...          install (as root, in an image build)
#   install-packages.sh --print LIST...  print the packages, one per line
#   install-packages.sh --check LIST...  exit 1 unless every package is
#                                        installed here or known to apt
set -eu

here=$(dirname "$0")
mode=install
case "${1:-}" in
    --print) mode=print; shift ;;
    --check) mode=check; shift ;;
esac
[ $# -gt 0 ] || { echo "usage: $0 [--print|--check] LIST..." >&2; exit 2; }

packages=""
for list in "$@"; do
    file="$here/packages/$list.txt"
    [ -f "$file" ] || { echo "$0: no package list $file" >&2; exit 2; }
    packages="$packages $(sed -e 's/#.*//' "$file" | tr -s ' \t\n' ' ')"
done

case $mode in
print)
    for p in $packages; do echo "$p"; done
    ;;
check)
    missing=""
    for p in $packages; do
        if ! dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' &&
           ! apt-cache show "$p" >/dev/null 2>&1; then
            missing="$missing $p"
        fi
    done
    if [ -n "$missing" ]; then
        echo "$0: unknown to dpkg and apt here:$missing" >&2
        exit 1
    fi
    ;;
install)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086  # word splitting of the list is intended
    apt-get install -y --no-install-recommends $packages
    # Keep the image small: the package lists are not needed at run time.
    apt-get clean
    rm -rf /var/lib/apt/lists/*
    ;;
esac
