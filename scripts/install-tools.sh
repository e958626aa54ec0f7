#!/usr/bin/env bash
# install-tools.sh installs the code generators at pinned versions into ./.tools/bin.
# Each tool is installed with `go install pkg@version`, so its own go.mod decides its
# dependencies and nothing here leaks into forum's go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOBIN="$PWD/.tools/bin"
mkdir -p "$GOBIN"
tools=(
  github.com/bufbuild/buf/cmd/buf@v1.75.0
  google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
  google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@v2.33.0
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@v2.33.0
)
stamp="$GOBIN/.versions"
want=$(printf '%s\n' "${tools[@]}")
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
for t in "${tools[@]}"; do
  go install "$t"
done
printf '%s\n' "$want" > "$stamp"
