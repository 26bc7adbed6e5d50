# scim-operator — build, test and run. `make help` lists the targets.

IMG ?= scim-operator:latest
LOCALBIN ?= $(shell pwd)/bin
GO ?= go

# Tool versions, pinned. The control-plane versions (kube-apiserver, kubectl, etcd) are pinned in
# hack/build-control-plane.sh.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)

# The control plane for `make dev` and the envtest suites, built from Go modules.
KUBE_APISERVER ?= $(LOCALBIN)/kube-apiserver
KUBE_CONTROLLER_MANAGER ?= $(LOCALBIN)/kube-controller-manager
ETCD ?= $(LOCALBIN)/etcd
KUBECTL ?= $(LOCALBIN)/kubectl
export KUBEBUILDER_ASSETS ?= $(LOCALBIN)

# The SCIM listener and token of `make dev`.
SCIM_ADDR ?= 127.0.0.1:8080
export SCIM_ADDR
export SCIM_TOKEN

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, the manager's ClusterRole and the unrolled admission policy.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:allowDangerousTypes=false paths="./..." output:crd:artifacts:config=config/crd/bases
	$(GO) run ./hack/policygen -out config/policy/access_bind.yaml

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	$(GO) fmt ./...

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: control-plane
control-plane: $(KUBE_APISERVER) $(KUBE_CONTROLLER_MANAGER) $(ETCD) $(KUBECTL) ## Build kube-apiserver, kube-controller-manager, kubectl and etcd into bin/ (once).

$(KUBE_APISERVER) $(KUBE_CONTROLLER_MANAGER) $(ETCD) $(KUBECTL):
	BIN_DIR=$(LOCALBIN) hack/build-control-plane.sh

.PHONY: test
test: vet control-plane ## Run go vet, the unit tests and the envtest suites.
	$(GO) test ./... -count=1 -timeout 40m $(TEST_ARGS)

.PHONY: conformance
conformance: build control-plane ## Run Microsoft's SCIM test collection (newman) and the IdP conformance specs against a fresh dev environment; report per suite.
	$(GO) build -o $(LOCALBIN)/scim-dev ./hack/dev
	hack/conformance.sh

.PHONY: test-unit
test-unit: ## Run only the tests that need no control plane.
	$(GO) test -short ./... $(TEST_ARGS)

# The fuzz targets, as package:name, each run for FUZZTIME from its seed corpus (testdata/fuzz/<name>/:
# requests of Okta, Entra ID and StrongDM's client, RFC 7644's examples). A failure leaves its input there: commit it as a seed.
FUZZ_TARGETS ?= ./api/v1alpha1:FuzzIdentityKey ./scimserver/filter:FuzzParse ./scimserver/filter:FuzzQuickFilter ./scimserver/patch:FuzzApply \
	./scimserver/patch:FuzzApplyOperation ./scimserver/schema:FuzzCanonicalize ./scimserver:FuzzListQuery \
	./scimserver:FuzzSearchRequest ./scimserver:FuzzBulkRequest
FUZZTIME ?= 10s

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 10s).
	@for t in $(FUZZ_TARGETS); do \
		pkg="$${t%%:*}"; name="$${t##*:}"; \
		echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test "$$pkg" -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

.PHONY: check-generated
check-generated: generate manifests ## Fail when generated files are not the committed ones.
	git diff --exit-code -- api config || { echo "generated files are out of date: run 'make generate manifests' and commit"; exit 1; }

##@ Run

.PHONY: dev
dev: build control-plane ## Start a local control plane and run the manager against it (Ctrl-C stops both).
	$(GO) build -o $(LOCALBIN)/scim-dev ./hack/dev
	exec $(LOCALBIN)/scim-dev --bin-dir $(LOCALBIN) --manager $(LOCALBIN)/manager

.PHONY: bench
bench: build control-plane ## Measure the operator at scale (hack/bench) on a fresh control plane and manager; writes docs/performance.md. BENCH_ARGS=-series runs 1k, 10k and 50k users.
	$(GO) build -o $(LOCALBIN)/scim-bench ./hack/bench
	$(LOCALBIN)/scim-bench --bin-dir $(LOCALBIN) --manager $(LOCALBIN)/manager --out docs/performance.md $(BENCH_ARGS)

SOAK_TIME ?= 10m

.PHONY: soak
soak: build control-plane ## Mixed traffic against two replicas for SOAK_TIME (default 10m), checked against a model of what each client was told; writes docs/performance.md. SOAK_ARGS: more flags (-soak-rate, -soak-clients).
	$(GO) build -o $(LOCALBIN)/scim-bench ./hack/bench
	$(LOCALBIN)/scim-bench --bin-dir $(LOCALBIN) --manager $(LOCALBIN)/manager --out docs/performance.md --soak $(SOAK_TIME) --pprof $(SOAK_ARGS)

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the current kubeconfig.
	$(GO) run ./main.go --scim-bind-address $(SCIM_ADDR) --scim-insecure-http

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager (bin/manager) and the kubectl plugin (bin/kubectl-scim).
	$(GO) build -o $(LOCALBIN)/manager .
	$(GO) build -o $(LOCALBIN)/kubectl-scim ./cmd/kubectl-scim

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	docker push $(IMG)

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUBECTL) apply -k config/crd

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs from the cluster of the current kubeconfig.
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator with image IMG to the cluster of the current kubeconfig.
	mkdir -p $(LOCALBIN)/deploy
	img='$(IMG)'; printf 'resources:\n- ../../config/default\nimages:\n- name: scim-operator\n  newName: %s\n  newTag: "%s"\n' "$${img%:*}" "$${img##*:}" > $(LOCALBIN)/deploy/kustomization.yaml
	$(KUBECTL) apply -k $(LOCALBIN)/deploy

.PHONY: undeploy
undeploy: ## Remove the operator from the cluster of the current kubeconfig.
	$(KUBECTL) delete --ignore-not-found -k config/default

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
