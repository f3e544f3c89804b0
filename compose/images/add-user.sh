#!/bin/sh
# Create the user the container's processes run as, with the host user's UID
# and GID (build args), so that files written to bind mounts (locust's CSVs in
# results/) belong to the host user and can be edited without sudo.
#
#   add-user.sh UID GID USERNAME GROUPNAME [PREFIX]
#
# PREFIX (tests only): apply the change to PREFIX/etc/{passwd,group,...}
# instead of /etc (useradd/groupadd --prefix).
set -eu
[ $# -ge 4 ] || { echo "usage: $0 UID GID USERNAME GROUPNAME [PREFIX]" >&2; exit 2; }
uid=$1 gid=$2 user=$3 group=$4
prefix=${5:-}
set --
[ -z "$prefix" ] || set -- --prefix "$prefix"

# -f: a group that already exists is fine; if the GID is taken by another
# group, that group is used (useradd -g takes the numeric GID).
groupadd "$@" -f -g "$gid" "$group"
if ! getent passwd "$user" >/dev/null || [ -n "$prefix" ]; then
    useradd "$@" -m -s /bin/bash -u "$uid" -g "$gid" "$user"
fi
