#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, type-check, build and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
CI=${CI:-1} npm test
