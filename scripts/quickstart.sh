#!/usr/bin/env bash
# The main job on the embedded defaults: installs what is needed, then for examples/dev.yaml (debian
# flavor) on this machine's CPU family: build → check → pack → verify → publish into a local
# repository under the working dir, and prints the published layer and its artifact.
# Then the update loop over the site config examples/compat.yaml: the same layer built without
# Debian's security updates is published to `staging`; `compat update` rebuilds it (security suite
# included) into a candidate with its package diff, full artifact, delta and gates; an approver's
# key made with `compat keygen` approves it; it is promoted to staging and production; the status
# matrix shows both targets holding the approved sha256.
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

# The update loop (README "The update loop"), over the site config examples/compat.yaml.
site=examples/compat.yaml
state=compat-state
step() { printf '\n== %s\n' "$*"; }
mkdir -p compat-repo/staging/software.example.org compat-repo/production/software.example.org "$state/keys"
[[ -f $state/keys/admin.key ]] || compat keygen -o "$state/keys/admin"

step "staging gets the layer as it was before bookworm's security updates (examples/dev-without-security.yaml)"
old_root=$state/outdated-root/software.example.org
compat build examples/dev-without-security.yaml --arch "$arch" --root "$old_root" --runs-dir "$state/runs"
old=$(compat pack examples/dev-without-security.yaml --arch "$arch" --root "$old_root" -o "$state/outdated-artifacts" --json | json .artifact)
compat publish "$old" --to staging --config "$site"

step "compat update: rebuild from examples/dev.yaml (security suite included), package diff, full artifact + delta, gates"
compat update dev --arch "$arch" --config "$site" --reason "bookworm security updates" --json >"$state/update.json"
id=$(json '.candidate.id' <"$state/update.json")
compat candidate "$id" --config "$site"

step "approve candidate $id (key $state/keys/admin.key), promote it to staging (its delta) and production (the full artifact)"
compat approve "$id" --key "$state/keys/admin.key" --config "$site"
compat promote "$id" --to staging --config "$site"
compat promote "$id" --to production --config "$site"

step "status: which sha256 each target holds"
compat status --config "$site"
compat log --verify --config "$site"

step "compat serve: the dashboard of this site (accounts: compat user)"
if ! compat user list --config "$site" --json | grep -q '"name": "admin"'; then
  compat user add admin --role admin,approver --approver-key "$state/keys/admin.key" --config "$site" --json |
    json .token >"$state/admin.token"
  chmod 600 "$state/admin.token"
fi
cat <<MSG

The web UI and API over this site: the dashboard with the promoted update, its gates, the audit log:
  node dist/cli/bin.js serve --config $site          (then open http://127.0.0.1:8080)
  log in with the API token in $state/admin.token (user admin: admin and approver; compat user add for more)
MSG
