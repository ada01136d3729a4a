#!/usr/bin/env bash
# The main job on the embedded defaults: installs what is needed, builds the development layer
# (examples/dev.yaml, debian flavor) for this machine's CPU family into ./compat-root/, and says
# where it is and how to enter it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
arch=$(uname -m)
spec=examples/dev.yaml
node dist/cli/bin.js build "$spec" --arch "$arch"
layer=$(node dist/cli/bin.js build "$spec" --arch "$arch" --dry-run --json | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).target))')
cat <<MSG

The layer is in $layer
(the local repository root ./compat-root/software.example.org stands for /cvmfs/software.example.org).

Enter it:        node dist/cli/bin.js shell $spec --arch $arch
Run a command:   node dist/cli/bin.js shell $spec --arch $arch -- 'python3 -c "import ssl,sqlite3"; locale -a'
Check it:        node dist/cli/bin.js check $spec --arch $arch
MSG
