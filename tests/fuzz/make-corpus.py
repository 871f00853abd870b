#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/NAME/).

Run from the top of the tree when a harness or a format changes; the output
is committed (small, deterministic: same script, same bytes). Sources:
examples/manifests, a few tests/bad files, contrib/systemd/kukeond.yaml,
docs/registry.md, the strings of tests/unit/test-registry-parse.c, and
hand-built tars, JSON documents and protobuf messages."""
import glob, hashlib, io, json, os, shutil, struct, tarfile

OUT = "tests/fuzz/corpus"


def put(name, fname, data):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def copy(name, paths):
    for p in paths:
        with open(p, "rb") as f:
            put(name, os.path.basename(p), f.read())


BAD = ["billion-laughs", "deep-nesting", "anchor-self-alias", "doc-duplicate-resource",
       "duplicate-top-key", "image-bad-digest", "port-range", "space-subnet-host-bits",
       "realm-credentials-both", "root-id-conflict", "yaml-unknown-alias", "memory-suffix",
       "cpus-syntax", "volume-relative-target", "type-int"]

# ---- manifests, yaml ----------------------------------------------------
copy("manifest", sorted(glob.glob("examples/manifests/*.yaml")))
copy("manifest", ["tests/bad/%s.yaml" % b for b in BAD])

SHA = "sha256:" + "ab" * 32
STATUS_CELL = """apiVersion: v1beta1
kind: Cell
metadata:
  name: web
status:
  state: Ready
  reason: Started
  message: all containers running
  createdAt: 2026-11-23T05:55:02.123456789Z
  updatedAt: 2026-11-23T05:55:04Z
  readyAt: 2026-11-23T05:55:04Z
  observedGeneration: %s
  cgroupPath: /kukeon/default/default/default/web
  cgroupReady: true
  subtreeControllers: [cpu, memory, io, pids]
  ip: 10.88.0.2
  lastControl: {verb: stop, at: 2026-11-23T05:56:00Z, result: ok}
  containers:
    - id: web
      state: Ready
      containerdId: default_default_web_web
      pid: 4242
      image: docker.io/library/busybox:latest
      restartCount: 0
      startedAt: 2026-11-23T05:55:03Z
      logPath: /opt/kukeon/default/default/default/web/containers/web.log
      observedGeneration: %s
    - id: side
      state: Failed
      reason: ImagePullFailed
      message: "pull: 404 \\"not found\\""
      exitCode: 137
      restartCount: 3
""" % (SHA, SHA)
put("status", "cell.yaml", STATUS_CELL)
put("status", "realm.yaml", "apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: default\n"
    "status:\n  state: Ready\n  namespace: kukeon-default\n")
put("status", "space.yaml", "apiVersion: v1beta1\nkind: Space\nmetadata: {name: default}\n"
    "status: {state: Failed, reason: NetworkSetupFailed, message: 'bridge: EEXIST'}\n")
put("status", "bad-state.yaml", "apiVersion: v1beta1\nkind: Cell\nstatus: {state: Sleeping}\n")
put("status", "bad-exit.yaml",
    "apiVersion: v1beta1\nkind: Cell\nstatus: {containers: [{exitCode: 300}]}\n")

REPORT_OK = """apiVersion: v1beta1
kind: InboxReport
status:
  file: web.yaml
  sha256: %s
  valid: true
  resources:
    - key: default/default/default/web
      kind: Cell
      result: created
    - key: default/default/default/db
      kind: Cell
      result: unchanged
""" % SHA
REPORT_BAD = """apiVersion: v1beta1
kind: InboxReport
status:
  file: broken.yaml
  valid: false
  errors:
    - "broken.yaml:3:7: spec.containers[0].image: missing"
    - "broken.yaml:9:1: yaml: did not find expected key"
  resources: []
"""
put("yaml", "report-valid.yaml", REPORT_OK)
put("yaml", "report-invalid.yaml", REPORT_BAD)
put("yaml", "status-cell.yaml", STATUS_CELL)
copy("yaml", ["examples/manifests/web-sidecar.yaml", "tests/bad/billion-laughs.yaml",
              "tests/bad/anchor-self-alias.yaml", "tests/bad/deep-nesting.yaml"])
put("yaml", "flow.yaml", "a: {b: [1, 2, {c: d}], e: 'x''y', f: \"\\u00e9\\t\"}\n--- |\n  lit\n...\n")

# ---- kukeond.yaml, registries.yaml ------------------------------------------
copy("agent-config", ["contrib/systemd/kukeond.yaml"])
put("agent-config", "small.yaml", "manifests: /srv/m\nworkers: 64\nresync: 1\nonce: true\n")
put("agent-config", "bad-key.yaml", "manifest: /srv/m\n")
put("agent-config", "bad-value.yaml", "workers: 0\nlog-level: loud\nstate: relative\n")
put("agent-config", "empty.yaml", "")

REGISTRIES = """# /etc/kukeon/registries.yaml
authFile: /etc/kukeon/auth.json
tmpDir: /var/tmp
maxConcurrentDownloads: 3
timeoutSeconds: 60
registries:
  - host: 127.0.0.1:5000
    insecure: true
  - host: registry.example.com
    caFile: /etc/kukeon/certs/example-ca.pem
  - host: docker.io
    mirrors:
      - http://127.0.0.1:5001
      - https://mirror.example.com
      - m:5000
"""
put("registries", "docs.yaml", REGISTRIES)
put("registries", "minimal.yaml", "registries: []\n")
put("registries", "bad.yaml", "registries:\n  - host: https://x\n  - host: a\n    mirrors: [ftp://m]\n"
    "  - host: a\nmaxConcurrentDownloads: 17\ntmpDir: rel\n")

# ---- auth.json, WWW-Authenticate ------------------------------------------------
AUTH = ('{"auths": {'
        '"https://index.docker.io/v1/": {"auth": "aHViOmh1YnBhc3M="},'
        '"reg.example.com": {"auth": "dXNlcjpwYXNz"},'
        '"reg.example.com/team": {"auth": "dGVhbTp0cA=="},'
        '"other.example.com": {"username": "o", "password": "op"},'
        '"ghcr.io": {"identitytoken": "tok"},'
        '"127.0.0.1:5000": {"auth": "dXNlcjpwYXNz"},'
        '"empty.example.com": {"auth": ""}'
        '}, "credHelpers": {}}')
put("authfile", "auths.json", AUTH)
put("authfile", "empty.json", "{}")
put("authfile", "bad-base64.json", '{"auths": {"h": {"auth": "!!!!"}}}')
put("authfile", "no-colon.json", '{"auths": {"h": {"auth": "bm9jb2xvbg=="}}}')
put("authfile", "not-object.json", '{"auths": []}')

for i, h in enumerate([
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"',
        'Basic realm="Registry Realm"',
        'Negotiate, basic realm=x, bearer REALM="http://h/t?a=1", '
        'Service=svc ,scope="repo:a\\"b:pull",error="insufficient_scope"',
        'Bearer realm="ftp://x/token"',
        'Basic realm="x" junk',
        'docker.io/library/busybox:1.36@sha256:' + 'ab' * 32 + '\nBasic realm=r',
        '127.0.0.1:5000/team/app:v1\nBearer realm="https://h/t"',
]):
    put("www-authenticate", "h%d.txt" % i, h)

# ---- OCI JSON ---------------------------------------------------------------------
def dg(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

CONFIG = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["PATH=/bin", "A=b"],
               "User": "1000:1000", "WorkingDir": "/srv"},
    "rootfs": {"type": "layers", "diff_ids": [dg(b"layer")]},
}, separators=(",", ":")).encode()
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dg(CONFIG),
               "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": dg(b"layer"), "size": 5}],
}).encode()
INDEX = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": dg(MANIFEST),
         "size": len(MANIFEST), "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": dg(b"a"),
         "size": 1, "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": dg(b"b"),
         "size": 1, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": "application/vnd.example.artifact", "digest": dg(b"c"), "size": 1,
         "platform": {"os": "unknown", "architecture": "unknown"}},
    ]}).encode()
for name in ("oci-json", "json"):
    put(name, "config.json", CONFIG)
    put(name, "manifest.json", MANIFEST)
    put(name, "index.json", INDEX)
put("oci-json", "docker-config.json",
    '{"config":{"Cmd":["sh"],"Env":null,"User":"","WorkingDir":""},"os":"linux",'
    '"architecture":"arm","variant":"v6","rootfs":{"type":"layers","diff_ids":[]}}')
put("json", "scalars.json", '[0, -1.5e-3, 1E+2, true, false, null, "\\u00e9\\ud83d\\ude00\\n", {}]')
put("json", "nested.json", "[" * 40 + "]" * 40)

# ---- tar, archives ---------------------------------------------------------------
def tar_bytes(members, fmt=tarfile.USTAR_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            if data is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif isinstance(data, tuple):
                ti.type = tarfile.SYMTYPE
                ti.linkname = data[0]
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    # tarfile pads to 10 KiB records: keep the entries and the two zero
    # blocks that end the archive, no more
    v = b.getvalue()
    end = len(v)
    while end >= 512 and v[end - 512:end] == bytes(512):
        end -= 512
    return v[:end] + bytes(1024)

LAYER = tar_bytes([("etc/", None), ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
                   ("bin/sh", ("busybox",))])
put("tar", "layer.tar", LAYER)
put("tar", "gnu-long.tar", tar_bytes([("d/" + "n" * 120, b"x")], tarfile.GNU_FORMAT))
put("tar", "pax.tar", tar_bytes([("p/" + "\u00e9" * 60, b"y"), ("../evil", b"z")],
                                tarfile.PAX_FORMAT))

# OCI layout: oci-layout, index.json, blobs/sha256/<hex>
L = LAYER
CFG = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                  "rootfs": {"type": "layers", "diff_ids": [dg(L)]}}).encode()
MAN = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                             "digest": dg(CFG), "size": len(CFG)},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                              "digest": dg(L), "size": len(L)}]}).encode()
IDX = json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": dg(MAN),
     "size": len(MAN), "platform": {"os": "linux", "architecture": "amd64"},
     "annotations": {"org.opencontainers.image.ref.name": "latest",
                     "io.containerd.image.name": "docker.io/library/app:latest"}}]}).encode()
blobs = [("blobs/sha256/" + dg(x)[7:], x) for x in (L, CFG, MAN)]
put("archive", "oci-layout.tar", tar_bytes(
    [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", IDX), ("blobs/", None),
     ("blobs/sha256/", None)] + blobs))
# docker save: manifest.json [{Config, RepoTags, Layers}]
DCFG = CFG
dman = json.dumps([{"Config": dg(DCFG)[7:] + ".json", "RepoTags": ["app:1", "example.com/x/y:2"],
                    "Layers": ["l1/layer.tar"]}]).encode()
put("archive", "docker-save.tar", tar_bytes(
    [("manifest.json", dman), (dg(DCFG)[7:] + ".json", DCFG), ("l1/", None),
     ("l1/layer.tar", L), ("repositories", b'{"app":{"1":"x"}}')]))
put("archive", "empty-manifest.tar", tar_bytes([("manifest.json", b"[]")]))

# ---- gRPC frames, protobuf ---------------------------------------------------
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload

def s(num, text):
    return field(num, 2, text.encode() if isinstance(text, str) else text)

TS = field(1, 0, 1764000000) + field(2, 0, 123456789)
PROCESS = s(1, "default_default_web_web") + s(2, "default_default_web_web") + field(3, 0, 4242) + \
    field(4, 0, 2) + field(9, 0, 137) + s(10, TS)
GET_RESPONSE = s(1, PROCESS)
LIST_PIDS = s(1, field(1, 0, 4242)) + s(1, field(1, 0, 4243))

def frame(msg, flag=0):
    return bytes([flag]) + struct.pack(">I", len(msg)) + msg

put("grpc-frame", "unary", b"\x07" + frame(GET_RESPONSE))
put("grpc-frame", "stream", b"\x42" + frame(LIST_PIDS) + frame(LIST_PIDS) + frame(b""))
put("grpc-frame", "split", b"\x40" + frame(LIST_PIDS) + frame(LIST_PIDS)[:3])
put("grpc-frame", "compressed", b"\x01" + frame(b"x", 1))
put("grpc-frame", "headers", b"\x80HTTP/2 200\r\ncontent-type: application/grpc\r\n"
    b"grpc-status: 5\r\ngrpc-message: container%20%22web%22%3A not found%\r\n\r\n")

# containerd replies: byte 0 indexes the harness's table
TABLE = ["get_container", "list_containers", "create_container", "content_info",
         "content_list_statuses", "read_content", "list_content", "diff_apply", "get_image",
         "list_images", "leases_list", "list_namespaces", "mounts", "stat_snapshot",
         "list_snapshots", "tasks_get", "list_tasks", "list_pids", "tasks_delete", "metrics",
         "wait", "version", "cgroups_v1", "cgroups_v2"]
CONTAINER = s(1, "default_default_web_web") + s(2, s(1, "k") + s(2, "v")) + \
    s(3, "docker.io/library/busybox:latest") + s(4, s(1, "io.containerd.runc.v2")) + \
    s(7, "default_default_web_web") + s(8, "overlayfs")
put("containerd-reply", "get_container", bytes([0]) + s(1, CONTAINER))
put("containerd-reply", "list_containers", bytes([1]) + s(1, CONTAINER) + s(1, CONTAINER))
put("containerd-reply", "tasks_get", bytes([TABLE.index("tasks_get")]) + GET_RESPONSE)
put("containerd-reply", "list_tasks", bytes([TABLE.index("list_tasks")]) + s(1, PROCESS))
put("containerd-reply", "list_pids", bytes([TABLE.index("list_pids")]) + LIST_PIDS)
put("containerd-reply", "wait", bytes([TABLE.index("wait")]) + field(1, 0, 137) + s(2, TS))
put("containerd-reply", "version", bytes([TABLE.index("version")]) + s(1, "1.6.20") + s(2, "abc"))
IMAGE = s(1, "docker.io/library/busybox:latest") + s(3, s(1, "application/vnd.oci.image.index.v1+json")
                                                     + s(2, SHA) + field(3, 0, 1234))
put("containerd-reply", "get_image", bytes([TABLE.index("get_image")]) + s(1, IMAGE))
put("containerd-reply", "cgroups_v2", bytes([TABLE.index("cgroups_v2")]) +
    s(2, field(1, 0, 5) + field(2, 0, 100)) + s(4, field(2, 0, 1 << 20)))

ENVELOPE = lambda topic, url, value: s(1, TS) + s(2, "kukeon-default") + s(3, topic) + \
    s(4, s(1, url) + s(2, value))
put("containerd-event", "exit", ENVELOPE("/tasks/exit", "containerd.events.TaskExit",
                                         s(1, "c1") + s(2, "c1") + field(3, 0, 42) +
                                         field(4, 0, 1) + s(5, TS)))
put("containerd-event", "exec-exit", ENVELOPE("/tasks/exit", "types.containerd.io/containerd.events.TaskExit",
                                              s(1, "c1") + s(2, "exec1") + field(3, 0, 43)))
put("containerd-event", "start", ENVELOPE("/tasks/start", "containerd.events.TaskStart",
                                          s(1, "c1") + field(2, 0, 42)))
put("containerd-event", "delete", ENVELOPE("/tasks/delete", "containerd.events.TaskDelete",
                                           s(1, "c1") + field(2, 0, 42) + field(3, 0, 9)))
put("containerd-event", "oom", ENVELOPE("/tasks/oom", "containerd.events.TaskOOM", s(1, "c1")))
put("containerd-event", "paused", ENVELOPE("/tasks/paused", "containerd.events.TaskPaused", s(1, "c1")))
put("containerd-event", "resumed", ENVELOPE("/tasks/resumed", "containerd.events.TaskResumed", s(1, "c1")))
put("containerd-event", "sync", s(2, "kukeon-sync") + s(3, "/kukeon/sync"))
put("containerd-event", "other", ENVELOPE("/images/create", "containerd.events.ImageCreate", s(1, "x")))

# ---- ctl, image users ------------------------------------------------------------
for v in ["stop", "start\n", "pause", "resume", "restart", "kill", "kill SIGTERM\n", "kill 9",
          "kill HUP extra", "kill SIGBOGUS", "kill WINCH", "kill 65", "frobnicate", "", "  \t\n"]:
    put("ctl", "v-" + (v.strip().replace(" ", "_") or "empty"), v)
put("ctl", "two-lines", "stop\nstart\n")
put("ctl", "nul", "stop\0x")
put("ctl", "high-bytes", "kill \xc2\x9e\xff\n")

PASSWD = ("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
          "app:x:1000:1000::/home/app:/bin/sh\n")
GROUP = "root:x:0:\nwheel:x:10:app,root\napp:x:1000:\n"
for spec in ["app", "1000", "1000:10", "app:wheel", "root", "nobody:app", "42"]:
    put("oci-user", "u-" + spec.replace(":", "_"), spec + "\n" + PASSWD + "--\n" + GROUP)
