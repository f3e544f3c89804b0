#!/bin/sh
# Build wsgihost with meson (release) and install the binary to DEST/bin,
# with _wsgihost.so beside it (the host-interpreter mode, csrc/hostpy.h: the
# binary looks for the module in its own directory).
# The build stage of wsgihost.Dockerfile runs this; tests/test_compose.py runs
# it too, outside Docker, into a temporary directory.
#
#   build-wsgihost.sh SRC BUILDDIR DEST
set -eu
[ $# -eq 3 ] || { echo "usage: $0 SRC BUILDDIR DEST" >&2; exit 2; }
src=$1 build=$2 dest=$3

meson setup --buildtype=release "$build" "$src"
meson compile -C "$build"
install -D -m 0755 "$build/wsgihost" "$dest/bin/wsgihost"
if [ -f "$build/_wsgihost.so" ]; then
    install -m 0644 "$build/_wsgihost.so" "$dest/bin/_wsgihost.so"
fi
# The binary must start: libpython found, its version printed.
"$dest/bin/wsgihost" --version
