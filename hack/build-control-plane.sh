#!/usr/bin/env bash
# Builds the local control plane used by `make dev` and the envtest suites — kube-apiserver,
# kube-controller-manager, kubectl and etcd — from Go modules, into $BIN_DIR (default ./bin). No binary is downloaded: the sources come
# from the Go module proxy, so this works where setup-envtest cannot reach its bucket.
#
# Each component is built in a throwaway module under $BIN_DIR/.build so the operator's go.mod never
# sees Kubernetes' or etcd's dependency graph. The script is idempotent: a binary that exists and
# reports the pinned version is left alone.
set -euo pipefail

# Pinned versions: the one place they are set.
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/bin}"
BUILD_DIR="$BIN_DIR/.build"
mkdir -p "$BIN_DIR" "$BUILD_DIR"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off

log() { printf '[control-plane] %s\n' "$*" >&2; }

# staging_version maps a Kubernetes version to its staging modules' version: v1.37.2 -> v0.37.2.
staging_version() { local v="${1#v}"; echo "v0.${v#*.}"; }

# have BIN VERSION_STRING: the binary exists and its version output mentions the pinned version.
have() { [ -x "$BIN_DIR/$1" ] && [ -f "$BIN_DIR/.$1.version" ] && [ "$(cat "$BIN_DIR/.$1.version")" = "$2" ]; }

build_kubernetes() {
  local want="$KUBERNETES_VERSION" sv; sv="$(staging_version "$KUBERNETES_VERSION")"
  if have kube-apiserver "$want" && have kube-controller-manager "$want" && have kubectl "$want"; then
    log "kube-apiserver, kube-controller-manager and kubectl $want present in $BIN_DIR"; return
  fi
  local dir="$BUILD_DIR/kubernetes-$want"
  mkdir -p "$dir"
  log "building kube-apiserver, kube-controller-manager and kubectl $want from k8s.io/kubernetes (cold build takes several minutes)"
  (
    cd "$dir"
    rm -f go.mod go.sum
    go mod init scim-operator.local/control-plane/kubernetes >/dev/null 2>&1
    # Kubernetes' own go.mod replaces every staging module with ./staging/src/...; the published
    # module can only be built when each of them points at its released vX.Y module instead.
    local gomod; gomod="$(go mod download -json "k8s.io/kubernetes@$want" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    [ -n "$gomod" ] || { log "cannot find go.mod of k8s.io/kubernetes@$want"; exit 1; }
    local staging; staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*#\1#p' "$gomod")"
    [ -n "$staging" ] || { log "no staging replaces found in $gomod"; exit 1; }
    {
      echo "require k8s.io/kubernetes $want"
      for m in $staging; do echo "replace $m => $m $sv"; done
    } >> go.mod
    log "replaced $(echo "$staging" | wc -w) staging modules with their $sv releases"
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    go mod tidy -e >/dev/null
    local minor="${want#v1.}"; minor="${minor%%.*}"
    local ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $p.gitVersion=$want -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    for cmd in kube-apiserver kube-controller-manager kubectl; do
      have "$cmd" "$want" && continue
      go build -trimpath -ldflags "$ld" -o "$BIN_DIR/$cmd" "k8s.io/kubernetes/cmd/$cmd"
      echo "$want" > "$BIN_DIR/.$cmd.version"
      log "built $BIN_DIR/$cmd"
    done
  )
}

build_etcd() {
  local want="$ETCD_VERSION"
  if have etcd "$want"; then log "etcd $want present in $BIN_DIR"; return; fi
  local dir="$BUILD_DIR/etcd-$want"
  mkdir -p "$dir"
  log "building etcd $want from go.etcd.io/etcd/server/v3"
  (
    cd "$dir"
    rm -f go.mod go.sum
    go mod init scim-operator.local/control-plane/etcd >/dev/null 2>&1
    echo "require go.etcd.io/etcd/server/v3 $want" >> go.mod
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    go mod tidy -e >/dev/null
    go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$want" \
      -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3
    echo "$want" > "$BIN_DIR/.etcd.version"
    log "built $BIN_DIR/etcd"
  )
}

build_etcd
build_kubernetes
log "control plane ready in $BIN_DIR: $(cd "$BIN_DIR" && ls etcd kube-apiserver kube-controller-manager kubectl | tr '\n' ' ')"
