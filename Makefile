# jenkins-mesos build entry points. `make test` works on a fresh machine with
# only Go installed: it installs what the tests need (ZooKeeper,
# python-jenkins, Node.js and a pinned npm package) itself.
GO        ?= go
PKGS      := ./...
# Test packages run one at a time (-p 1): the scale tests (1,000 agent
# connections, 10,000 agents) and the ZooKeeper JVM must not starve each
# other on a 2-core machine. Packages with goroutines and shared state run
# again under the race detector: the emulators, the program, the core, the
# driver, the HA and Jenkins adapters. The integration package itself is
# not among them: its tests drive separate processes (which the detector
# does not see into), and they take minutes.
RACE_PKGS := ./integration/mesosemu/... ./integration/jenkinsemu/... ./integration/emutime/... ./cmd/... ./scheduler/... ./jenkins/...
BENCH     ?= .
BENCHTIME ?= 1s

.PHONY: all build static image test test-deps unit race vet fmt fmt-check bench emulator proto demo

# VERSION is stamped into the binaries (jenkins-mesos version, /version).
VERSION ?= 0.1.0-dev
# STATIC_FLAGS build the release binary: no cgo (it runs on distroless
# static), reproducible paths. The integration tests build the programs
# they run with the same flags.
STATIC_FLAGS = -trimpath -ldflags "-s -w -X main.version=$(VERSION)"

# protoc-gen-go is the version of the protobuf runtime go.mod requires.
PROTOC_GEN_GO_VERSION = $(shell $(GO) list -m -f '{{.Version}}' google.golang.org/protobuf)

all: build

build:
	$(GO) build -o bin/ ./cmd/...

# static is what the Dockerfile builds: bin/static/jenkins-mesos.
static:
	CGO_ENABLED=0 $(GO) build $(STATIC_FLAGS) -o bin/static/ ./cmd/jenkins-mesos

# image needs a Docker engine (not part of make test).
image:
	docker build --build-arg VERSION=$(VERSION) -t jenkins-mesos/jenkins-mesos:$(VERSION) .

# test-deps installs what the tests use when it is missing: from Debian's
# packages a real ZooKeeper (the high-availability tests contend through a
# real one), python-jenkins (a third-party Jenkins client the Jenkins
# emulator is tried with) and Node.js; from npm the pinned mesos-framework
# library (a third-party Mesos scheduler client the Mesos emulator is
# tried with, testdata/mesos-framework/package-lock.json).
MESOS_FRAMEWORK_DIR = integration/mesosemu/testdata/mesos-framework
test-deps:
	@missing=; \
	[ -f /usr/share/java/zookeeper.jar ] || missing="$$missing zookeeper"; \
	[ -f /usr/lib/python3/dist-packages/jenkins/__init__.py ] || missing="$$missing python3-jenkins"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian packages) for the tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@if [ ! -d $(MESOS_FRAMEWORK_DIR)/node_modules/mesos-framework ]; then \
		echo "installing mesos-framework (npm, pinned) for the Mesos emulator's client test"; \
		cd $(MESOS_FRAMEWORK_DIR) && npm ci --no-audit --no-fund --loglevel=error >/dev/null; \
	fi

test: test-deps fmt-check vet
	$(GO) test -count=1 -p 1 -timeout 20m $(PKGS)
	$(GO) test -count=1 -race -p 1 -timeout 20m $(RACE_PKGS)

unit:
	$(GO) test -count=1 -short $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) $(PKGS)

emulator:
	$(GO) run ./cmd/mesos-emulator --agents 2

# proto regenerates proto/state.pb.go: protoc from Debian's protobuf-compiler
# (installed when missing), protoc-gen-go at the version go.mod pins.
proto:
	@if ! command -v protoc >/dev/null; then \
		echo "installing protoc (Debian package protobuf-compiler)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq protobuf-compiler >/dev/null; \
	fi
	GOBIN=$(CURDIR)/bin/tools $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	PATH=$(CURDIR)/bin/tools:$$PATH protoc --go_out=. --go_opt=paths=source_relative proto/state.proto

demo:
	$(GO) run ./cmd/jenkins-mesos demo
