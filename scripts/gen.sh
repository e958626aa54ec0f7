#!/usr/bin/env bash
# gen.sh regenerates everything under gen/ from proto/: Go messages, gRPC
# stubs, grpc-gateway handlers and the merged OpenAPI document. It lints the
# protos first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
export PATH="$PWD/.tools/bin:$PATH"
buf lint
# Remove what the generators wrote last time, so renamed or deleted protos
# leave nothing stale behind. Hand-written files (gen/openapiv2/embed.go) stay.
rm -rf gen/forum gen/openapiv2/*.json
buf generate
