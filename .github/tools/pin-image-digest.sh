#!/usr/bin/env bash
# Pins ghcr.io/chatfn/functions in knative/kustomization.yaml to one digest, in place: the
# release workflow records each build with it, and its end-to-end job deploys that build.
# The one image there is the one `digest:`; sed keeps every comment and the layout as they are.
# Usage: pin-image-digest.sh sha256:<64 hex> [kustomization.yaml]
set -euo pipefail
digest=${1:?usage: pin-image-digest.sh sha256:<64 hex> [kustomization.yaml]}
file=${2:-knative/kustomization.yaml}
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "not an image digest: $digest" >&2; exit 1; }
pattern='^([[:space:]]*digest:[[:space:]]*)"?sha256:[0-9a-f]{64}"?'
found=$(grep -cE "$pattern" "$file" || true)
[[ $found == 1 ]] || { echo "$file has $found image digests, expected 1" >&2; exit 1; }
sed -E -i "s/$pattern/\1$digest/" "$file"
