#!/usr/bin/env bash
# Proves the README's quick start on a clean Debian 12 root: debootstrap
# --variant=minbase, clone this repository's HEAD into it, then run
# `tools/quickstart.sh demo` and `.ci/run` in a chroot, timing both. Whatever
# the two commands need must come from tools/quickstart.sh's package list.
#   sudo tools/fresh-debian-check.sh ROOT [MIRROR]
# ROOT must not exist (it is left for inspection, nothing mounted). MIRROR
# defaults to the first Debian archive this machine's own apt sources name
# (so the check uses whatever mirror the machine is set up with). Logs:
# ROOT/root/{demo,ci}.log.
# Background and results: tools/FRESH-DEBIAN.md.
set -euo pipefail

root=${1:?usage: $0 ROOT [MIRROR]}
# The first "deb" archive of this machine's apt configuration (one-line
# sources.list or deb822 .sources files).
host_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
  done | head -n 1
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk '/^URIs:/ { print $2; exit }' "$f"
  done | head -n 1
}
mirror=${2:-$(host_mirror | head -n 1)}
[ -n "$mirror" ] || { echo "$0: no Debian archive in this machine's apt sources; give MIRROR" >&2; exit 2; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "$0: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
[ ! -e "$root" ] || { echo "$0: $root exists; give a new directory" >&2; exit 2; }

# Mounts in the order made; cleanup undoes them in reverse.
mounted=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" || umount -l "${mounted[i]}"; done
}
trap cleanup EXIT
mnt() { # target mount-args...
  local target=$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}

echo "==> debootstrap --variant=minbase bookworm $root $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  { echo "debootstrap failed: $root.debootstrap.log" >&2; exit 1; }

# The one thing a standard install (debian-installer, cloud images, containers)
# has that minbase lacks and the tests rely on: /etc/hosts naming localhost.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# The root a mount point, as / is on a real machine (unshare -m needs it for
# the packaging test's throwaway root); then the kernel file systems.
mnt "$root" --bind "$root"
mnt "$root/proc" -t proc proc
mnt "$root/sys" --bind /sys
mnt "$root/dev" --bind /dev
mnt "$root/dev/pts" --bind /dev/pts
mnt "$root/dev/shm" -t tmpfs -o mode=1777 shm
mnt "$root/run" -t tmpfs -o mode=755 run

git clone -q "$repo" "$root/root/nordic"
echo "==> commit $(git -C "$root/root/nordic" log --oneline -1)"

status=0
for step in "demo:bash tools/quickstart.sh demo" "ci:bash .ci/run"; do
  name=${step%%:*}
  cmd=${step#*:}
  start=$(date +%s)
  rc=0
  chroot "$root" bash -c "cd /root/nordic && $cmd" >"$root/root/$name.log" 2>&1 || rc=$?
  echo "==> $cmd: exit $rc, wall time $(($(date +%s) - start)) s (log: $root/root/$name.log)"
  grep -E '^ *[0-9]+/[0-9]+ Test +#|tests passed' "$root/root/$name.log" || true
  [ "$rc" -eq 0 ] || status=1
done
exit $status
