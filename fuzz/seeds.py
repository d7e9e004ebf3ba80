#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target from the project's fixture and vector files.

Run from anywhere: python3 fuzz/seeds.py [target...] (only the targets named, when any are).
Seeds are named after their source case, so a re-run rewrites the same files. `cargo fuzz cmin <target>` may later minimise the corpus.
"""
import base64, hashlib, json, pathlib, struct, sys

ROOT = pathlib.Path(__file__).resolve().parent
PROTO = ROOT.parent / "crates" / "kms-proto" / "tests"
CORPUS = ROOT / "corpus"
ONLY = set(sys.argv[1:])


def write(target, name, data):
    if ONLY and target not in ONLY:
        return
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

# small_parsers also reads every input as a regions file (YAML, the KMS section read strictly).
LAUGHS = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9))
regions_files = {
    "example": "KMS:\n  - id: cn-north-4\n    endpoint: 'https://kms.cn-north-4.myhuaweicloud.com'\n"
               "  - id: cn-east-3\n    endpoints:\n      - 'https://kms1.example'\n      - 'https://kms2.example'\n"
               "ECS:\n  - id: cn-north-4\n    endpoint: https://ecs.cn-north-4.myhuaweicloud.com\n",
    "flow": 'KMS: [{id: cn-north-4, endpoint: "https://a"}]',
    "both-keys-lower-case": "kms:\n  - endpoints: [https://b, 'https://c,d']\n    id: CN-North-4\n    endpoint: >-\n      https://a\n",
    "other-services": "\ufeff# regions\n---\nECS: &e [{id: cn-north-4, endpoint: https://ecs}]\nEVS: *e\n? [complex, key]\n: {<<: *e}\n"
                      "KMS:\r\n  - id: cn-north-4\r\n    endpoint: \"https://\\u0061\"\r\n...\n",
    "billion-laughs-elsewhere": LAUGHS + "KMS:\n  - id: cn-north-4\n    endpoint: https://a\nECS: [*l8, *l8, *l8]\n",
    "billion-laughs-in-kms": LAUGHS + "KMS:\n  - id: cn-north-4\n    endpoints: *l8\n",
    "typo": "KMS:\n  - id: cn-north-4\n    endpiont: https://a\n",
    "duplicates": "KMS:\n  - {id: cn-north-4, endpoint: a}\n  - {id: CN-NORTH-4, endpoint: b}\nkms: []\n",
    "two-documents": "KMS: []\n---\nKMS: []\n",
    "deep": "ECS: " + "[" * 70 + "]" * 70 + "\nIAM:\n" + "- " * 70 + "x\n",
}
for name, value in regions_files.items():
    write("small_parsers", "regions-" + name, value.encode())

# --- credentials: the credential document, profile files, the source machine ---------------
AK, SK = "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
TOKEN = "gQpjbi1ub3J0aC00jD0DHxz0jGdfSecurityTokenExample"
EXP = "2026-12-01T03:50:07.574000Z"


def doc(fields, envelope="credential"):
    return json.dumps({envelope: fields} if envelope else fields, separators=(",", ":")).encode()


def snake(ak=AK, sk=SK, token=TOKEN, exp=EXP):
    return {"access": ak, "secret": sk, "securitytoken": token, "expires_at": exp}


documents = {
    "metadata": doc(snake()),
    "plural-envelope": doc(snake(), "credentials"),
    "camel-flat": doc({"accessKeyId": AK, "secretAccessKey": SK, "securityToken": TOKEN, "expiration": EXP}, None),
    "camel-envelope": doc({"accessKeyId": AK, "secretAccessKey": SK, "securityToken": TOKEN, "expiration": EXP}),
    "python-snake": doc({"access_key_id": AK, "secret_access_key": SK, "security_token": TOKEN, "expires_at": EXP}),
    "empty-and-null-fall-through": doc({"access": "", "accessKeyId": AK, "secret": None, "secretAccessKey": SK,
                                        "securitytoken": TOKEN, "expires_at": EXP, "user": {"id": 1}}),
    "credential-wins": b'{"credentials":42,"credential":' + doc(snake(), None) + b"}",
    "expiry-9-digits": doc(snake(exp="2020-01-08T03:50:07.123456789Z")),
    "expiry-offset": doc(snake(exp="2020-01-08T11:50:07+08:00")),
    "expiry-negative-offset": doc(snake(exp="2020-01-07T22:50:07.25-05:00")),
    "expiry-lower-case": doc(snake(exp="2020-01-08t03:50:07z")),
    "expiry-epoch": doc(snake(exp="1970-01-01T00:00:00Z")),
    "expiry-before-1970": doc(snake(exp="0001-01-01T00:00:00Z")),
    "expiry-year-9999": doc(snake(exp="9999-12-31T23:59:59.999999999-23:59")),
    "expiry-leap-second": doc(snake(exp="2016-12-31T23:59:60Z")),
    "expiry-python-no-zone": doc(snake(exp="2020-01-08T03:50:07.574000")),
    "expiry-date-only": doc(snake(exp="2020-01-08")),
    "expiry-number": doc({**snake(), "expires_at": 1578455407}),
    "not-json": b"<html>502 Bad Gateway</html>",
    "empty": b"",
    "truncated": doc(snake())[:40],
    "array": b"[]",
    "credential-is-the-secret": doc(SK),
    "no-access": doc({**snake(), "access": None}),
    "secret-number": doc({**snake(), "secret": 12345678}),
    "no-token": doc({k: v for k, v in snake().items() if k != "securitytoken"}),
    "access-comma": doc(snake(ak="AK,X")),
    "secret-newline": doc(snake(sk=SK + "\n")),
    "secret-del": doc(snake(sk="SeCrEt\x7fVaLuE")),
    "secret-unicode": doc(snake(sk="密钥sk-secret-value")),
    "token-space": doc(snake(token=TOKEN + " x")),
    "secret-spells-the-message": doc(snake(sk="credential document", token="credential")),
    "secret-is-the-ak": doc(snake(ak=SK[:20], sk=SK[:20])),
    "syntax-error-after-secret": b'{"secret":"' + SK.encode() + b'" ',
    "escaped-secret": b'{"credential":{"access":"AK","secret":"\\u0053K\\n","securitytoken":"T","expires_at":"' + EXP.encode() + b'"}}',
}
for name, body in documents.items():
    write("credential_document", name, body)

# profile_files: first byte = bit 0 section (0 basic, 1 global), bits 1-2 KooCLI profile
# (0 current, 1 "default", 2 "p1", 3 the name up to the first 0xFF).
BASIC, GLOBAL = 0, 1
CURRENT, DEFAULT, P1, NAMED = 0, 2, 4, 6
INI = f"[basic]\nak = {AK}\nsk = {SK}\nproject_id = 0dea2644dc80d5d22ff1c01e3ebea6fc\nregion = cn-north-4\n\n[global]\nak = GLOBALAK\nsk = globalsk\ndomain_id = d0m41n\n"
profiles = {
    "basic": (BASIC, INI),
    "global": (GLOBAL, INI),
    "bom-crlf": (BASIC, "\ufeff" + INI.replace("\n", "\r\n")),
    "comments-colons-case": (BASIC, "# mine\n; also\n[BASIC]\nAK: " + AK + "\nSk = " + SK + "\nunknown = x\n[other]\nk=v\n"),
    "security-token": (BASIC, f"[basic]\nak = {AK}\nsk = {SK}\nsecurity_token = {TOKEN}\n"),
    "token-without-keys": (BASIC, f"[basic]\nsecurity_token = {TOKEN}\n"),
    "ak-without-sk": (BASIC, f"[basic]\nak = {AK}\n"),
    "duplicate-key": (BASIC, f"[basic]\nak = {AK}\nsk = {SK}\nsk = other-secret-value\n"),
    "duplicate-section": (GLOBAL, "[basic]\nak = A\n[Basic]\nsk = s\n[global]\n"),
    "outside-section": (BASIC, f"sk = {SK}\n[basic]\n"),
    "syntax": (BASIC, f"[basic]\nak = {AK}\njust words\n"),
    "unclosed-section": (BASIC, "[basic\nak = A\n"),
    "quoted": (BASIC, f'[basic]\nak = {AK}\nsk = "{SK}"\n'),
    "inline-comment": (BASIC, f"[basic]\nak = {AK} # mine\nsk = {SK}\n"),
    "missing-section": (GLOBAL, f"[basic]\nak = {AK}\nsk = {SK}\n"),
    "empty-section": (BASIC, "[basic]\n[global]\nak=A\nsk=s\n"),
    "federation": (GLOBAL, "[global]\nidp_id = idp-1\nid_token_file = /var/run/id_token\niam_endpoint = https://iam.example.com\ndomain_id = d1\n"),
    "idp-without-file": (BASIC, "[basic]\nidp_id = idp-1\n"),
    "bad-values": (BASIC, "[basic]\nproject_id = bad id\nregion = cn north\niam_endpoint = ftp://x\n"),
    "sk-with-tab": (BASIC, f"[basic]\nak = {AK}\nsk = sec\tret-value-here\n"),
    "not-utf8": (BASIC, "[basic]\nak = A\nsk = s\x80\x81\n"),
    "empty": (BASIC, ""),
}
for name, (flags, text) in profiles.items():
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    if name == "not-utf8":
        data = b"[basic]\nak = A\nsk = s\x80\x81\n"
    write("profile_files", "ini-" + name, bytes([flags]) + data)


def koo(profiles, **top):
    return json.dumps({"language": "en", **top, "profiles": profiles}, indent=1).encode()


P = {"name": "default", "mode": "AKSK", "accessKeyId": AK, "secretAccessKey": SK, "securityToken": "",
     "region": "cn-north-4", "projectId": "0dea2644dc80d5d22ff1c01e3ebea6fc", "domainId": "",
     "readTimeout": 10, "connectTimeout": 5, "retryCount": 0, "skipSecureVerify": "false"}
koocli = {
    "current": (CURRENT, koo([P], current="default", authEncrypt="false")),
    "named": (DEFAULT, koo([P, {**P, "name": "p1", "securityToken": TOKEN}], current="p1")),
    "p1": (P1, koo([P, {**P, "name": "p1", "securityToken": TOKEN}], current="default")),
    "custom-name": (NAMED, "sec\u00e9ret name".encode() + b"\xff" + koo([{**P, "name": "sec\u00e9ret name"}])),
    "bom": (CURRENT, b"\xef\xbb\xbf" + koo([P], current="default")),
    "no-current": (CURRENT, koo([P])),
    "not-found": (P1, koo([P, {**P, "name": SK}], current="default")),
    "sso": (DEFAULT, koo([{**P, "mode": "SSO"}])),
    "encrypted": (DEFAULT, koo([P], authEncrypt="true")),
    "encrypted-bool": (DEFAULT, koo([P], authEncrypt=True)),
    "crypter": (DEFAULT, koo([P], crypter="abc")),
    "sk-number": (DEFAULT, koo([{**P, "secretAccessKey": 1234567890}])),
    "sk-newline": (DEFAULT, koo([{**P, "secretAccessKey": SK + "\n"}])),
    "token-space": (DEFAULT, koo([{**P, "securityToken": "tok en-value"}])),
    "ak-only": (DEFAULT, koo([{**P, "secretAccessKey": ""}])),
    "profiles-not-list": (DEFAULT, b'{"current":"default","profiles":{}}'),
    "profile-not-object": (DEFAULT, b'{"profiles":["default"]}'),
    "name-number": (DEFAULT, b'{"profiles":[{"name":7}]}'),
    "mode-number": (DEFAULT, b'{"profiles":[{"name":"default","mode":1}]}'),
    "truncated": (DEFAULT, koo([P])[:50]),
}
for name, (flags, data) in koocli.items():
    write("profile_files", "koocli-" + name, bytes([flags]) + data)

# credential_sources: records separated by 0xFF. The first: provider, then (optional) the
# quarter hours until a second refresh. Then one record per need: a file read gets the
# bytes after a control byte below 0xE0 (0xE0 + 0..3: not found, not a file, too large,
# unreadable); an exchange gets STATUSES[control & 15] and the body, or with bit 4 set
# header lines, a blank line and the body (0xE0 + kind + 4 if sent: connect, tls, timeout,
# io).
STATUSES = [200, 401, 404, 405, 503, 500, 429, 403, 400, 201, 204, 301, 302, 502, 504, 418]
(POD, META, CHAIN, CHAIN_POD, CHAIN_NAMED, CHAIN_HALF_ENV, KOOCLI_P1, PROFILE, CHAIN_ALL, STS,
 PASSWORD, FEDERATION) = range(12)
NOT_FOUND, NOT_A_FILE, TOO_LARGE, UNREADABLE = (bytes([0xE0 + i]) for i in range(4))
CONNECT, TLS, TIMEOUT, IO = range(4)
DOC = documents["metadata"]


def raw(text):
    return text.encode() if isinstance(text, str) else text


def file(body):
    return b"\x00" + raw(body)


def http(status, body=b"", headers=None):
    if headers is None:
        return bytes([STATUSES.index(status)]) + raw(body)
    head = "\n".join(f"{n}:{v}" for n, v in headers).encode()
    return bytes([STATUSES.index(status) | 0x10]) + head + b"\n\n" + raw(body)


def fail(kind, sent=False):
    return bytes([0xE0 + kind + (4 if sent else 0)])


def script(provider, *answers, second=None):
    config = bytes([provider]) + (bytes([second]) if second is not None else b"")
    return b"\xff".join([config, *answers])


KOO = koo([P, {**P, "name": "p1"}], current="default", authEncrypt="false")
SUBJECT = [("X-Subject-Token", "MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQ"), ("X-IAM-Trace-Id", "trace-1")]
FED_INI = "[basic]\nidp_id = idp-1\nid_token_file = /var/run/secrets/id-token\nak = IGNOREDAK\nsk = ignored\n"
FED_INI_ENDPOINT = FED_INI + "iam_endpoint = https://iam.example.com/base\n"
IAM_401 = '{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}'
TOKEN_BODY = '{"token":{"expires_at":"2026-01-02T00:00:00.000000Z","methods":["password"]}}'
sources = {
    "pod-ok": script(POD, file("pod-token-1\n"), http(200, DOC)),
    "pod-rotated-token": script(POD, file("tok-1"), http(200, DOC), file("tok-2"), http(200, DOC), second=4),
    "pod-no-token-file": script(POD, NOT_FOUND),
    "pod-token-unreadable": script(POD, UNREADABLE),
    "pod-token-too-large": script(POD, TOO_LARGE),
    "pod-token-newline": script(POD, file("secret-part\nsecond-part")),
    "pod-token-empty": script(POD, file("\n")),
    "pod-401": script(POD, file("bad"), http(401, '{"error_code":"CCE.0401","error_msg":"token rejected"}')),
    "pod-500-text": script(POD, file("t"), http(500, "upstream\r\nfailed\x1b[31m")),
    "pod-bad-document": script(POD, file("t"), http(200, "{}")),
    "pod-connect": script(POD, file("t"), fail(CONNECT)),
    "pod-timeout-sent": script(POD, file("t"), fail(TIMEOUT, True)),
    "meta-session": script(META, http(200, "sess-1"), http(200, DOC)),
    "meta-session-reused": script(META, http(200, "sess-1"), http(200, DOC), http(200, DOC), second=4),
    "meta-session-expired": script(META, http(200, "sess-1"), http(200, DOC), http(200, "sess-2"), http(200, DOC), second=28),
    "meta-no-token-service-404": script(META, http(404), http(200, DOC)),
    "meta-no-token-service-405-day": script(META, http(405), http(200, DOC), http(200, "s"), http(200, DOC), second=96),
    "meta-no-token-service-503": script(META, http(503), http(200, DOC), http(200, DOC), second=8),
    "meta-stale-renewed": script(META, http(200, "s1"), http(200, DOC), http(401, '{"message":"token expired"}'), http(200, "s2"), http(200, DOC), second=4),
    "meta-401-twice": script(META, http(200, "s1"), http(401, "no"), http(200, "s2"), http(401, "no")),
    "meta-no-agency": script(META, http(200, "s"), http(401, '{"error":"Please configure Cloud Service Agency first"}')),
    "meta-bad-session-token": script(META, http(200, "has space")),
    "meta-put-500": script(META, http(500, '{"error":{"code":500,"message":"boom"}}')),
    "meta-get-429": script(META, http(200, "s"), http(429, '{"code":"APIGW.0308","message":"throttled"}')),
    "meta-unreachable": script(META, fail(TIMEOUT)),
    "meta-no-answer": script(META, http(200, "s"), fail(IO, True)),
    "meta-not-a-document": script(META, http(404), http(200, "{}")),
    "meta-expired-document": script(META, http(404), http(200, documents["expiry-epoch"])),
    "chain-nothing": script(CHAIN),
    "chain-profile-file": script(CHAIN, file(INI)),
    "chain-profile-then-again": script(CHAIN, file(INI), second=1),
    "chain-profile-no-keys": script(CHAIN, file("[basic]\nregion = cn-north-4\n"), NOT_FOUND, fail(CONNECT)),
    "chain-profile-broken": script(CHAIN, file("[basic]\nak = A\n"), NOT_FOUND, fail(CONNECT)),
    "chain-koocli": script(CHAIN, NOT_FOUND, file(KOO)),
    "chain-koocli-encrypted": script(CHAIN, NOT_FOUND, file(koo([P], current="default", authEncrypt="true")), http(404), http(200, DOC)),
    "chain-metadata": script(CHAIN, NOT_FOUND, NOT_FOUND, http(200, "s"), http(200, DOC), http(200, DOC), second=2),
    "chain-metadata-then-fails": script(CHAIN, NOT_FOUND, NOT_FOUND, http(200, "s"), http(200, DOC), fail(CONNECT), second=40),
    "chain-pod": script(CHAIN_POD, NOT_FOUND, NOT_FOUND, file("pod-token"), http(200, DOC)),
    "chain-pod-fails-metadata-answers": script(CHAIN_POD, NOT_FOUND, NOT_FOUND, file("t"), http(403, "no"), http(200, "s"), http(200, DOC)),
    "chain-named-file-missing": script(CHAIN_NAMED, NOT_FOUND, NOT_FOUND, NOT_FOUND, fail(CONNECT)),
    "chain-named-file": script(CHAIN_NAMED, file(INI)),
    "chain-named-file-federates": script(CHAIN_NAMED, file(FED_INI), file("id.token.jwt"), http(201, "{}", SUBJECT), http(201, DOC),
                                         file(FED_INI), file("id.token.jwt.2"), http(201, "{}", SUBJECT), http(201, DOC), second=4),
    "chain-half-environment": script(CHAIN_HALF_ENV, NOT_FOUND, NOT_FOUND, fail(TLS)),
    "koocli-p1": script(KOOCLI_P1, file(KOO)),
    "koocli-missing": script(KOOCLI_P1, NOT_FOUND),
    "koocli-sso": script(KOOCLI_P1, file(koo([{**P, "name": "p1", "mode": "SSO"}]))),
    "profile-ok": script(PROFILE, file(INI)),
    "profile-not-a-file": script(PROFILE, NOT_A_FILE),
    "profile-not-utf8": script(PROFILE, file(b"[basic]\nak = \x80\n")),
    "profile-bom-crlf": script(PROFILE, file("\ufeff" + INI.replace("\n", "\r\n"))),
    "profile-federates-region": script(PROFILE, file(FED_INI), file("id.token.jwt\n"), http(201, "{}", SUBJECT), http(201, DOC)),
    "profile-federates-endpoint": script(PROFILE, file(FED_INI_ENDPOINT), file("jwt"), http(201, "{}", SUBJECT), http(200, DOC), file(FED_INI_ENDPOINT), file("jwt2"), http(401, IAM_401, [("X-IAM-Trace-Id", "t2")]), second=30),
    "profile-federates-no-subject": script(PROFILE, file(FED_INI), file("jwt"), http(201, "{}")),
    "profile-federates-bad-endpoint": script(PROFILE, file(FED_INI.replace("[basic]\n", "[basic]\niam_endpoint = http://iam.example.com\n"))),
    "profile-federates-token-missing": script(PROFILE, file(FED_INI), NOT_FOUND),
    "profile-federates-token-space": script(PROFILE, file(FED_INI), file("has space")),
    "profile-federates-bad-document": script(PROFILE, file(FED_INI), file("jwt"), http(201, "{}", SUBJECT), http(201, "{}")),
    "chain-all-nothing": script(CHAIN_ALL),
    "chain-all-sts": script(CHAIN_ALL, file("oidc.jwt"), http(200, documents["camel-flat"]), file("oidc.jwt.2"), http(200, DOC), second=3),
    "chain-all-environment-federation": script(CHAIN_ALL, NOT_FOUND, file("id.jwt"), http(201, "", SUBJECT), http(201, DOC), file("id.jwt"), fail(TIMEOUT, True), second=8),
    "chain-all-password": script(CHAIN_ALL, NOT_FOUND, NOT_FOUND, file("p4ss word\nsecond line"), http(201, TOKEN_BODY, SUBJECT)),
    "chain-all-longest": script(CHAIN_ALL, file("oidc"), http(500), file("id"), http(201, "", SUBJECT), http(500), file("pw"), http(500),
                                file(FED_INI), file("id"), http(201, "", SUBJECT), http(500), NOT_FOUND, file("pod"), http(500),
                                http(200, "s1"), http(401), http(200, "s2"), http(401)),
    "sts-ok": script(STS, http(200, documents["python-snake"])),
    "sts-403": script(STS, http(403, '{"error_code":"STS.0403","error_msg":"agency denied"}', [("X-IAM-Trace-Id", "abc")])),
    "sts-bad-document": script(STS, http(200, documents["token-space"])),
    "sts-timeout": script(STS, fail(TIMEOUT, True)),
    "password-ok": script(PASSWORD, file("\ufeffpassword\n"), http(201, TOKEN_BODY, SUBJECT), file("password"), http(201, TOKEN_BODY, SUBJECT), second=90),
    # A typed parse skips the text of fields it does not read without checking its UTF-8.
    "password-ignored-field-not-utf8": script(PASSWORD, file("pw"), http(201, TOKEN_BODY.encode().replace(b"password", b"passw\xd5ord"), SUBJECT)),
    "password-no-subject": script(PASSWORD, file("pw"), http(201, TOKEN_BODY)),
    "password-no-expiry": script(PASSWORD, file("pw"), http(201, '{"token":{}}', SUBJECT)),
    "password-bad-subject": script(PASSWORD, file("pw"), http(201, TOKEN_BODY, [("X-Subject-Token", "a b")])),
    "password-empty-file": script(PASSWORD, file("\n")),
    "password-401": script(PASSWORD, file("pw"), http(401, '{"error_msg":"The username or password is wrong.","error_code":"IAM.0007"}')),
    "federation-ok": script(FEDERATION, file("jwt"), http(201, "{}", SUBJECT), http(201, DOC)),
    "federation-404": script(FEDERATION, file("jwt"), http(404, "<html>nope</html>")),
}
for name, data in sources.items():
    write("credential_sources", name, data)

for d in sorted(CORPUS.iterdir()):
    if ONLY and d.name not in ONLY:
        continue
    print(f"{d.name}: {len(list(d.iterdir()))} seeds")
