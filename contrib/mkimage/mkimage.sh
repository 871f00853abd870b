#!/bin/bash
# mkimage.sh — build a busybox test image offline, as an OCI or Docker archive.
#
#   mkimage.sh [--format oci|docker] [--layers 1|2|3] [--gzip]
#              [--name docker.io/library/busybox:latest] [--busybox PATH]
#              [--filler MIB] -o FILE
#
# The image holds Debian's static busybox (/bin/busybox from busybox-static),
# a symlink per applet at its usual path (bin/sh, usr/sbin/httpd, ...),
# /etc/passwd and /etc/group (root, nobody, and a user "kuke" 1000:1000),
# and /www/index.html so `busybox httpd -f -p 8080 -h /www` serves a page.
#
# Layers:
#   1  everything in one layer
#   2  layer 1: everything + /etc/kk-removed; layer 2: a whiteout
#      (etc/.wh.kk-removed) deleting it, and /etc/kk-layer2
#   3  layer 1: busybox and applets; layer 2: the rest + /etc/kk-removed
#      + /opq/from-layer2; layer 3: the whiteout, /etc/kk-layer3, and an
#      opaque whiteout (opq/.wh..wh..opq) + /opq/from-layer3
# So with 2 or 3 layers, /etc/kk-removed must be absent from a correctly
# unpacked rootfs; its presence means the whiteout was ignored. With 3,
# /opq holds only from-layer3.
#
# --filler MIB adds /filler.bin (MIB MiB of deterministic pseudo-random data)
# to the first layer, for benchmarks that want a bigger image.
#
# Output is deterministic for a given busybox binary and options: sorted tar
# members, owner 0:0, mtime 0, gzip without name or timestamp, fixed config
# timestamps. That makes digests stable across runs (benchmarks compare like
# with like) and a second import is a true no-op.
#
# OCI archives: oci-layout, index.json (annotations io.containerd.image.name =
# the full name, org.opencontainers.image.ref.name = the tag), blobs/sha256/*.
# Docker archives: the `docker save` v1.2 layout — manifest.json (RepoTags),
# <config hex>.json, <layer id>/layer.tar (+ VERSION, json), repositories.
set -euo pipefail

format=oci
layers=1
gzip=0
name=docker.io/library/busybox:latest
busybox=/bin/busybox
filler=0
out=""

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --format) format=${2:?}; shift 2 ;;
    --layers) layers=${2:?}; shift 2 ;;
    --gzip) gzip=1; shift ;;
    --name) name=${2:?}; shift 2 ;;
    --busybox) busybox=${2:?}; shift 2 ;;
    --filler) filler=${2:?}; shift 2 ;;
    -o | --output) out=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "mkimage: unknown option $1" >&2; usage ;;
    esac
done

[ -n "$out" ] || { echo "mkimage: -o FILE is required" >&2; usage; }
case $format in oci | docker) ;; *) echo "mkimage: --format oci|docker" >&2; exit 2 ;; esac
case $layers in 1 | 2 | 3) ;; *) echo "mkimage: --layers 1|2|3" >&2; exit 2 ;; esac
case $filler in *[!0-9]*) echo "mkimage: --filler takes a number of MiB" >&2; exit 2 ;; esac
[ -x "$busybox" ] || { echo "mkimage: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }

# Split NAME into repository and tag ("docker.io/library/busybox", "latest").
repo=${name%@*}
tag=latest
last=${repo##*/}
if [[ $last == *:* ]]; then
    tag=${last##*:}
    repo=${repo%:*}
fi

case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
armv7l) arch=arm ;;
*) arch=$(uname -m) ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- layer contents ---------------------------------------------------------

add_busybox() { # DIR
    local d=$1 p
    local -a applets dirs
    mkdir -p "$d/bin"
    cp "$busybox" "$d/bin/busybox"
    chmod 0755 "$d/bin/busybox"
    mapfile -t applets < <("$busybox" --list-full | LC_ALL=C sort)
    # One mkdir for every directory, then one ln per applet: forks are what
    # this script spends its time on.
    for p in "${applets[@]}"; do dirs+=("$d/${p%/*}"); done
    mkdir -p "${dirs[@]}"
    for p in "${applets[@]}"; do
        [ "$p" = bin/busybox ] || ln -sf /bin/busybox "$d/$p"
    done
}

add_rest() { # DIR
    local d=$1
    mkdir -p "$d"/{etc,www,tmp,root,home/kuke,proc,sys,dev,var/log,run}
    chmod 1777 "$d/tmp"
    chmod 0700 "$d/root"
    cat >"$d/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
kuke:x:1000:1000:kukeon test user:/home/kuke:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$d/etc/group" <<'EOF'
root:x:0:
kuke:x:1000:
nogroup:x:65534:
EOF
    printf 'hello from kukeon busybox image\n' >"$d/www/index.html"
    if [ "$filler" -gt 0 ]; then
        # Deterministic pseudo-random bytes (incompressible enough to make
        # gzip work): AES-CTR keystream would need openssl; sha256 chaining
        # with a fixed seed does the job with coreutils alone.
        local i=0 seed=kukeon
        : >"$d/filler.bin"
        while [ $((i * 64)) -lt $((filler * 1024)) ]; do
            printf '%s' "$seed$i" | sha256sum | cut -c1-64
            i=$((i + 1))
        done | tr -d '\n' | head -c $((filler * 1024)) >"$work/filler-k"
        for ((i = 0; i < 1024; i++)); do cat "$work/filler-k"; done >"$d/filler.bin"
    fi
}

mkdir -p "$work"/l1 "$work"/l2 "$work"/l3
case $layers in
1)
    add_busybox "$work/l1"
    add_rest "$work/l1"
    ;;
2)
    add_busybox "$work/l1"
    add_rest "$work/l1"
    echo "this file is deleted by a whiteout in layer 2" >"$work/l1/etc/kk-removed"
    mkdir -p "$work/l2/etc"
    : >"$work/l2/etc/.wh.kk-removed"
    echo "layer 2" >"$work/l2/etc/kk-layer2"
    ;;
3)
    add_busybox "$work/l1"
    add_rest "$work/l2"
    echo "this file is deleted by a whiteout in layer 3" >"$work/l2/etc/kk-removed"
    mkdir -p "$work/l3/etc"
    : >"$work/l3/etc/.wh.kk-removed"
    echo "layer 3" >"$work/l3/etc/kk-layer3"
    # An opaque directory: layer 3 hides everything layer 2 put in /opq.
    mkdir -p "$work/l2/opq" "$work/l3/opq"
    echo lower >"$work/l2/opq/from-layer2"
    : >"$work/l3/opq/.wh..wh..opq"
    echo upper >"$work/l3/opq/from-layer3"
    ;;
esac

# --- blobs --------------------------------------------------------------------

mkdir -p "$work/out/blobs/sha256"
tar_det() { # DIR OUTFILE
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        --format=gnu -C "$1" -cf "$2" .
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
# Stores FILE as a blob; prints its hex digest.
put_blob() {
    local h
    h=$(sha "$1")
    mv "$1" "$work/out/blobs/sha256/$h"
    echo "$h"
}

if [ "$gzip" = 1 ]; then
    layer_mt=application/vnd.oci.image.layer.v1.tar+gzip
else
    layer_mt=application/vnd.oci.image.layer.v1.tar
fi

diff_ids=() layer_hex=() layer_size=()
for ((i = 1; i <= layers; i++)); do
    t=$work/layer$i.tar
    tar_det "$work/l$i" "$t"
    diff_ids+=("sha256:$(sha "$t")")
    if [ "$gzip" = 1 ]; then
        gzip -n -6 "$t"
        t=$t.gz
    fi
    layer_size+=("$(size "$t")")
    layer_hex+=("$(put_blob "$t")")
done

join() { local IFS=,; echo "$*"; }
q() { printf '"%s"' "$1"; }

ids=()
hist=()
for d in "${diff_ids[@]}"; do
    ids+=("$(q "$d")")
    hist+=('{"created":"1970-01-01T00:00:00Z","created_by":"contrib/mkimage/mkimage.sh"}')
done
printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/","Labels":{"io.kukeon.test":"busybox"}},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
    "$arch" "$(join "${ids[@]}")" "$(join "${hist[@]}")" >"$work/config.json"
config_size=$(size "$work/config.json")
config_hex=$(put_blob "$work/config.json")

# --- archive ------------------------------------------------------------------

if [ "$format" = oci ]; then
    ls=()
    for ((i = 0; i < layers; i++)); do
        ls+=("{\"mediaType\":\"$layer_mt\",\"digest\":\"sha256:${layer_hex[$i]}\",\"size\":${layer_size[$i]}}")
    done
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
        "$config_hex" "$config_size" "$(join "${ls[@]}")" >"$work/manifest.json"
    manifest_size=$(size "$work/manifest.json")
    manifest_hex=$(put_blob "$work/manifest.json")
    printf '{"imageLayoutVersion":"1.0.0"}' >"$work/out/oci-layout"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"%s","os":"linux"}}]}' \
        "$manifest_hex" "$manifest_size" "$name" "$tag" "$arch" >"$work/out/index.json"
else
    # docker save v1.2: a directory per layer named by a v1 id (any hex
    # string; we use the layer's digest), config named <hex>.json.
    d=$work/docker
    mkdir -p "$d"
    ls=()
    parent=""
    for ((i = 0; i < layers; i++)); do
        id=${layer_hex[$i]}
        mkdir -p "$d/$id"
        mv "$work/out/blobs/sha256/$id" "$d/$id/layer.tar"
        printf '1.0' >"$d/$id/VERSION"
        if [ -n "$parent" ]; then
            printf '{"id":"%s","parent":"%s","created":"1970-01-01T00:00:00Z"}' "$id" "$parent" >"$d/$id/json"
        else
            printf '{"id":"%s","created":"1970-01-01T00:00:00Z"}' "$id" >"$d/$id/json"
        fi
        parent=$id
        ls+=("\"$id/layer.tar\"")
    done
    mv "$work/out/blobs/sha256/$config_hex" "$d/$config_hex.json"
    # RepoTags in the familiar form docker writes ("busybox:latest").
    familiar=${repo#docker.io/}
    familiar=${familiar#library/}
    printf '[{"Config":"%s.json","RepoTags":["%s:%s"],"Layers":[%s]}]' \
        "$config_hex" "$familiar" "$tag" "$(join "${ls[@]}")" >"$d/manifest.json"
    printf '{"%s":{"%s":"%s"}}' "$familiar" "$tag" "$parent" >"$d/repositories"
    rm -rf "$work/out"
    mv "$d" "$work/out"
fi

tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$work/out" -cf "$work/image.tar" $(cd "$work/out" && LC_ALL=C ls -A)
mv "$work/image.tar" "$out"
