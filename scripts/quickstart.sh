#!/usr/bin/env bash
# The main job on the embedded defaults: installs what is needed, then plans examples/dev.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
node dist/cli/bin.js --help
