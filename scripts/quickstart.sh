#!/usr/bin/env bash
# The main job on the embedded defaults: installs what is needed, then for examples/dev.yaml (debian
# flavor) on this machine's CPU family: build → check → pack → verify → publish into a local
# repository under the working dir, and prints the published layer and its artifact.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
arch=$(uname -m)
spec=examples/dev.yaml
compat() { node dist/cli/bin.js "$@"; }
json() { node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s)'"$1"'))'; }

compat build "$spec" --arch "$arch"
layer=$(compat build "$spec" --arch "$arch" --dry-run --json | json .target)
compat check "$spec" --arch "$arch"
artifact=$(compat pack "$spec" --arch "$arch" -o artifacts --json | json .artifact)
compat verify "$artifact"
repo=$PWD/compat-repo/software.example.org
mkdir -p "$repo"
published=$(compat publish "$artifact" --to "local:$repo" --json | json .path)
cat <<MSG

Built:      $layer
            (the local repository root ./compat-root/software.example.org stands for /cvmfs/software.example.org)
Artifact:   $artifact
            (manifest beside it: $artifact.manifest.json)
Published:  $published
            (history: node dist/cli/bin.js history --to local:$repo)

Enter the layer:  node dist/cli/bin.js shell $spec --arch $arch
Run a command:    node dist/cli/bin.js shell $spec --arch $arch -- 'python3 -c "import ssl,sqlite3"; locale -a'
MSG
