#!/usr/bin/python3
"""A minimal Docker token issuer for tests of the Bearer flow.

    token-issuer.py --dir DIR --user U --password P [--issuer I] [--service S]

Generates an RSA key and a self-signed certificate (DIR/token.pem: the
registry's `auth: token: rootcertbundle`), listens on 127.0.0.1 on a free
port and writes that port to DIR/port once it accepts connections.

GET /token?service=S&scope=repository:NAME:pull[,push] with HTTP Basic
credentials U:P answers {"token", "access_token", "expires_in", "issued_at"}:
an RS256 JWT with the certificate in its x5c header, granting the pull
scope asked for. Anything else is 401. Anonymous requests are refused, so a
client that does not send its credentials to the realm fails visibly.
Requests are counted in DIR/requests (one line each) so tests can see the
token cache at work. Loopback only; test use only.
"""
import argparse
import base64
import datetime
import json
import os
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_cert(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kukeon test token issuer")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--issuer", default="kukeon-test-issuer")
    ap.add_argument("--service", default="kukeon-test-registry")
    ap.add_argument("--expires-in", type=int, default=300)
    a = ap.parse_args()

    key, cert = make_cert(os.path.join(a.dir, "token.pem"))
    x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    expected = "Basic " + base64.b64encode(f"{a.user}:{a.password}".encode()).decode()
    log = os.path.join(a.dir, "requests")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def deny(self):
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED",
                                           "message": "invalid username or password"}]}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            q = urllib.parse.parse_qs(url.query)
            with open(log, "a") as f:
                f.write(self.path + "\n")
            if url.path != "/token" or self.headers.get("Authorization") != expected:
                return self.deny()
            access = []
            for scope in q.get("scope", []):
                parts = scope.split(":")
                if len(parts) == 3 and parts[0] == "repository":
                    acts = [x for x in parts[2].split(",") if x == "pull"]
                    access.append({"type": "repository", "name": parts[1], "actions": acts})
            now = int(time.time())
            header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
            claims = {"iss": a.issuer, "sub": a.user, "aud": q.get("service", [a.service])[0],
                      "exp": now + a.expires_in, "nbf": now - 60, "iat": now,
                      "jti": str(uuid.uuid4()), "access": access}
            signing = (b64url(json.dumps(header).encode()) + "." +
                       b64url(json.dumps(claims).encode()))
            sig = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
            token = signing + "." + b64url(sig)
            body = json.dumps({"token": token, "access_token": token,
                               "expires_in": a.expires_in,
                               "issued_at": datetime.datetime.utcnow().isoformat() + "Z"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = os.path.join(a.dir, ".port")
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, os.path.join(a.dir, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
