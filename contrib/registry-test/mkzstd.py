#!/usr/bin/python3
"""Re-compresses the layers of an OCI archive (contrib/mkimage/mkimage.sh)
with zstd into an OCI image layout directory:

    mkzstd.py ARCHIVE.tar OUTDIR [TAG]

Layers become application/vnd.oci.image.layer.v1.tar+zstd (compressed by
the zstd command); the config (and so the diff_ids and chain IDs) is
unchanged. Push it with `skopeo copy oci:OUTDIR:TAG docker://HOST/NAME:TAG`.
Prints the new manifest digest. Test use only.
"""
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def main():
    archive, out = sys.argv[1], sys.argv[2]
    tag = sys.argv[3] if len(sys.argv) > 3 else "latest"
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with tarfile.open(archive) as t:
        t.extractall(out)
    blobs = os.path.join(out, "blobs", "sha256")

    def path(digest):
        return os.path.join(blobs, digest.split(":", 1)[1])

    def write(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(path(d), "wb") as f:
            f.write(data)
        return d, len(data)

    with open(os.path.join(out, "index.json")) as f:
        top = json.load(f)
    desc = top["manifests"][0]
    with open(path(desc["digest"]), "rb") as f:
        manifest = json.load(f)
    for layer in manifest["layers"]:
        with open(path(layer["digest"]), "rb") as f:
            raw = f.read()
        if layer["mediaType"].endswith("+gzip"):
            raw = gzip.decompress(raw)
        z = subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, check=True,
                           stdout=subprocess.PIPE).stdout
        layer["digest"], layer["size"] = write(z)
        layer["mediaType"] = ZSTD
    md, ms = write(json.dumps(manifest, sort_keys=True).encode())
    desc.update(digest=md, size=ms)
    desc.setdefault("annotations", {})["org.opencontainers.image.ref.name"] = tag
    top["manifests"] = [desc]
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(top, f)
    print(md)


if __name__ == "__main__":
    main()
