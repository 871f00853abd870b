#!/usr/bin/python3
"""Turns a single-platform OCI archive (contrib/mkimage/mkimage.sh) into an
OCI image layout directory whose tag names a multi-platform index:

    mkindex.py ARCHIVE.tar OUTDIR [TAG]

The index lists, in this order: linux/arm64/v8 (the same layers under a
config that says arm64), linux/arm/v7 (likewise), then the archive's own
manifest (this machine's platform). So a client that takes the first entry
instead of matching the platform gets the wrong manifest. Push it with
`skopeo copy --all oci:OUTDIR:TAG docker://HOST/NAME:TAG`. Prints the
digests as JSON: {"index", "native", "arm64", "arm"}. Test use only.
"""
import hashlib
import json
import os
import shutil
import sys
import tarfile

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def main():
    archive, out = sys.argv[1], sys.argv[2]
    tag = sys.argv[3] if len(sys.argv) > 3 else "latest"
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with tarfile.open(archive) as t:
        t.extractall(out)
    blobs = os.path.join(out, "blobs", "sha256")

    def read(digest):
        with open(os.path.join(blobs, digest.split(":", 1)[1]), "rb") as f:
            return f.read()

    def write(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d.split(":", 1)[1]), "wb") as f:
            f.write(data)
        return d, len(data)

    with open(os.path.join(out, "index.json")) as f:
        top = json.load(f)
    native_desc = top["manifests"][0]
    native = json.loads(read(native_desc["digest"]))
    config = json.loads(read(native["config"]["digest"]))

    def variant(arch, var):
        c = dict(config, architecture=arch, variant=var)
        cd, cs = write(json.dumps(c, sort_keys=True).encode())
        m = dict(native, config=dict(native["config"], digest=cd, size=cs))
        md, ms = write(json.dumps(m, sort_keys=True).encode())
        return {"mediaType": OCI_MANIFEST, "digest": md, "size": ms,
                "platform": {"os": "linux", "architecture": arch, "variant": var}}

    arm64 = variant("arm64", "v8")
    arm = variant("arm", "v7")
    nat = {"mediaType": OCI_MANIFEST, "digest": native_desc["digest"],
           "size": native_desc["size"],
           "platform": {"os": config["os"], "architecture": config["architecture"]}}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [arm64, arm, nat]}
    idd, ids = write(json.dumps(index, sort_keys=True).encode())
    top = {"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, "digest": idd, "size": ids,
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(top, f)
    print(json.dumps({"index": idd, "native": nat["digest"], "arm64": arm64["digest"],
                      "arm": arm["digest"]}))


if __name__ == "__main__":
    main()
