# The `user` service: Debian's locust with bench/locustfile.py. The compose
# files give the command (target host, the experiment's parameters) and mount
# results/ for the CSVs. Build context: the repository root.
FROM debian:bookworm-slim
ARG UID=1000
ARG GID=1000
ARG USERNAME=user
ARG GROUPNAME=user

COPY compose/images/ /opt/images/
RUN /opt/images/install-packages.sh locust
RUN /opt/images/add-user.sh "${UID}" "${GID}" "${USERNAME}" "${GROUPNAME}"

COPY bench/locustfile.py /opt/bench/locustfile.py
WORKDIR /results
USER ${USERNAME}
ENV THINK_TIME=between
# Debian's python3-locust installs /usr/bin/locust; it is called by that path
# (the experiment's notes: a bare `locust` in `command:` was not found). The
# compose files repeat this command with their entry service as the host.
CMD ["/usr/bin/locust", "-f", "/opt/bench/locustfile.py", "--headless", \
     "-u", "1000", "-r", "100", "--run-time", "10s", "--csv", "/results/output", \
     "-H", "http://web:5901"]
