#!/usr/bin/env bash
# Installs what compat and its tests need on Debian 12 (run as root), then the npm packages.
# Idempotent: apt runs only when a package is missing; npm ci only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# One package per line; the reason is in the comment beside it.
DEB_PACKAGES=(
  mmdebstrap      # debian flavor: builds the userland from Debian's binary packages
  patchelf        # debian flavor: PT_INTERP and DT_RPATH relocation
  bubblewrap      # the sandbox that puts the local repository root at /cvmfs/<repository>
  uidmap          # mmdebstrap's unshare mode
  zstd            # artifact compression (zstd -T0)
  pigz            # artifact compression for .tar.gz on all cores (deterministic with -n)
  tar
  xz-utils
  git
  ca-certificates
  libxml2-utils   # xmllint: tests validate JUnit XML against its schema
  openssh-client  # cvmfs publisher over ssh
  openssh-server  # tests of the cvmfs publisher's ssh transport
  strace          # tests: prove no host library is mapped in layer processes
  time            # bench/audit: GNU time for wall time and peak RSS of whole processes
  binutils        # tests: readelf is the reference for the ELF reader
  postgresql      # tests: the store on PostgreSQL (a throwaway cluster per test file, test/helpers/postgres.ts)
  chromium        # tests: compat serve's pages in a real headless browser (driven by playwright-core)
  fonts-dejavu-core # tests: the browser's screenshots need a font
  qemu-user-static # debian flavor: aarch64 and riscv64 layers on another CPU family (qemu-user)
  binfmt-support  # update-binfmts: registers qemu-user-static's handlers with binfmt_misc (flag F)
  arch-test       # mmdebstrap needs it to build a foreign arch (it checks the arch runs here)
  slurm-wlm       # the slurm executor: tests start slurmctld + slurmd on localhost (test/helpers/slurm.ts)
  slurmctld
  slurmd
  slurm-client    # sbatch, squeue, sacct, scontrol, scancel: what the slurm executor calls
  munge           # Slurm's authentication (the tests start munged themselves)
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "compat needs these Debian packages: ${missing[*]}" >&2
    echo "run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 4
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Foreign arches: apt installs qemu-user-static's binfmt_misc handlers but activates none (policy-rc.d
# keeps the service from starting, and binfmt_misc is not even mounted on a fresh machine).
# `update-binfmts --enable` mounts binfmt_misc and registers every handler (with the F flag, so
# sandboxes need no qemu inside); it is idempotent and leaves handlers already registered alone.
# binfmt_misc is kernel-global: nothing here or in the tests unregisters a handler.
if [[ $(id -u) -eq 0 ]] && command -v update-binfmts >/dev/null; then
  update-binfmts --enable >/dev/null 2>&1 || echo "update-binfmts --enable failed: foreign arches will not build here (compat says what is missing)" >&2
fi

# A real CernVM-FS 2.12 stratum 0 (server and client; not in Debian) for the tests of the cvmfs
# publisher: the build in ../shared/tools/cvmfs. Its install.sh exits 4 when this machine cannot run
# one (not root, not x86_64, no /dev/fuse or overlayfs); those tests then say why and skip.
CVMFS_INSTALL=../shared/tools/cvmfs/install.sh
if ! command -v cvmfs_server >/dev/null && [[ -x $CVMFS_INSTALL ]]; then
  echo "installing CernVM-FS 2.12 ($CVMFS_INSTALL)" >&2
  status=0
  "$CVMFS_INSTALL" >/dev/null || status=$?
  if ((status == 4)); then
    echo "CernVM-FS cannot run on this machine; the tests against a real stratum 0 will skip" >&2
  elif ((status != 0)); then
    exit "$status"
  fi
fi

stamp=node_modules/.compat-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" || ! -x dist/cli/bin.js ]]; then
  echo "installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
# A checkout updated since the last build (git pull) runs what it has, not an older dist/.
if [[ -n $(find src package.json tsconfig.json tsconfig.build.json -newer dist/cli/bin.js -print -quit) ]]; then
  echo "building compat (npm run build)" >&2
  npm run build --silent
fi
