#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target from the project's fixture and vector files.

Run from anywhere: python3 fuzz/seeds.py. Seeds are named after their source case, so a
re-run rewrites the same files. `cargo fuzz cmin <target>` may later minimise the corpus.
"""
import base64, hashlib, json, pathlib, struct

ROOT = pathlib.Path(__file__).resolve().parent
PROTO = ROOT.parent / "crates" / "kms-proto" / "tests"
CORPUS = ROOT / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + name)).write_bytes(data)


responses = json.loads((PROTO / "fixtures" / "responses.json").read_text())["cases"]
for case in responses:
    body = base64.b64decode(case["body_base64"]) if "body_base64" in case else case["body"].encode()
    if len(body) > 4096:  # the size cases are covered by the fixtures test; keep seeds small
        body = body[:64] + b"..."
    head = b"\n".join(f"{n}:{v}".encode() for n, v in case["headers"])
    write("parse_response", case["name"], struct.pack(">H", case["status"] - 100) + head + b"\n\n" + body)

vectors = json.loads((PROTO / "vectors" / "sdk-hmac-sha256.json").read_text())["cases"]
for case in vectors:
    h = case["headers"]
    date = h.get("X-Sdk-Date", "20261122T080000Z")
    project = case["path"].split("/")[2]
    region = case["host"].split(".")[1] if case["host"].startswith("kms.") else "cn-north-4"
    secs = 1_795_334_400
    write("build_request", case["name"], b"\xff".join([
        project.encode(), region.encode(), b"", case["ak"].encode(), case["sk"].encode(),
        h.get("X-Security-Token", "").encode(), struct.pack(">Q", secs)]))
    pairs = b"\xff".join(f"{n}".encode() + b"\xfe" + v.encode() for n, v in h.items() if n != "X-Sdk-Date")
    write("sign_verify", case["name"], pairs)
    extra = "\n".join(f"{n}:{v}" for n, v in h.items() if n != "X-Sdk-Date")
    write("verify_untrusted", case["name"], b"\xff".join([
        case["expected"]["authorization"].encode(), date.encode(), f"host:{case['host']}\n{extra}".encode()]))

write("build_request", "token-endpoint", b"\xff".join([
    b"0dea2644dc80d5d22ff1c01e3ebea6fc", b"", b"https://kms.internal:8443/gateway/",
    b"MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQ", b"", b"", struct.pack(">Q", 1_795_334_400)]))
write("build_request", "loopback-http", b"\xff".join([
    b"p1", b"", b"http://[::1]:8080", b"AK1", b"SK1", b"", b"\x00"]))
write("verify_untrusted", "compact-separators",
      b"SDK-HMAC-SHA256 Access=AK,SignedHeaders=host;x-sdk-date,Signature=" + b"ab" * 32
      + b"\xff20261122T080000Z\xffhost:kms.example.com")

for i, value in enumerate([b"3", b"0", b" 7 ", b"Sun, 06 Nov 1994 08:49:37 GMT",
                           b"Wed, 21 Oct 2026 07:28:00 GMT", b"-1", b"1.5", b"99999999999999999999999"]):
    write("retry_after", f"{i}-" + hashlib.sha1(value).hexdigest()[:8], value)

for i, value in enumerate(["https://kms.cn-north-4.myhuaweicloud.com", "http://127.0.0.1:8080/base/",
                           "https://[::1]:443", "https://user:pw@x.com", "cn-north-4", "eu-west-101",
                           "0dea2644dc80d5d22ff1c01e3ebea6fc", "http://us%40er:p%3Ass@proxy:3128",
                           "20261122T080000Z", "20000229T000000Z", "https://x.com/a/../b"]):
    write("small_parsers", f"{i}-" + hashlib.sha1(value.encode()).hexdigest()[:8], value.encode())

for d in sorted(CORPUS.iterdir()):
    print(f"{d.name}: {len(list(d.iterdir()))} seeds")
