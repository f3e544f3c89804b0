#!/bin/sh
# Let nginx run as the non-root user UID:GID with Debian's compiled-in paths
# and conf/nginx.conf unchanged: the temp directories (/var/lib/nginx) and
# the log directory become the user's, and the access log goes to the
# container's stdout (as in the official nginx image), so `docker compose
# logs nginx` shows it. The error log is stderr already (Debian's default).
# The pid file is put in /tmp by the image's command line
# (-g 'pid /tmp/nginx.pid;'), and port 80 needs no root in a container
# (Docker sets net.ipv4.ip_unprivileged_port_start=0; the compose files say so).
#
#   prepare-nginx.sh UID:GID [ROOT]     ROOT (tests only) instead of /
set -eu
[ $# -ge 1 ] || { echo "usage: $0 UID:GID [ROOT]" >&2; exit 2; }
owner=$1
root=${2:-}

for d in body proxy fastcgi uwsgi scgi; do
    mkdir -p "$root/var/lib/nginx/$d"
done
mkdir -p "$root/var/log/nginx"
rm -f "$root/var/log/nginx/access.log" "$root/var/log/nginx/error.log"
ln -s /dev/stdout "$root/var/log/nginx/access.log"
ln -s /dev/stderr "$root/var/log/nginx/error.log"
chown -R "$owner" "$root/var/lib/nginx" "$root/var/log/nginx"
