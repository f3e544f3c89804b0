# nginx as a non-root user, configured by a conf/ file that the compose file
# mounts unchanged at /etc/nginx/nginx.conf. Build context: the repository root.
FROM debian:bookworm-slim
ARG UID=1000
ARG GID=1000
ARG USERNAME=user
ARG GROUPNAME=user

COPY compose/images/ /opt/images/
RUN /opt/images/install-packages.sh nginx
RUN /opt/images/add-user.sh "${UID}" "${GID}" "${USERNAME}" "${GROUPNAME}"
RUN /opt/images/prepare-nginx.sh "${UID}:${GID}"

USER ${USERNAME}
EXPOSE 80
# Foreground, and the pid file where the user can write it: neither is in
# conf/nginx.conf, which stays the experiment's file.
CMD ["nginx", "-c", "/etc/nginx/nginx.conf", "-g", "daemon off; pid /tmp/nginx.pid;"]
