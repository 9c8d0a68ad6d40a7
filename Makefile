# kubectl-winimage. `make demo` runs the plugin on a built-in local cluster;
# `make test` runs every test, end to end included.
SHELL := bash
PKG      := github.com/winimage-io/kubectl-winimage
# A release tag (vX.Y.Z) when there is one, else a semantic dev version.
VERSION  ?= $(shell v=$$(git describe --tags --exact-match 2>/dev/null); case "$$v" in (v[0-9]*) echo $$v;; (*) echo v0.1.0-dev.$$(git rev-parse --short HEAD 2>/dev/null || echo unknown);; esac)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The daemon image `warm` deploys by default: what `make image` pushed last.
DAEMON_IMAGE ?= $(shell cat dist/daemon-image.ref 2>/dev/null)
IMAGE_REPO ?= ghcr.io/winimage-io/winimage-daemon
# Archive entries carry the commit's time, so archives depend on the tree only.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
LDFLAGS  := -s -w -X $(PKG)/daemon/contract/buildinfo.Version=$(VERSION) -X $(PKG)/daemon/contract/buildinfo.Commit=$(COMMIT) -X '$(PKG)/daemon/contract/buildinfo.DaemonImage=$(DAEMON_IMAGE)'
DEMO_DIR ?= $(CURDIR)/.demo
# The kubelet stand-in runs the locally built daemon whatever the image says.
DEMO_DAEMON_IMAGE ?= winimage-daemon:demo
BIN      := $(CURDIR)/bin
TEST_TIMEOUT ?= 40m
# The daemon's end-to-end suite runs again on each containerd line EKS
# Windows AMIs ship: 1.7.x up to Kubernetes 1.33, 2.1.x from 1.34.
CONTAINERD_LINES ?= 1.7 2.1
# Fuzz budgets are execution counts: a duration races Go 1.26's fuzzing
# coordinator at its deadline (golang/go#75804) and fails with a bare
# "context deadline exceeded". 30k runs take 10–60 s here, 2M over 10 min.
FUZZ_SHORT ?= 30000x
FUZZ_TIME ?= 2000000x

.PHONY: all build docs rig check tidy lint prepare checks suites test unit vet cross wine demo clean bench fuzz dist image

all: build

build:
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-winimage ./cmd/kubectl-winimage
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/winimage-daemon ./cmd/winimage-daemon

# The command reference in docs/reference, rendered from the cobra tree;
# a unit test fails when the checked-in copy is stale.
docs:
	go run ./cmd/winimage-release docs

# Builds (first run) or finds in the cache the rig's components.
rig:
	go run ./test/cmd/rig build

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	go vet ./...
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go vet -trimpath ./cmd/... ./plugin/... ./daemon/...

# go.mod and go.sum say exactly what the code imports.
tidy:
	go mod tidy -diff

# staticcheck at a fixed version, run from the module proxy so it adds
# nothing to go.mod.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	go run $(STATICCHECK) ./...

# The fast lane, a few minutes warm: formatting, vet on both platforms,
# tidiness, staticcheck and the unit tests under the race detector (every
# package but the end-to-end tests and benchmarks, which -short skips and
# whose race-instrumented build would only cost time). Test results are
# cached, so `make test` after it repeats none of its work.
UNIT_PACKAGES = $(shell go list ./... | grep -v -e /test/e2e -e /test/bench)
check: vet tidy lint
	@echo "go test -short -race <every package but test/e2e and test/bench>"
	@go test -short -race $(UNIT_PACKAGES)

# -trimpath and no cgo, as release builds, for every platform the tests
# build the daemon for (the host's mains, the daemon image's windows entry):
# the end-to-end tests then only link. Built here, once, because go test
# runs packages side by side and two cold builds of one tree compile it
# twice. The windows vet above uses the same flags, so its compiles are
# shared. The image's linux/arm64 entry (`make image`) is left to releases:
# its cold compile cost 5 minutes of every cold run, and it is the same
# code as linux/amd64 for another GOARCH.
cross:
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath ./cmd/...
	CGO_ENABLED=0 go build -trimpath -o /dev/null ./cmd/...

unit:
	go test -short -count=1 ./...

# The rig build runs beside check and cross: each alone leaves a core idle
# on long chains of dependent packages and while modules download.
prepare:
	@mkdir -p $(BIN); ( go run ./test/cmd/rig build > $(BIN)/rig-build.log 2>&1; echo $$? > $(BIN)/rig-build.rc ) & \
	$(MAKE) --no-print-directory check cross; status=$$?; wait; \
	echo "rig build:"; cat $(BIN)/rig-build.log; \
	test $$status = 0 && test "$$(cat $(BIN)/rig-build.rc)" = 0

# The daemon's Windows code, executed: its packages' windows/amd64 test
# binaries run under Wine (installed on first use, as root, with a stub for
# the ProcessPrng Wine 8.0 lacks; see test/wine). Tests that Wine cannot run
# skip themselves by name, and each skip is printed with its reason.
WINE_PACKAGES ?= ./daemon/... ./cmd/winimage-daemon ./test/wine/...
wine:
	go run ./test/cmd/wine -bin $(BIN)/wine $(WINE_PACKAGES) -- -test.short

# Fuzz targets as name:package: the bake component generator and the
# template around it, and the parsers of what nodes and ConfigMaps hand the
# plugin and the daemon.
FUZZ_TARGETS ?= FuzzComponent:./plugin/bake/ FuzzTemplate:./plugin/bake/cloudformation/ FuzzParseProgress:./daemon/contract/ FuzzParseUnpinResult:./daemon/contract/ FuzzParse:./daemon/contract/imagelist/
# make fuzz also runs these, which are not parsers.
FUZZ_MORE ?= FuzzEscapedTextHasNoControls:./plugin/terminal/

# The daemon's Windows tests under Wine and a short run of each fuzz
# target: both mostly compile (for windows, fuzz-instrumented).
checks:
	$(MAKE) --no-print-directory wine
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "go test -run '^$$' -fuzz '^$${t%%:*}$$' -fuzztime $(FUZZ_SHORT) $${t#*:}"; \
	  go test -run '^$$' -fuzz "^$${t%%:*}\$$" -fuzztime $(FUZZ_SHORT) $${t#*:}; \
	done

# The tests rerun on each containerd line, listed by name in
# test/e2e/containerd_lines.txt, as one -run pattern.
LINE_TESTS = ^($(shell grep -v '^\#' test/e2e/containerd_lines.txt | paste -sd'|'))$$

# Unit and end-to-end tests, then the daemon's suite on each containerd line.
suites:
	go test -count=1 -timeout $(TEST_TIMEOUT) ./...
	@# The lines run side by side: their tests mostly wait on throttled
	@# registries and daemons, so two at once take little more than one.
	@mkdir -p $(BIN); for line in $(CONTAINERD_LINES); do \
	  ( WINIMAGE_RIG_CONTAINERD=$$line go test -count=1 -timeout $(TEST_TIMEOUT) -run "$(LINE_TESTS)" ./test/e2e/ > $(BIN)/e2e-containerd-$$line.log 2>&1; \
	    echo $$? > $(BIN)/e2e-containerd-$$line.rc ) & \
	done; wait; fail=0; for line in $(CONTAINERD_LINES); do \
	  echo "daemon end-to-end suite on containerd $$line:"; cat $(BIN)/e2e-containerd-$$line.log; \
	  test "$$(cat $(BIN)/e2e-containerd-$$line.rc)" = 0 || fail=1; \
	done; exit $$fail

# checks runs beside suites: the end-to-end tests leave about half of the
# two cores idle (they wait on rigs and throttled registries), and checks'
# compiles fill it. Its output is printed once suites are done.
test: prepare
	@mkdir -p $(BIN); ( $(MAKE) --no-print-directory checks > $(BIN)/checks.log 2>&1; echo $$? > $(BIN)/checks.rc ) & \
	$(MAKE) --no-print-directory suites; status=$$?; wait; \
	echo "Wine and short fuzz:"; cat $(BIN)/checks.log; \
	test $$status = 0 && test "$$(cat $(BIN)/checks.rc)" = 0

# Every fuzz target, longer.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS) $(FUZZ_MORE); do \
	  echo "go test -run '^$$' -fuzz '^$${t%%:*}$$' -fuzztime $(FUZZ_TIME) $${t#*:}"; \
	  go test -run '^$$' -fuzz "^$${t%%:*}\$$" -fuzztime $(FUZZ_TIME) $${t#*:}; \
	done

demo: build
	WINIMAGE_BIN_DIR=$(BIN) go run ./test/cmd/rig up --fleet test/fleets/demo.yaml --dir $(DEMO_DIR) --daemon $(BIN)/winimage-daemon \
	  --exec 'PATH=$(BIN):$$PATH kubectl winimage version' \
	  --exec 'PATH=$(BIN):$$PATH kubectl winimage audit --kubelet-config --baked-ami ami-0d4e5f6a7b8c90004' \
	  --exec 'kubectl get nodes -L node.kubernetes.io/windows-build,eks.amazonaws.com/nodegroup-image,karpenter.sh/nodepool' \
	  --exec 'PATH=$(BIN):$$PATH kubectl winimage bake --node-stats $(foreach i,servercore:ltsc2019 servercore:ltsc2022 nanoserver:ltsc2022,--ami-cached $$WINIMAGE_RIG_REGISTRY/windows/$(i))' \
	  --exec 'PATH=$(BIN):$$PATH kubectl winimage bake -o cloudformation --cluster-name demo $(foreach i,servercore:ltsc2019 servercore:ltsc2022 nanoserver:ltsc2022,--ami-cached $$WINIMAGE_RIG_REGISTRY/windows/$(i)) > $(DEMO_DIR)/warm-ami.yaml && echo "template written to $(DEMO_DIR)/warm-ami.yaml"' \
	  --exec 'PATH=$(BIN):$$PATH kubectl winimage warm --os linux -l eks.amazonaws.com/nodegroup=warm-demo --daemon-image $(DEMO_DAEMON_IMAGE) --disk-threshold 0.85 --wait --timeout 3m $$WINIMAGE_RIG_REGISTRY/shop/web:2.3.1 $$WINIMAGE_RIG_REGISTRY/shop/cart:1.8.0 $$WINIMAGE_RIG_REGISTRY/tools/log-shipper:1.4' \
	  --exec 'PATH=$(BIN):$$PATH kubectl winimage warm status --os linux -l eks.amazonaws.com/nodegroup=warm-demo -o wide' \
	  --exec 'PATH=$(BIN):$$PATH kubectl winimage audit --sections startup --baked-ami ami-0d4e5f6a7b8c90004' \
	  $(DEMO_ARGS)

# Release archives for krew (linux, darwin, windows × amd64, arm64), their
# checksums and krew/winimage.yaml; byte-identical for the same tree.
dist:
	go run ./cmd/winimage-release dist --version $(VERSION) --commit $(COMMIT) --daemon-image '$(DAEMON_IMAGE)' --out dist --manifest krew/winimage.yaml

# The daemon image index (windows/amd64 per Server build, linux/amd64 and
# arm64), built without Docker and pushed to IMAGE_REPO; its digest goes to
# dist/daemon-image.ref, which the next build stamps in as warm's default.
image:
	mkdir -p dist
	go run ./cmd/winimage-release image --repo $(IMAGE_REPO):$(VERSION) --version $(VERSION) --commit $(COMMIT) --mtime $(SOURCE_DATE_EPOCH) --ref-file dist/daemon-image.ref $(IMAGE_ARGS)

clean:
	rm -rf $(BIN) $(DEMO_DIR) dist

# Benchmarks with goals, printed as ratios against baselines measured in the
# same run (see README).
bench: rig
	go test -run '^$$' -bench . -benchtime 1x -timeout 120m ./test/bench/
