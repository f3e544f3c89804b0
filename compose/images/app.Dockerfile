# The Flask app with Debian's Flask and gunicorn: `web` of compose/flask,
# compose/flask_gunicorn and compose/flask_gunicorn_nginx (the command picks
# the dev server or gunicorn). Build context: the repository root.
FROM debian:bookworm-slim

# The host user's ids, so files the container writes to bind mounts are the
# host user's (see add-user.sh).
ARG UID=1000
ARG GID=1000
ARG USERNAME=user
ARG GROUPNAME=user

COPY compose/images/ /opt/images/
RUN /opt/images/install-packages.sh app
RUN /opt/images/add-user.sh "${UID}" "${GID}" "${USERNAME}" "${GROUPNAME}"

COPY pyapp/ /app/pyapp/
WORKDIR /app
USER ${USERNAME}
EXPOSE 5901
CMD ["gunicorn", "-w", "4", "-b", "0.0.0.0:5901", "pyapp:app"]
