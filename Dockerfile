# The jenkins-mesos image: a static binary on distroless, for Marathon
# (examples/marathon.json). Build with `make image` or
#   docker build --build-arg VERSION=0.1.0 -t jenkins-mesos/jenkins-mesos:0.1.0 .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.1.0-dev
RUN make static VERSION=$VERSION

# static-debian12 has CA certificates (https masters and Jenkins) and
# /etc/passwd for nonroot. With state.zk no local directory is needed.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/static/jenkins-mesos /jenkins-mesos
USER nonroot:nonroot
EXPOSE 8090
ENTRYPOINT ["/jenkins-mesos"]
CMD ["run"]
