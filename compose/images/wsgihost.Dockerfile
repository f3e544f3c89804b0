# wsgihost serving pyapp:app: `web` of compose/wsgihost and
# compose/wsgihost_nginx. Built with meson in a build stage; the runtime stage
# gets the binary and only the shared libraries it needs.
# Build context: the repository root.

FROM debian:bookworm-slim AS build
COPY compose/images/ /opt/images/
RUN /opt/images/install-packages.sh build
# What `meson setup` reads: the build file, its options, the C sources, the
# man page it installs, the test sources it declares, and pyapp (linked into
# the build directory).
COPY meson.build meson_options.txt /src/
COPY csrc/ /src/csrc/
COPY doc/ /src/doc/
COPY tests/ /src/tests/
COPY pyapp/ /src/pyapp/
RUN /opt/images/build-wsgihost.sh /src /build /out

FROM debian:bookworm-slim
ARG UID=1000
ARG GID=1000
ARG USERNAME=user
ARG GROUPNAME=user

COPY compose/images/ /opt/images/
RUN /opt/images/install-packages.sh wsgihost
RUN /opt/images/add-user.sh "${UID}" "${GID}" "${USERNAME}" "${GROUPNAME}"

COPY --from=build /out/bin/ /usr/local/bin/
COPY pyapp/ /app/pyapp/
WORKDIR /app
USER ${USERNAME}
EXPOSE 5901
CMD ["wsgihost", "-w", "4", "-b", "0.0.0.0:5901", "pyapp:app"]
