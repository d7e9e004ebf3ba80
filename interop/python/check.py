#!/usr/bin/env python3
"""Interop check: the OFFICIAL Huawei Cloud Python SDK, and our `kms` CLI, against kms-mock.

Calls ShowUserInstances (GET /v1.0/{project_id}/kms/user-instances) through
`huaweicloudsdkkms.v2.KmsClient`, exactly as an application would, and checks the
emulator's answers. Normally started by `interop/python/run.sh`, which builds and starts
the emulators and sets the environment below.

Credential sources: the SDK's own providers (`MetadataCredentialProvider` with
`MetadataAccessor._METADATA_ENDPOINT` pointed at the emulator, `PodIdentityCredentialProvider`
through HC_CONTAINER_CREDENTIALS_FULL_URI / HC_CONTAINER_AUTHORIZATION_TOKEN_FILE) get
temporary credentials from the emulator's ECS metadata and CCE pod identity endpoints, then
count with them; `kms count --credentials metadata|pod-identity` does the same. Both talk
to the emulator through a recording proxy on loopback (recproxy.py), which shows what each
client put on the wire and in which order, and can answer a request itself (a metadata
service without session tokens, a stale session token).

IAM and STS, against one `kms-mock --iam` (IAM, STS and KMS on one listener, behind one
recording proxy that is HUAWEICLOUD_SDK_IAM_ENDPOINT, HUAWEICLOUD_SDK_STS_ENDPOINT and the
KMS endpoint at once): the SDK, with a client built for a region
(`.with_region(KmsRegion.value_of(region))`, its endpoint from
HUAWEICLOUD_SDK_REGION_KMS_<REGION>), finds the project of `BasicCredentials(ak, sk)` (signed
GET /v3/projects?name=<region>; several projects refused), federates through
EnvCredentialProvider (HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE: POST id-token
with X-Idp-Id, POST securitytokens) or its default chain (then discovers with the issued
credentials), assumes an agency through OidcStsCredentialProvider (HUAWEICLOUD_OIDC_*), and
counts; a wrong id token is refused. `kms count` does the same on both transports
(`--region` with `--endpoint` and no project id; `--credentials iam-federation`, `oidc-sts`,
and `iam-password` with HUAWEICLOUD_SDK_IAM_USER/_DOMAIN/_PASSWORD_FILE: POST /v3/auth/tokens
then X-Auth-Token), exits 7 for several projects and 6 for a wrong id token (naming the
source, the 401 and IAM's X-IAM-Trace-Id), and never prints a secret, even with -vv.

Several endpoints for a region (issue 16), against the plain AK/SK emulator behind a
recording proxy, with the first endpoint a loopback port that refuses connections (or, for
the SDK, a listener that fails the TLS handshake): given by HUAWEICLOUD_SDK_REGION_KMS_<REGION>
(comma-separated) or by a regions file (HUAWEICLOUD_SDK_REGIONS_FILE). The SDK, in a child
process of its own (`check.py --sdk-region-probe`: it reads the regions file once per
process), with a client built for the region: it does NOT move on after a refused
connection (a plain ConnectionException, on every call), moves on after a TLS failure and
stays on the endpoint that answered, raises a ConnectionException joining every failure when
all fail (the next call starting from the first again), takes the variable before the file,
and ignores a file entry whose key is misspelt (`endpiont`), leaving the region its public
endpoint. `kms count --region cn-north-4` (both transports) moves on after the refused
connection and counts, takes the variable before the file, and refuses the misspelt file
(exit 2, naming the line) before sending anything. The section "several endpoints" below
says where in the SDK's code each of these is decided.

Clock skew (issue 16), against an emulator of each scenario's own started here with
`--clock-offset 1200` (its clock 20 minutes ahead of this machine's, as if the client's
were 20 minutes behind) and the plain AK/SK emulator's project and keys, behind a recording
proxy: the SDK, two calls on one client, gets 401 APIGW.0301 "signature expired" on both
(it signs with this machine's clock every time and never corrects; exactly 2 requests).
`kms count -v` (both transports) gets that 401, re-signs once with the gateway's time and
counts (exactly 2 requests; stderr warns that the clock is about 1200 s behind); with a
wrong SK it exits 3 after the same 2 requests, its error saying that the clock was about
1200 s behind and that it re-signed once. The section "clock skew" below says where in the
SDK's code its behaviour is decided.

Credentials that arrive expired, a fast clock, a gateway far ahead (issue 21), each against
an emulator of its own behind a recording proxy. ECS metadata issuing 1 s credentials
(`--metadata --credential-lifetime 1`): the SDK's MetadataCredentialProvider, one call in a
child process (`check.py --sdk-credentials-probe`) killed after 20 s, so that a loop would
be reported ("looped: N requests in 20 s") rather than hang the run; it sends PUT token, GET
securitykey, GET securitykey again before the call (1 s is below its 40-minute refresh
threshold) and uses what it got (no loop). `kms count --credentials metadata --repeat 10`
(both transports) exits 6 within 5 s, saying "ECS metadata gave credentials that expire at",
after at most 4 requests to metadata and none to KMS. This machine 20 minutes fast
(`--iam --oidc-provider --clock-offset -1200`) with 900 s STS credentials
(HUAWEICLOUD_OIDC_DURATION_SECONDS=900): the SDK's OidcStsCredentialProvider, two calls,
asks STS before each and gets 401 "signature expired" each time; `kms count --credentials
oidc-sts --repeat 10 -vv` exits 0 with the count after one STS request and 11 KMS requests
(one 401, re-signed once with the service's time, kept for the later calls). A gateway 10
years ahead (`--clock-offset 315360000`, the most kms-mock allows): the SDK gets one 401;
`kms count` exits 3 after that one request, saying the clock is off by "more than the 24
hours the client corrects". The section "issue 21" below says where in the SDK's code its
behaviour is decided.

A CONNECT proxy refusing its credentials (407), check.py's own on loopback: the SDK with
HttpConfig.proxy_* and the wrong password goes around the proxy for an http:// endpoint
(HttpConfig.get_proxy() sets it for "https" only) and, for https://, sends one CONNECT and
raises ConnectionException (urllib3 ProxyError, "Tunnel connection failed: 407"); `kms count
--proxy http://user:wrong@...` (both transports) exits 5 after exactly one CONNECT, saying
"the proxy refused its credentials". A black-hole first endpoint (backlog 0, accept queue
full): `kms count --endpoint http://127.0.0.1:HOLE,URL --timeout 2` exits 0 with the count
within 5 s.

Input (environment variables, all required unless said otherwise):
  INTEROP_PROJECT_ID      project id configured in every emulator (32 hex chars)
  INTEROP_COUNT           instance count configured for that project
  INTEROP_URL             base URL of the emulator started with plain --ak/--sk
  INTEROP_AK, INTEROP_SK  the AK/SK that emulator accepts
  INTEROP_STS_URL         base URL of the emulator started with --security-token
  INTEROP_STS_AK, INTEROP_STS_SK, INTEROP_SECURITY_TOKEN
                          the temporary AK/SK and security token that emulator accepts
  INTEROP_CREDS_URL       base URL of the emulator started with --metadata and
                          --pod-identity-token
  INTEROP_POD_TOKEN       that emulator's pod identity token
  INTEROP_IAM_URL         base URL of the emulator started with --iam (and --ak/--sk)
  INTEROP_REGION          the region its project (INTEROP_PROJECT_ID) is named after
  INTEROP_SEVERAL_REGION, INTEROP_SEVERAL_PROJECT_IDS
                          a region with two projects, and their ids (comma-separated)
  INTEROP_IDP_ID, INTEROP_ID_TOKEN
                          the identity provider and id token IAM federation accepts
  INTEROP_OIDC_PROVIDER_URN, INTEROP_OIDC_ID_TOKEN
                          the OIDC provider and id token STS accepts
  INTEROP_IAM_DOMAIN, INTEROP_IAM_USER, INTEROP_IAM_PASSWORD
                          the IAM user whose password gets tokens
Optional:
  INTEROP_KMS_BIN         our `kms` binary; without it our client's scenarios print
                          SKIP (a binary whose `count` has no --credentials FAILs)
  INTEROP_MOCK_BIN        the kms-mock that the clock skew and issue 21 scenarios start; else
                          KMS_MOCK_BIN (run.sh's override, inherited), else the kms-mock
                          beside INTEROP_KMS_BIN or in the workspace's target/debug (where
                          run.sh builds both), else `$INTEROP_KMS_BIN mock`
  INTEROP_VERBOSE=1       print every exchange (request headers as sent on the wire,
                          response status/headers/body) to stderr, not only failing ones.

Output: one line per scenario on stdout, `PASS <name>`, `FAIL <name>: <why>` or
`SKIP <name>: <why>`. Diagnostics (what the client sent and what came back) go to stderr;
secrets (SKs, session and pod tokens, IAM tokens, id tokens, passwords) are never printed;
the dumps of the first four scenarios show the X-Security-Token header as sent, a fixed
made-up value the emulator is started with.
Exit status: 0 if no scenario failed, 1 otherwise.
"""

import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from huaweicloudsdkcore.auth.credentials import BasicCredentials, Credentials
from huaweicloudsdkcore.auth.internal import MetadataAccessor
from huaweicloudsdkcore.auth.provider import (EnvCredentialProvider, MetadataCredentialProvider,
                                              OidcStsCredentialProvider,
                                              PodIdentityCredentialProvider)
from huaweicloudsdkcore.exceptions.exceptions import (ApiTypeError, ApiValueError,
                                                      ClientRequestException, SdkException)
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkkms.v2 import KmsClient, ShowUserInstancesRequest
from huaweicloudsdkkms.v2.region.kms_region import KmsRegion

from recproxy import RecordingProxy

REQUIRED = (
    "INTEROP_PROJECT_ID", "INTEROP_COUNT",
    "INTEROP_URL", "INTEROP_AK", "INTEROP_SK",
    "INTEROP_STS_URL", "INTEROP_STS_AK", "INTEROP_STS_SK", "INTEROP_SECURITY_TOKEN",
    "INTEROP_CREDS_URL", "INTEROP_POD_TOKEN",
    "INTEROP_IAM_URL", "INTEROP_REGION", "INTEROP_SEVERAL_REGION", "INTEROP_SEVERAL_PROJECT_IDS",
    "INTEROP_IDP_ID", "INTEROP_ID_TOKEN", "INTEROP_OIDC_PROVIDER_URN", "INTEROP_OIDC_ID_TOKEN",
    "INTEROP_IAM_DOMAIN", "INTEROP_IAM_USER", "INTEROP_IAM_PASSWORD",
)
VERBOSE = os.environ.get("INTEROP_VERBOSE") == "1"


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


class Recorder:
    """Records every exchange through the SDK's own HttpHandler hooks.

    The response hook runs before the SDK turns an error status into an exception, so
    401s are recorded too. `response.request.headers` are the headers `requests` really
    put on the wire (the SDK's signed headers plus requests' own Accept etc.).
    """

    def __init__(self):
        self.exchanges = []

    def on_response(self, **kwargs):
        self.exchanges.append(kwargs["response"])

    def handler(self):
        return HttpHandler().add_response_handler(self.on_response)

    def dump(self, title):
        log("---- %s: %d request(s) sent by the SDK" % (title, len(self.exchanges)))
        for i, resp in enumerate(self.exchanges, 1):
            req = resp.request
            log("  [%d] %s %s" % (i, req.method, req.url))
            for k, v in req.headers.items():
                log("      > %s: %s" % (k, v))
            log("      < HTTP %s" % resp.status_code)
            for k, v in resp.headers.items():
                log("      < %s: %s" % (k, v))
            log("      < body: %s" % resp.text[:2000])


def make_client(url, ak, sk, project_id, security_token, recorder):
    creds = BasicCredentials(ak, sk, project_id)
    if security_token is not None:
        creds = creds.with_security_token(security_token)
    return client_with(url, creds, recorder)


def client_with(url, creds, recorder):
    config = HttpConfig.get_default_config()
    # No retries: the SDK only ever retries 429 (urllib3 Retry, status_forcelist=[429]) and
    # its default is already 0, but say it explicitly: a 401 must be seen exactly once.
    config.retry_times = 0
    # Plain http on loopback: the endpoint keeps its "http://" scheme (ClientBuilder only
    # prefixes https:// to scheme-less endpoints), so no TLS setting is involved at all.
    config.timeout = (5, 15)
    return (
        KmsClient.new_builder()
        .with_http_config(config)
        .with_credentials(creds)
        .with_endpoints([url])
        .with_http_handler(recorder.handler())
        .build()
    )


def call(url, ak, sk, project_id, security_token=None):
    """Returns (response_or_None, exception_or_None, recorder)."""
    recorder = Recorder()
    client = make_client(url, ak, sk, project_id, security_token, recorder)
    try:
        return client.show_user_instances(ShowUserInstancesRequest()), None, recorder
    except SdkException as e:
        return None, e, recorder
    finally:
        client.close()


def describe(exc):
    if exc is None:
        return "no exception"
    if isinstance(exc, ClientRequestException) or hasattr(exc, "status_code"):
        return "%s(status_code=%s, error_code=%s, request_id=%s, error_msg=%r)" % (
            type(exc).__name__, getattr(exc, "status_code", None), getattr(exc, "error_code", None),
            getattr(exc, "request_id", None), getattr(exc, "error_msg", None))
    return "%s: %s" % (type(exc).__name__, exc)


def expect_count(name, env, url, ak, sk, token):
    resp, exc, rec = call(url, ak, sk, env["INTEROP_PROJECT_ID"], token)
    want = int(env["INTEROP_COUNT"])
    why = None
    if exc is not None:
        why = "expected instance_num=%d, got %s" % (want, describe(exc))
    elif resp.status_code != 200:
        why = "expected HTTP 200, got %s" % resp.status_code
    elif resp.instance_num != want:
        why = "expected instance_num=%d, got %r" % (want, resp.instance_num)
    elif len(rec.exchanges) != 1:
        why = "expected exactly 1 request, the SDK sent %d" % len(rec.exchanges)
    if why is None and rec.exchanges and not rec.exchanges[-1].headers.get("X-Request-Id"):
        log("NOTE %s: 200 answer carries no X-Request-Id header" % name)
    return report(name, why, rec)


def expect_401(name, env, url, ak, sk, token, want_code):
    resp, exc, rec = call(url, ak, sk, env["INTEROP_PROJECT_ID"], token)
    why = None
    if exc is None:
        why = "expected a 401 exception, got HTTP %s instance_num=%r" % (
            resp.status_code, resp.instance_num)
    elif not isinstance(exc, ClientRequestException):
        why = "expected ClientRequestException, got %s" % describe(exc)
    elif exc.status_code != 401:
        why = "expected status 401, got %s" % describe(exc)
    elif want_code is not None and exc.error_code != want_code:
        why = "expected error_code %s, got %s" % (want_code, describe(exc))
    elif len(rec.exchanges) != 1:
        why = "expected the 401 to be seen exactly once, the SDK sent %d requests" % len(rec.exchanges)
    if exc is not None:
        log("INFO %s: %s" % (name, describe(exc)))
        if why is None and not getattr(exc, "request_id", None):
            # The official SDK takes request_id only from the X-Request-Id response header.
            log("NOTE %s: exception has no request_id (401 answer carries no X-Request-Id header)" % name)
    return report(name, why, rec)


def report(name, why, rec):
    if why is None:
        print("PASS %s" % name, flush=True)
        if VERBOSE:
            rec.dump(name)
        return True
    print("FAIL %s: %s" % (name, why), flush=True)
    rec.dump(name)
    return False


# ===================================================================== credential sources

TOKEN_PATH = "/meta-data/latest/api/token"
KEY_PATH = "/openstack/latest/securitykey"
POD_PATH = "/pod-identity/credentials"
MAX_SESSION_TTL = 21600  # the metadata service's limit for X-Metadata-Token-Ttl-Seconds

# What the proxy answers when a scenario plays the metadata service itself: an instance
# without session tokens (OpenStack's 404), and a session token that has gone stale (a 401
# whose body does not say "Please configure Cloud Service Agency first").
NO_TOKEN_SERVICE = (404, "text/plain", "404 Not Found\n\nThe resource could not be found.\n")
STALE_TOKEN = (401, "text/plain", "401 Unauthorized\n\nThe metadata session token is "
               "missing, invalid or expired: get one with PUT /meta-data/latest/api/token.\n")

_SECRET_HEADERS = ("x-security-token", "x-metadata-token", "x-auth-token")
_SECRET_RESPONSE_HEADERS = ("x-subject-token",)
# Keys of JSON bodies (requests and answers) whose values are secrets; `id` only under
# `id_token` (the OIDC id token) or `token` (an IAM token).
_SECRET_KEYS = ("password", "id_token", "secret", "securitytoken", "secret_access_key",
                "security_token")
_SECRET_ID_PARENTS = ("id_token", "token")

PROJECTS_PATH = "/v3/projects"
ID_TOKEN_PATH = "/v3.0/OS-AUTH/id-token/tokens"
SECURITYTOKENS_PATH = "/v3.0/OS-CREDENTIAL/securitytokens"
STS_PATH = "/v5/agencies/assume-with-oidc"
AUTH_TOKENS_PATH = "/v3/auth/tokens"
KMS_PATH_RE = re.compile(r"^/v1\.0/([^/]+)/kms/user-instances$")


def redacted(value):
    return "<%d chars, redacted>" % len(value)


def label(ex, project_id):
    """A short name for an exchange: `PUT token`, `GET securitykey`, `POST pod`, `GET kms`,
    `GET projects`, `POST id-token`, `POST securitytokens`, `POST sts`, `POST auth-tokens`
    (`GET kms(<id>)` for the KMS path of another project)."""
    names = {TOKEN_PATH: "token", KEY_PATH: "securitykey", POD_PATH: "pod",
             "/v1.0/%s/kms/user-instances" % project_id: "kms",
             PROJECTS_PATH: "projects", ID_TOKEN_PATH: "id-token",
             SECURITYTOKENS_PATH: "securitytokens", STS_PATH: "sts",
             AUTH_TOKENS_PATH: "auth-tokens"}
    name = names.get(ex.path)
    if name is None:
        m = KMS_PATH_RE.match(ex.path)
        name = "kms(%s)" % m.group(1) if m else ex.target
    return "%s %s" % (ex.method, name)


def json_or_none(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def redact_json(value, parent=None):
    """A copy of a parsed JSON document with every secret value redacted."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, str) and (k in _SECRET_KEYS or (k == "id" and parent in _SECRET_ID_PARENTS)):
                out[k] = redacted(v)
            else:
                out[k] = redact_json(v, k)
        return out
    if isinstance(value, list):
        return [redact_json(v, parent) for v in value]
    return value


def json_secrets(value, parent=None):
    """Every secret value in a parsed JSON document (as redact_json redacts them)."""
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and (k in _SECRET_KEYS or (k == "id" and parent in _SECRET_ID_PARENTS)):
                out.add(v)
            else:
                out |= json_secrets(v, k)
    elif isinstance(value, list):
        for v in value:
            out |= json_secrets(v, parent)
    return out


def shown_body(raw, limit):
    """A body as diagnostics may show it: JSON with its secrets redacted, else the text."""
    doc = json_or_none(raw)
    if doc is not None:
        return json.dumps(redact_json(doc))[:limit]
    return raw[:limit].decode("utf-8", "replace")


def response_header(ex, name):
    name = name.lower()
    values = [v for k, v in ex.resp_headers if k.lower() == name]
    return values[0] if len(values) == 1 else None


def wire_summary(exchanges, project_id):
    return ", ".join("%s=%s%s" % (label(ex, project_id), ex.status, " (scripted)" * ex.scripted)
                     for ex in exchanges) or "nothing"


def dump_wire(title, exchanges):
    log("---- %s: %d request(s) on the wire (through the recording proxy)" % (title, len(exchanges)))
    for i, ex in enumerate(exchanges, 1):
        log("  [%d] %s %s" % (i, ex.method, ex.target))
        for k, v in ex.headers:
            secret = k.lower() in _SECRET_HEADERS or (
                k.lower() == "authorization" and not v.startswith("SDK-HMAC-"))
            log("      > %s: %s" % (k, redacted(v) if secret else v))
        if ex.body:
            log("      > body: %s" % shown_body(ex.body, 800))
        log("      < HTTP %s%s" % (ex.status, " (answered by the proxy, not the emulator)" * ex.scripted))
        for k, v in ex.resp_headers:
            log("      < %s: %s" % (k, redacted(v) if k.lower() in _SECRET_RESPONSE_HEADERS else v))
        if ex.method == "PUT" and ex.path == TOKEN_PATH and ex.status == 200:
            body = redacted(ex.text())
        else:
            body = shown_body(ex.resp_body, 2000)
        log("      < body: %s" % body)


def credential_doc(ex):
    """The credentials of an answer, as {access, secret, securitytoken, expires_at}, or None:
    IAM's, ECS metadata's and pod identity's `credential` object, or STS's `credentials`
    (`access_key_id`, `secret_access_key`, `security_token`, `expiration`)."""
    doc = json_or_none(ex.resp_body)
    if not isinstance(doc, dict):
        return None
    cred = doc.get("credential")
    if isinstance(cred, dict):
        return cred
    cred = doc.get("credentials")
    if isinstance(cred, dict) and "access_key_id" in cred:
        return {"access": cred.get("access_key_id"), "secret": cred.get("secret_access_key"),
                "securitytoken": cred.get("security_token"), "expires_at": cred.get("expiration")}
    return None


def expect_sequence(exchanges, project_id, want):
    """None if the exchanges are exactly `want` [(label, status)], else why not."""
    got = [(label(ex, project_id), ex.status) for ex in exchanges]
    if got != want:
        return "expected on the wire [%s], got [%s]" % (
            ", ".join("%s=%s" % w for w in want), wire_summary(exchanges, project_id))
    return None


def check_token_put(ex):
    ttl = ex.one_header("X-Metadata-Token-Ttl-Seconds")
    if ttl is None:
        return "the session token PUT carried no single X-Metadata-Token-Ttl-Seconds"
    if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_SESSION_TTL:
        return "X-Metadata-Token-Ttl-Seconds %r is not 1..%d" % (ttl, MAX_SESSION_TTL)
    return None


def check_key_get(ex, session_token):
    """The security key GET carried `session_token` as X-Metadata-Token (None: no header)."""
    sent = ex.header("X-Metadata-Token")
    if session_token is None:
        if sent:
            return "the security key GET carried X-Metadata-Token although no session token was issued"
        return None
    if sent != [session_token]:
        return ("the security key GET carried %s, not the session token the PUT returned"
                % ("no X-Metadata-Token" if not sent else "another X-Metadata-Token"))
    return None


def check_kms_signed_with(ex, doc):
    """The KMS request was signed with the issued AK and carried its security token."""
    if ex.one_header("X-Security-Token") is None:
        return "the KMS request carried no (single) X-Security-Token"
    if ex.one_header("X-Security-Token") != doc.get("securitytoken"):
        return "the KMS request's X-Security-Token is not the one the credential source issued"
    auth = ex.one_header("Authorization") or ""
    if "Access=%s," % doc.get("access") not in auth:
        return "the KMS request was not signed with the issued access key: %s" % auth[:80]
    m = re.search(r"SignedHeaders=([^,\s]+)", auth)
    if not m or "x-security-token" not in m.group(1).split(";"):
        return "X-Security-Token is not among the signed headers: %s" % auth[:200]
    return None


def check_metadata_wire(exchanges, env, mode):
    """mode: 'session' (PUT, GET, KMS), 'tokenless' (PUT 404, GET without token, KMS) or
    'stale' (PUT, GET 401, PUT, GET, KMS). Returns None or why not."""
    pid = env["INTEROP_PROJECT_ID"]
    want = {
        "session": [("PUT token", 200), ("GET securitykey", 200), ("GET kms", 200)],
        "tokenless": [("PUT token", 404), ("GET securitykey", 200), ("GET kms", 200)],
        "stale": [("PUT token", 200), ("GET securitykey", 401), ("PUT token", 200),
                  ("GET securitykey", 200), ("GET kms", 200)],
    }[mode]
    why = expect_sequence(exchanges, pid, want)
    if why:
        return why
    puts = [ex for ex in exchanges if ex.method == "PUT"]
    gets = [ex for ex in exchanges if ex.path == KEY_PATH]
    for put in puts:
        why = check_token_put(put)
        if why:
            return why
    if mode == "session":
        why = check_key_get(gets[0], puts[0].text())
    elif mode == "tokenless":
        why = check_key_get(gets[0], None)
    else:
        why = check_key_get(gets[0], puts[0].text()) or check_key_get(gets[1], puts[1].text())
        if why is None and puts[0].text() == puts[1].text():
            why = "the second PUT returned the same session token (emulator?)"
    if why:
        return why
    return check_kms_signed_with(exchanges[-1], credential_doc(gets[-1]) or {})


def check_pod_wire(exchanges, env, token):
    why = expect_sequence(exchanges, env["INTEROP_PROJECT_ID"], [("POST pod", 200), ("GET kms", 200)])
    if why:
        return why
    post = exchanges[0]
    if post.header("Authorization") != [token]:
        return "the pod identity POST did not carry Authorization: <the token file, trimmed>"
    try:
        body = json.loads(post.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "the pod identity POST body is not a JSON object: %r" % post.body[:100]
    return check_kms_signed_with(exchanges[1], credential_doc(post) or {})


def wire_secrets(exchanges):
    """Every secret that crossed the wire: issued SKs and security tokens, session tokens,
    pod tokens, IAM tokens (X-Subject-Token, X-Auth-Token), and what request bodies carry
    (OIDC id tokens, passwords, IAM tokens)."""
    out = set()
    for ex in exchanges:
        doc = credential_doc(ex)
        if doc:
            out.update(v for v in (doc.get("secret"), doc.get("securitytoken")) if v)
        if ex.method == "PUT" and ex.path == TOKEN_PATH and ex.status == 200:
            out.add(ex.text())
        if ex.path == POD_PATH:
            out.update(ex.header("Authorization"))
        out.update(ex.header("X-Auth-Token"))
        out.update(ex.header("X-Security-Token"))
        out.update(v for k, v in ex.resp_headers if k.lower() in _SECRET_RESPONSE_HEADERS)
        if ex.body:
            out |= json_secrets(json_or_none(ex.body))
    return {s for s in out if len(s) >= 8}


def report_wire(name, why, exchanges, info=None):
    if why is None:
        print("PASS %s" % name, flush=True)
        if info:
            log("INFO %s: %s" % (name, info))
        if VERBOSE:
            dump_wire(name, exchanges)
        return True
    print("FAIL %s: %s" % (name, why), flush=True)
    if info:
        log("INFO %s: %s" % (name, info))
    dump_wire(name, exchanges)
    return False


@contextmanager
def environment(**values):
    """Sets (or, for None, removes) environment variables for the block."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def token_file(workdir, name, token):
    """A token file as the platform writes it (with a trailing newline: the reader trims)."""
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(token + "\n")
    return path


def metadata_script(mode):
    """The proxy's script for a metadata scenario (None: forward everything)."""
    if mode == "tokenless":
        return lambda i, ex: NO_TOKEN_SERVICE if (ex.method, ex.path) == ("PUT", TOKEN_PATH) else None
    if mode == "stale":
        seen = []

        def stale_once(i, ex):
            if ex.path == KEY_PATH and not seen:
                seen.append(i)
                return STALE_TOKEN
            return None
        return stale_once
    return None


# ------------------------------------------------------------------ the official SDK

def sdk_count(url, creds):
    """ShowUserInstances with these credentials. Returns (response_or_None, exception_or_None)."""
    client = client_with(url, creds, Recorder())
    try:
        return client.show_user_instances(ShowUserInstancesRequest()), None
    except SdkException as e:
        return None, e
    finally:
        client.close()


def expect_sdk_count(env, resp, exc):
    want = int(env["INTEROP_COUNT"])
    if exc is not None:
        return "expected instance_num=%d, got %s" % (want, describe(exc))
    if resp.status_code != 200 or resp.instance_num != want:
        return "expected HTTP 200 instance_num=%d, got HTTP %s instance_num=%r" % (
            want, resp.status_code, resp.instance_num)
    return None


def sdk_metadata(name, env, mode):
    """The SDK's MetadataCredentialProvider, its base URL (the class attribute
    MetadataAccessor._METADATA_ENDPOINT) pointed at the proxy in front of the emulator."""
    with RecordingProxy(env["INTEROP_CREDS_URL"], metadata_script(mode)) as proxy:
        default = MetadataAccessor._METADATA_ENDPOINT
        MetadataAccessor._METADATA_ENDPOINT = proxy.url
        try:
            provider = MetadataCredentialProvider.get_basic()
            provider.project_id = env["INTEROP_PROJECT_ID"]
            creds = provider.get_credentials()
        except SdkException as e:
            return report_wire(name, "the metadata provider failed: %s" % describe(e),
                               proxy.exchanges)
        finally:
            MetadataAccessor._METADATA_ENDPOINT = default
        resp, exc = sdk_count(proxy.url, creds)
        exchanges = proxy.exchanges
    why = expect_sdk_count(env, resp, exc) or check_metadata_wire(exchanges, env, mode)
    return report_wire(name, why, exchanges)


def sdk_pod_identity(name, env, workdir):
    path = token_file(workdir, "sdk-pod-token", env["INTEROP_POD_TOKEN"])
    with RecordingProxy(env["INTEROP_CREDS_URL"]) as proxy:
        with environment(HC_CONTAINER_CREDENTIALS_FULL_URI=proxy.url + POD_PATH,
                         HC_CONTAINER_AUTHORIZATION_TOKEN_FILE=path):
            try:
                creds = PodIdentityCredentialProvider.get_basic().get_credentials()
            except SdkException as e:
                return report_wire(name, "the pod identity provider failed: %s" % describe(e),
                                   proxy.exchanges)
        creds = creds.with_project_id(env["INTEROP_PROJECT_ID"])
        resp, exc = sdk_count(proxy.url, creds)
        exchanges = proxy.exchanges
    why = expect_sdk_count(env, resp, exc) or check_pod_wire(exchanges, env, env["INTEROP_POD_TOKEN"])
    return report_wire(name, why, exchanges)


def sdk_pod_identity_wrong_token(name, env, workdir):
    wrong = "not-" + env["INTEROP_POD_TOKEN"]
    path = token_file(workdir, "sdk-wrong-pod-token", wrong)
    with RecordingProxy(env["INTEROP_CREDS_URL"]) as proxy:
        with environment(HC_CONTAINER_CREDENTIALS_FULL_URI=proxy.url + POD_PATH,
                         HC_CONTAINER_AUTHORIZATION_TOKEN_FILE=path):
            exc = None
            try:
                PodIdentityCredentialProvider.get_basic().get_credentials()
            except SdkException as e:
                exc = e
        exchanges = proxy.exchanges
    why = expect_sequence(exchanges, env["INTEROP_PROJECT_ID"], [("POST pod", 401)])
    if why is None:
        if exc is None:
            why = "expected the pod identity provider to fail, it returned credentials"
        elif "401" not in str(exc):
            why = "expected an error naming the 401, got %s" % describe(exc)
    return report_wire(name, why, exchanges, info=describe(exc) if exc else None)


# ------------------------------------------------------------------ our client (kms CLI)

_ours_support = {}


def ours_supported(kms_bin):
    """None if `kms count --credentials` exists, else why these scenarios are skipped."""
    if not kms_bin:
        return "INTEROP_KMS_BIN is not set"
    if kms_bin not in _ours_support:
        try:
            out = subprocess.run([kms_bin, "count", "--help"], capture_output=True, text=True,
                                 timeout=60)
            ok = out.returncode == 0 and re.search(r"--credentials\b", out.stdout)
            _ours_support[kms_bin] = None if ok else (
                "`kms count --help` lists no --credentials option yet (exit %d)" % out.returncode)
        except (OSError, subprocess.SubprocessError) as e:
            _ours_support[kms_bin] = "cannot run %s: %s" % (kms_bin, e)
    return _ours_support[kms_bin]


def ours_env(workdir, **extra):
    """The environment of a `kms` run: no credentials of any other source, an empty HOME
    (no profile or KooCLI file), loopback never proxied."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUAWEICLOUD_SDK_", "HUAWEICLOUD_OIDC_", "HC_CONTAINER_"))
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    home = os.path.join(workdir, "home")
    os.makedirs(home, exist_ok=True)
    env.update(HOME=home, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env


def run_ours(kms_bin, env, proxy, transport, source, run_env):
    cmd = [kms_bin, "count", "--credentials", source, "--endpoint", proxy.url,
           "--project-id", env["INTEROP_PROJECT_ID"], "--transport", transport,
           "--retries", "0", "--timeout", "10"]
    return subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=120)


def ours_outcome(run):
    return "exit %d, stdout %r, stderr %r" % (run.returncode, run.stdout.strip()[:300],
                                              run.stderr.strip()[-600:])


def expect_ours_count(env, run):
    want = str(int(env["INTEROP_COUNT"]))
    if run.returncode != 0 or run.stdout.strip() != want:
        return "expected exit 0 and %s on stdout, got %s" % (want, ours_outcome(run))
    return None


def no_secret_printed(run, exchanges):
    for secret in wire_secrets(exchanges):
        if secret in run.stdout or secret in run.stderr:
            return "kms printed a secret it got or sent (%s)" % redacted(secret)
    return None


def ours_metadata(name, env, kms_bin, transport, mode, workdir):
    with RecordingProxy(env["INTEROP_CREDS_URL"], metadata_script(mode)) as proxy:
        run = run_ours(kms_bin, env, proxy, transport, "metadata",
                       ours_env(workdir, HUAWEICLOUD_SDK_METADATA_ENDPOINT=proxy.url))
        exchanges = proxy.exchanges
    why = (expect_ours_count(env, run) or check_metadata_wire(exchanges, env, mode)
           or no_secret_printed(run, exchanges))
    return report_wire(name, why, exchanges, info=None if why is None else ours_outcome(run))


def ours_pod_identity(name, env, kms_bin, transport, workdir):
    path = token_file(workdir, "ours-pod-token", env["INTEROP_POD_TOKEN"])
    with RecordingProxy(env["INTEROP_CREDS_URL"]) as proxy:
        run = run_ours(kms_bin, env, proxy, transport, "pod-identity", ours_env(
            workdir, HC_CONTAINER_CREDENTIALS_FULL_URI=proxy.url + POD_PATH,
            HC_CONTAINER_AUTHORIZATION_TOKEN_FILE=path))
        exchanges = proxy.exchanges
    why = (expect_ours_count(env, run) or check_pod_wire(exchanges, env, env["INTEROP_POD_TOKEN"])
           or no_secret_printed(run, exchanges))
    return report_wire(name, why, exchanges, info=None if why is None else ours_outcome(run))


def ours_pod_identity_wrong_token(name, env, kms_bin, transport, workdir):
    wrong = "not-" + env["INTEROP_POD_TOKEN"]
    path = token_file(workdir, "ours-wrong-pod-token", wrong)
    with RecordingProxy(env["INTEROP_CREDS_URL"]) as proxy:
        run = run_ours(kms_bin, env, proxy, transport, "pod-identity", ours_env(
            workdir, HC_CONTAINER_CREDENTIALS_FULL_URI=proxy.url + POD_PATH,
            HC_CONTAINER_AUTHORIZATION_TOKEN_FILE=path))
        exchanges = proxy.exchanges
    pid = env["INTEROP_PROJECT_ID"]
    labels = [(label(ex, pid), ex.status) for ex in exchanges]
    why = None
    if not labels or any(lab != ("POST pod", 401) for lab in labels):
        why = "expected only pod identity POSTs answered 401 on the wire, got [%s]" % (
            wire_summary(exchanges, pid))
    elif run.returncode != 6:
        why = "expected exit 6 (credentials), got %s" % ours_outcome(run)
    elif not re.search(r"pod[ -]identity", run.stderr, re.I) or "401" not in run.stderr:
        why = "expected a message naming pod identity and the 401, got %s" % ours_outcome(run)
    elif wrong in run.stdout or wrong in run.stderr:
        why = "kms printed the pod identity token"
    return report_wire(name, why, exchanges, info=ours_outcome(run).replace(wrong, redacted(wrong)))


# ===================================================================== IAM and STS
#
# One emulator (kms-mock --iam) serves IAM, STS and KMS on one listener; a recording proxy
# in front of it is HUAWEICLOUD_SDK_IAM_ENDPOINT, HUAWEICLOUD_SDK_STS_ENDPOINT and the KMS
# endpoint at once, so the order of every request is seen.

IAM_JSON = "application/json;charset=UTF-8"
FEDERATION_DURATION = 21600      # what both clients ask securitytokens for (6 h)
STS_DEFAULT_DURATION = 3600      # HUAWEICLOUD_OIDC_DURATION_SECONDS unset
STS_SESSION_NAME = "interop-oidc-session"  # HUAWEICLOUD_OIDC_SESSION_NAME
AGENCY_URN = "iam::0a1b2c3d4e5f60718293a4b5c6d7e8f9:agency:interop-kms-reader"


def check_signed(ex, what, access, security_token=None):
    """`ex` is signed SDK-HMAC-SHA256 with `access` (Host and X-Sdk-Date among the signed
    headers) and carries `security_token` as a signed X-Security-Token (None: no such
    header)."""
    auth = ex.one_header("Authorization") or ""
    if not auth.startswith("SDK-HMAC-SHA256 "):
        return "%s is not signed (SDK-HMAC-SHA256): Authorization %r" % (what, auth[:40])
    if "Access=%s," % access not in auth:
        return "%s is not signed with the access key %s: %s" % (what, access, auth[:80])
    m = re.search(r"SignedHeaders=([^,\s]+)", auth)
    signed = m.group(1).split(";") if m else []
    for h in ("host", "x-sdk-date"):
        if h not in signed:
            return "%s does not sign %s: %s" % (what, h, auth[:200])
    if ex.one_header("X-Sdk-Date") is None:
        return "%s carries no (single) X-Sdk-Date" % what
    if security_token is None:
        if ex.header("X-Security-Token"):
            return "%s carries an X-Security-Token although its credentials have none" % what
    elif ex.one_header("X-Security-Token") != security_token:
        return "%s does not carry the issued security token as X-Security-Token" % what
    elif "x-security-token" not in signed:
        return "%s does not sign X-Security-Token: %s" % (what, auth[:200])
    return None


def check_json_post(ex, what, want_body):
    """A POST to IAM or STS: Content-Type application/json;charset=UTF-8 and exactly this
    JSON body (key order aside)."""
    ctype = ex.one_header("Content-Type")
    if ctype != IAM_JSON:
        return "%s has Content-Type %r, not %r" % (what, ctype, IAM_JSON)
    body = json_or_none(ex.body)
    if body != want_body:
        return "%s body is %s, expected %s" % (
            what, json.dumps(redact_json(body)) if body is not None else repr(ex.body[:100]),
            json.dumps(redact_json(want_body)))
    return None


def iam_trace_id(ex):
    return response_header(ex, "X-IAM-Trace-Id")


def check_projects_get(ex, region, access, security_token, want_ids):
    """The discovery request: GET /v3/projects?name=<region> (nothing else in the query),
    signed with the client's credentials; IAM (the emulator) listed `want_ids`."""
    query = parse_qs(urlsplit(ex.target).query, keep_blank_values=True)
    if query != {"name": [region]}:
        return "the projects GET asked %r, not name=%s" % (urlsplit(ex.target).query, region)
    why = check_signed(ex, "the projects GET", access, security_token)
    if why:
        return why
    doc = json_or_none(ex.resp_body)
    got = [p.get("id") for p in doc.get("projects", [])] if isinstance(doc, dict) else None
    if got != want_ids or not iam_trace_id(ex):
        return "IAM answered projects %r (X-IAM-Trace-Id %r), expected %r (emulator?)" % (
            got, iam_trace_id(ex), want_ids)
    return None


def check_federation(post, st, idp_id, id_token):
    """POST id-token with X-Idp-Id and the token file's contents, then POST securitytokens
    with the X-Subject-Token IAM answered. Returns (why, credential document)."""
    if post.one_header("X-Idp-Id") != idp_id:
        return "the id-token POST carried X-Idp-Id %r, not %r" % (post.header("X-Idp-Id"), idp_id), None
    why = check_json_post(post, "the id-token POST", {"auth": {"id_token": {"id": id_token}}})
    if why:
        return why, None
    subject = response_header(post, "X-Subject-Token")
    if not subject:
        return "IAM's id-token answer carried no X-Subject-Token (emulator?)", None
    why = check_json_post(st, "the securitytokens POST", {"auth": {"identity": {
        "methods": ["token"], "token": {"id": subject, "duration_seconds": FEDERATION_DURATION}}}})
    if why:
        return why, None
    doc = credential_doc(st)
    if not doc or not doc.get("access") or not doc.get("securitytoken"):
        return "the securitytokens answer holds no credential document (emulator?)", None
    return None, doc


def check_sts(post, env, id_token, duration=STS_DEFAULT_DURATION):
    """POST assume-with-oidc with the provider and agency URNs, the session name, the
    duration (the default unless given) and the id token. Returns (why, credential
    document)."""
    why = check_json_post(post, "the STS POST", {
        "provider_urn": env["INTEROP_OIDC_PROVIDER_URN"], "agency_urn": AGENCY_URN,
        "agency_session_name": STS_SESSION_NAME, "id_token": id_token,
        "duration_seconds": duration})
    if why:
        return why, None
    doc = credential_doc(post)
    if not doc or not doc.get("access") or not doc.get("securitytoken"):
        return "the STS answer holds no credentials (emulator?)", None
    return None, doc


def check_password(post, kms, env):
    """POST /v3/auth/tokens with the password, scoped to the project by id; then the KMS
    call with the X-Subject-Token as X-Auth-Token, unsigned."""
    why = check_json_post(post, "the auth-tokens POST", {
        "auth": {"identity": {"methods": ["password"], "password": {"user": {
            "domain": {"name": env["INTEROP_IAM_DOMAIN"]}, "name": env["INTEROP_IAM_USER"],
            "password": env["INTEROP_IAM_PASSWORD"]}}},
            "scope": {"project": {"id": env["INTEROP_PROJECT_ID"]}}}})
    if why:
        return why
    subject = response_header(post, "X-Subject-Token")
    if not subject:
        return "IAM's auth-tokens answer carried no X-Subject-Token (emulator?)"
    if kms.one_header("X-Auth-Token") != subject:
        return "the KMS request did not carry the token IAM issued as X-Auth-Token"
    if kms.header("Authorization") or kms.header("X-Security-Token"):
        return "the KMS request with X-Auth-Token was also signed or carried X-Security-Token"
    return None


def check_discovery_wire(exchanges, env, region, access):
    """GET projects signed with the AK, then the KMS call of the discovered project."""
    pid = env["INTEROP_PROJECT_ID"]
    why = expect_sequence(exchanges, pid, [("GET projects", 200), ("GET kms", 200)])
    return (why or check_projects_get(exchanges[0], region, access, None, [pid])
            or check_signed(exchanges[1], "the KMS request", access))


def check_federation_wire(exchanges, env, discovery):
    """POST id-token, POST securitytokens, (GET projects signed with the issued credentials,)
    then the KMS call signed with them."""
    pid = env["INTEROP_PROJECT_ID"]
    want = [("POST id-token", 201), ("POST securitytokens", 201)]
    want += [("GET projects", 200)] if discovery else []
    why = expect_sequence(exchanges, pid, want + [("GET kms", 200)])
    if why:
        return why
    why, doc = check_federation(exchanges[0], exchanges[1], env["INTEROP_IDP_ID"],
                                env["INTEROP_ID_TOKEN"])
    if why:
        return why
    if discovery:
        why = check_projects_get(exchanges[2], env["INTEROP_REGION"], doc["access"],
                                 doc["securitytoken"], [pid])
        if why:
            return why
    return check_kms_signed_with(exchanges[-1], doc)


def check_sts_wire(exchanges, env):
    why = expect_sequence(exchanges, env["INTEROP_PROJECT_ID"], [("POST sts", 200), ("GET kms", 200)])
    if why:
        return why
    why, doc = check_sts(exchanges[0], env, env["INTEROP_OIDC_ID_TOKEN"])
    return why or check_kms_signed_with(exchanges[1], doc)


def check_password_wire(exchanges, env):
    why = expect_sequence(exchanges, env["INTEROP_PROJECT_ID"],
                          [("POST auth-tokens", 201), ("GET kms", 200)])
    return why or check_password(exchanges[0], exchanges[1], env)


def only_refusals(exchanges, env, lab):
    """None if the wire holds only `lab` requests, all answered 401 (no KMS call)."""
    pid = env["INTEROP_PROJECT_ID"]
    got = [(label(ex, pid), ex.status) for ex in exchanges]
    if not got or any(g != (lab, 401) for g in got):
        return "expected only %s answered 401 on the wire, got [%s]" % (lab, wire_summary(exchanges, pid))
    return None


def federation_env(workdir, env, token, project_id):
    path = token_file(workdir, "id-token-%d" % len(os.listdir(workdir)), token)
    out = {"HUAWEICLOUD_SDK_IDP_ID": env["INTEROP_IDP_ID"], "HUAWEICLOUD_SDK_ID_TOKEN_FILE": path}
    if project_id:
        out["HUAWEICLOUD_SDK_PROJECT_ID"] = project_id
    return out


def sts_env(workdir, env, token, project_id):
    path = token_file(workdir, "oidc-token-%d" % len(os.listdir(workdir)), token)
    out = {"HUAWEICLOUD_OIDC_PROVIDER_URN": env["INTEROP_OIDC_PROVIDER_URN"],
           "HUAWEICLOUD_OIDC_AGENCY_URN": AGENCY_URN,
           "HUAWEICLOUD_OIDC_TOKEN_FILE": path,
           "HUAWEICLOUD_OIDC_SESSION_NAME": STS_SESSION_NAME}
    if project_id:
        out["HUAWEICLOUD_SDK_PROJECT_ID"] = project_id
    return out


# ------------------------------------------------------------------ the official SDK

def region_env_name(region):
    """The official per-service endpoint override, HUAWEICLOUD_SDK_REGION_KMS_<REGION>."""
    return "HUAWEICLOUD_SDK_REGION_KMS_" + region.replace("-", "_").upper()


@contextmanager
def sdk_iam_environment(proxy, region, **values):
    """Exactly these Huawei Cloud variables for the block: IAM and STS at the proxy, the KMS
    endpoint of `region` at the proxy, and `values`; every other HUAWEICLOUD_* or
    HC_CONTAINER_* variable removed."""
    settings = {k: None for k in os.environ if k.startswith(("HUAWEICLOUD_", "HC_CONTAINER_"))}
    settings.update({"HUAWEICLOUD_SDK_IAM_ENDPOINT": proxy.url,
                     "HUAWEICLOUD_SDK_STS_ENDPOINT": proxy.url,
                     region_env_name(region): proxy.url})
    settings.update(values)
    with environment(**settings):
        yield


def sdk_region_count(proxy, region, credentials):
    """ShowUserInstances through a KmsClient built as an application builds one for a region:
    `.with_region(KmsRegion.value_of(region))` (the region's endpoint comes from
    HUAWEICLOUD_SDK_REGION_KMS_<REGION>, the proxy), which is what makes the SDK look up the
    project id when the credentials have none. `credentials` is a callable giving them
    (errors count as the SDK's), or None for the SDK's own default chain
    (CredentialProviderChain, as `build()` uses it). Returns (response_or_None,
    exception_or_None)."""
    # The SDK caches discovered project ids per AK (or idp id) and region for the whole
    # process (Credentials._CACHE): each scenario starts without.
    Credentials._CACHE.clear()
    kms_region = KmsRegion.value_of(region)
    if list(kms_region.endpoints) != [proxy.url]:
        raise RuntimeError("KmsRegion.value_of(%r) has endpoints %r, not the proxy %s (%s ignored?)"
                           % (region, kms_region.endpoints, proxy.url, region_env_name(region)))
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    config.timeout = (5, 15)
    client = None
    try:
        builder = KmsClient.new_builder().with_http_config(config).with_region(kms_region)
        if credentials is not None:
            builder = builder.with_credentials(credentials())
        client = builder.build()
        return client.show_user_instances(ShowUserInstancesRequest()), None
    except (SdkException, ApiValueError, ApiTypeError) as e:
        return None, e
    finally:
        if client is not None:
            client.close()


def sdk_discovery(name, env):
    """BasicCredentials(ak, sk) without a project id, a client for the region: the SDK asks
    IAM for the region's project, then counts in it."""
    region = env["INTEROP_REGION"]
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        with sdk_iam_environment(proxy, region):
            resp, exc = sdk_region_count(
                proxy, region, lambda: BasicCredentials(env["INTEROP_AK"], env["INTEROP_SK"]))
        exchanges = proxy.exchanges
    why = expect_sdk_count(env, resp, exc) or check_discovery_wire(exchanges, env, region, env["INTEROP_AK"])
    return report_wire(name, why, exchanges)


def several_ids(env):
    return env["INTEROP_SEVERAL_PROJECT_IDS"].split(",")


def sdk_discovery_several(name, env):
    """Two projects named after the region: the SDK refuses, listing both and IAM's trace id."""
    region = env["INTEROP_SEVERAL_REGION"]
    ids = several_ids(env)
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        with sdk_iam_environment(proxy, region):
            resp, exc = sdk_region_count(
                proxy, region, lambda: BasicCredentials(env["INTEROP_AK"], env["INTEROP_SK"]))
        exchanges = proxy.exchanges
    why = expect_sequence(exchanges, env["INTEROP_PROJECT_ID"], [("GET projects", 200)])
    if why is None:
        why = check_projects_get(exchanges[0], region, env["INTEROP_AK"], None, ids)
    if why is None:
        trace = iam_trace_id(exchanges[0])
        message = str(exc) if exc is not None else ""
        if exc is None:
            why = "expected the SDK to refuse several projects, it counted %r" % resp.instance_num
        elif not all(i in message for i in ids) or trace not in message:
            why = "expected an error naming %s and X-IAM-Trace-Id %s, got %s" % (ids, trace, describe(exc))
    return report_wire(name, why, exchanges, info=describe(exc) if exc else None)


def sdk_federation(name, env, workdir, chain):
    """EnvCredentialProvider with HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE and
    HUAWEICLOUD_SDK_PROJECT_ID; or (chain) the builder's default chain with no project id,
    so the SDK federates, then discovers the project with the issued credentials."""
    region = env["INTEROP_REGION"]
    values = federation_env(workdir, env, env["INTEROP_ID_TOKEN"],
                            None if chain else env["INTEROP_PROJECT_ID"])
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        with sdk_iam_environment(proxy, region, **values):
            resp, exc = sdk_region_count(
                proxy, region,
                None if chain else (lambda: EnvCredentialProvider.get_basic().get_credentials()))
        exchanges = proxy.exchanges
    why = expect_sdk_count(env, resp, exc) or check_federation_wire(exchanges, env, discovery=chain)
    return report_wire(name, why, exchanges)


def sdk_oidc_sts(name, env, workdir):
    """OidcStsCredentialProvider with HUAWEICLOUD_OIDC_* (token from a file, a session name,
    the default duration) and HUAWEICLOUD_SDK_PROJECT_ID."""
    region = env["INTEROP_REGION"]
    values = sts_env(workdir, env, env["INTEROP_OIDC_ID_TOKEN"], env["INTEROP_PROJECT_ID"])
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        with sdk_iam_environment(proxy, region, **values):
            resp, exc = sdk_region_count(
                proxy, region, lambda: OidcStsCredentialProvider.get_basic().get_credentials())
        exchanges = proxy.exchanges
    why = expect_sdk_count(env, resp, exc) or check_sts_wire(exchanges, env)
    return report_wire(name, why, exchanges)


def sdk_wrong_id_token(name, env, workdir, kind):
    """A wrong id token (kind 'federation' or 'sts'): one refused POST, no KMS call, and the
    SDK's error names the 401."""
    region = env["INTEROP_REGION"]
    if kind == "federation":
        values = federation_env(workdir, env, "not-" + env["INTEROP_ID_TOKEN"], env["INTEROP_PROJECT_ID"])
        factory, lab = (lambda: EnvCredentialProvider.get_basic().get_credentials()), "POST id-token"
    else:
        values = sts_env(workdir, env, "not-" + env["INTEROP_OIDC_ID_TOKEN"], env["INTEROP_PROJECT_ID"])
        factory, lab = (lambda: OidcStsCredentialProvider.get_basic().get_credentials()), "POST sts"
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        with sdk_iam_environment(proxy, region, **values):
            resp, exc = sdk_region_count(proxy, region, factory)
        exchanges = proxy.exchanges
    why = only_refusals(exchanges, env, lab)
    if why is None:
        if exc is None:
            why = "expected the SDK to fail, it counted %r" % resp.instance_num
        elif getattr(exc, "status_code", None) != 401 and "status_code:401" not in str(exc):
            why = "expected an error naming the 401, got %s" % describe(exc)
    info = None
    if exc is not None:
        trace = iam_trace_id(exchanges[0]) if exchanges else None
        info = "%s; names X-IAM-Trace-Id %s: %s" % (
            describe(exc), trace, "yes" if trace and trace in str(exc) else "no")
    return report_wire(name, why, exchanges, info=info)


# ------------------------------------------------------------------ our client (kms CLI)

_help_text = {}


def kms_count_help(kms_bin):
    if kms_bin not in _help_text:
        try:
            out = subprocess.run([kms_bin, "count", "--help"], capture_output=True, text=True,
                                 timeout=60)
            _help_text[kms_bin] = out.stdout if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            _help_text[kms_bin] = ""
    return _help_text[kms_bin]


def source_missing(kms_bin, source):
    """None if `kms count --help` lists `--credentials <source>`, else why not."""
    if source is None or re.search(r"^\s*-?\s*%s:" % re.escape(source), kms_count_help(kms_bin), re.M):
        return None
    return ("`kms count --help` lists no `--credentials %s` (this kms has no %s source yet)"
            % (source, source))


def run_kms(kms_bin, args, run_env):
    return subprocess.run([kms_bin, "count"] + args, env=run_env, capture_output=True,
                          text=True, timeout=120)


def ours_iam_args(proxy, transport, source=None, project_id=None, region=None, verbose=True):
    args = ["--endpoint", proxy.url, "--transport", transport, "--retries", "0", "--timeout", "10"]
    if source:
        args += ["--credentials", source]
    if project_id:
        args += ["--project-id", project_id]
    if region:
        args += ["--region", region]
    # -vv for the runs that succeed: what is logged must not hold a secret either.
    return args + (["-vv"] if verbose else [])


def ours_iam_env(workdir, proxy, **extra):
    return ours_env(workdir, HUAWEICLOUD_SDK_IAM_ENDPOINT=proxy.url,
                    HUAWEICLOUD_SDK_STS_ENDPOINT=proxy.url, **extra)


def secrets_printed(run, exchanges, env):
    """None, or which secret `kms` printed: anything secret that crossed the wire, and the
    configured id tokens and password."""
    known = {env[k] for k in ("INTEROP_ID_TOKEN", "INTEROP_OIDC_ID_TOKEN", "INTEROP_IAM_PASSWORD",
                              "INTEROP_SK")}
    for secret in wire_secrets(exchanges) | known:
        if secret in run.stdout or secret in run.stderr:
            return "kms printed a secret (%s)" % redacted(secret)
    return None


def ours_outcome_safe(run, exchanges, env):
    """ours_outcome with every known secret redacted (for INFO lines)."""
    text = ours_outcome(run)
    for secret in wire_secrets(exchanges) | {env["INTEROP_ID_TOKEN"], env["INTEROP_OIDC_ID_TOKEN"],
                                             env["INTEROP_IAM_PASSWORD"]}:
        text = text.replace(secret, redacted(secret))
    return text


def ours_discovery_hint(run):
    if run.returncode == 2 or re.search(r"project", run.stderr, re.I):
        return " (does this kms discover the project without --project-id?)"
    return ""


def ours_discovery(name, env, kms_bin, transport, workdir):
    """`kms count --region R --endpoint <emulator>` with AK/SK and no project id."""
    region = env["INTEROP_REGION"]
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        run = run_kms(kms_bin, ours_iam_args(proxy, transport, region=region), ours_iam_env(
            workdir, proxy, HUAWEICLOUD_SDK_AK=env["INTEROP_AK"], HUAWEICLOUD_SDK_SK=env["INTEROP_SK"]))
        exchanges = proxy.exchanges
    why = expect_ours_count(env, run)
    if why:
        why += ours_discovery_hint(run)
    why = (why or check_discovery_wire(exchanges, env, region, env["INTEROP_AK"])
           or secrets_printed(run, exchanges, env))
    return report_wire(name, why, exchanges,
                       info=None if why is None else ours_outcome_safe(run, exchanges, env))


def ours_discovery_several(name, env, kms_bin, transport, workdir):
    """Two projects for the region: exit 7 (project), naming both and IAM's trace id."""
    region = env["INTEROP_SEVERAL_REGION"]
    ids = several_ids(env)
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        run = run_kms(kms_bin, ours_iam_args(proxy, transport, region=region, verbose=False),
                      ours_iam_env(workdir, proxy, HUAWEICLOUD_SDK_AK=env["INTEROP_AK"],
                                   HUAWEICLOUD_SDK_SK=env["INTEROP_SK"]))
        exchanges = proxy.exchanges
    why = None
    if run.returncode != 7:
        why = "expected exit 7 (project), got %s%s" % (ours_outcome(run), ours_discovery_hint(run))
    why = why or expect_sequence(exchanges, env["INTEROP_PROJECT_ID"], [("GET projects", 200)])
    if why is None:
        why = check_projects_get(exchanges[0], region, env["INTEROP_AK"], None, ids)
    if why is None:
        trace = iam_trace_id(exchanges[0])
        if not all(i in run.stderr for i in ids) or trace not in run.stderr:
            why = "expected a message naming %s and X-IAM-Trace-Id %s, got %s" % (ids, trace, ours_outcome(run))
    why = why or secrets_printed(run, exchanges, env)
    return report_wire(name, why, exchanges, info=ours_outcome_safe(run, exchanges, env))


def ours_federation(name, env, kms_bin, transport, workdir, chain):
    """`--credentials iam-federation` with a project id; or (chain) no --credentials and no
    project id: the default chain federates, then the project is discovered."""
    values = federation_env(workdir, env, env["INTEROP_ID_TOKEN"], None)
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        if chain:
            args = ours_iam_args(proxy, transport, region=env["INTEROP_REGION"])
        else:
            args = ours_iam_args(proxy, transport, "iam-federation", env["INTEROP_PROJECT_ID"])
        run = run_kms(kms_bin, args, ours_iam_env(workdir, proxy, **values))
        exchanges = proxy.exchanges
    why = expect_ours_count(env, run)
    if why and chain:
        why += ours_discovery_hint(run)
    why = (why or check_federation_wire(exchanges, env, discovery=chain)
           or secrets_printed(run, exchanges, env))
    return report_wire(name, why, exchanges,
                       info=None if why is None else ours_outcome_safe(run, exchanges, env))


def ours_oidc_sts(name, env, kms_bin, transport, workdir):
    values = sts_env(workdir, env, env["INTEROP_OIDC_ID_TOKEN"], None)
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        run = run_kms(kms_bin, ours_iam_args(proxy, transport, "oidc-sts", env["INTEROP_PROJECT_ID"]),
                      ours_iam_env(workdir, proxy, **values))
        exchanges = proxy.exchanges
    why = (expect_ours_count(env, run) or check_sts_wire(exchanges, env)
           or secrets_printed(run, exchanges, env))
    return report_wire(name, why, exchanges,
                       info=None if why is None else ours_outcome_safe(run, exchanges, env))


def ours_password(name, env, kms_bin, transport, workdir):
    """`--credentials iam-password` with HUAWEICLOUD_SDK_IAM_USER, _IAM_DOMAIN and
    _IAM_PASSWORD_FILE (this project's own variables)."""
    path = token_file(workdir, "password-%d" % len(os.listdir(workdir)), env["INTEROP_IAM_PASSWORD"])
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        run = run_kms(kms_bin, ours_iam_args(proxy, transport, "iam-password", env["INTEROP_PROJECT_ID"]),
                      ours_iam_env(workdir, proxy, HUAWEICLOUD_SDK_IAM_USER=env["INTEROP_IAM_USER"],
                                   HUAWEICLOUD_SDK_IAM_DOMAIN=env["INTEROP_IAM_DOMAIN"],
                                   HUAWEICLOUD_SDK_IAM_PASSWORD_FILE=path))
        exchanges = proxy.exchanges
    why = (expect_ours_count(env, run) or check_password_wire(exchanges, env)
           or secrets_printed(run, exchanges, env))
    return report_wire(name, why, exchanges,
                       info=None if why is None else ours_outcome_safe(run, exchanges, env))


def ours_wrong_id_token(name, env, kms_bin, transport, workdir, kind):
    """A wrong id token: exit 6, a message naming the source, IAM's 401 and its trace id."""
    if kind == "federation":
        wrong = "not-" + env["INTEROP_ID_TOKEN"]
        values = federation_env(workdir, env, wrong, None)
        source, lab, names = "iam-federation", "POST id-token", r"federation"
    else:
        wrong = "not-" + env["INTEROP_OIDC_ID_TOKEN"]
        values = sts_env(workdir, env, wrong, None)
        source, lab, names = "oidc-sts", "POST sts", r"\bSTS\b|oidc-sts"
    with RecordingProxy(env["INTEROP_IAM_URL"]) as proxy:
        run = run_kms(kms_bin, ours_iam_args(proxy, transport, source, env["INTEROP_PROJECT_ID"],
                                             verbose=False),
                      ours_iam_env(workdir, proxy, **values))
        exchanges = proxy.exchanges
    why = only_refusals(exchanges, env, lab)
    if why is None:
        traces = [iam_trace_id(ex) for ex in exchanges]
        if run.returncode != 6:
            why = "expected exit 6 (credentials), got %s" % ours_outcome(run)
        elif not re.search(names, run.stderr) or "401" not in run.stderr:
            why = "expected a message naming %s and the 401, got %s" % (source, ours_outcome(run))
        elif not any(t and t in run.stderr for t in traces):
            why = "expected the message to quote IAM's X-IAM-Trace-Id (%s), got %s" % (
                ", ".join(t or "none" for t in traces), ours_outcome(run))
        elif wrong in run.stdout or wrong in run.stderr:
            why = "kms printed the id token"
    why = why or secrets_printed(run, exchanges, env)
    return report_wire(name, why, exchanges,
                       info=ours_outcome_safe(run, exchanges, env).replace(wrong, redacted(wrong)))


# ===================================================================== several endpoints
#
# Endpoint failover (issue 16). The official SDKs take several endpoints for a region: a
# comma-separated HUAWEICLOUD_SDK_REGION_KMS_<REGION>, or a regions file
# (HUAWEICLOUD_SDK_REGIONS_FILE, else ~/.huaweicloud/regions.yaml,
# `{KMS: [{id: <region>, endpoint: <url> | endpoints: [<url>, ...]}]}`), the variable
# checked first. What the Python SDK (huaweicloudsdkcore 3.1.219) does with them, read from
# its code and asserted below:
#
# - region/provider.py:59-77 (EnvRegionProvider) splits the variable on ",", nothing
#   trimmed; region/cache.py:123-161 (ProfileRegionCache, a process-wide singleton) reads
#   the file ONCE per process, at first use, takes `endpoints` then appends `endpoint`,
#   and skips silently an entry without `id` or with neither key: a misspelt key
#   (`endpiont`) leaves the region to KmsRegion's built-in table, the public endpoint.
# - client.py:168-178 (ClientBuilder.build) appends the region's endpoints to any given
#   with with_endpoints, and prefixes https:// to those without a scheme.
# - client.py:446-465 (Client.do_http_request, synchronous calls only) moves to the next
#   endpoint on HostUnreachableException and SslHandShakeException only (line 454).
#   exceptions/exception_handler.py:100-118 (process_connection_error) raises the first
#   for a NewConnectionError whose text holds "getaddrinfo failed" or "Name or service not
#   known" (a name that does not resolve; not "Temporary failure in name resolution"),
#   the second for an SSLError; anything else, a refused connection and a connect timeout
#   included, is a plain ConnectionException, raised at once on the same endpoint: no
#   failover, on this call or the next.
# - The index of the endpoint in use lives on the client (Client._endpoint_index, advanced
#   at client.py:456-458 under a lock shared by the client's calls), so a client that moved
#   on stays on the new endpoint for its later calls; it goes back to the first only when
#   the last one fails too (client.py:459-460), and that call then raises a
#   ConnectionException joining the failures' messages with "; " (client.py:464-465), or,
#   when the last endpoint was the one it started from, the failure itself (462-463). It
#   never tries the endpoints before the one it started from.
# - Asynchronous calls (client.py:438-444) never fail over.

FAILOVER_REGION = "cn-north-4"   # in the SDK's table
PUBLIC_KMS_ENDPOINT = "https://kms.cn-north-4.myhuaweicloud.com"  # KmsRegion.CN_NORTH_4
# For our typo check: a well-formed region in no table, so that a `kms` that ignored the
# regions file would resolve kms.<region>.myhuaweicloud.com (no such host) and never reach
# the real service.
TYPO_REGION = "ap-interop-9"
SDK_PROBE_FLAG = "--sdk-region-probe"


class RefusingPort:
    """A loopback port that refuses connections: a socket bound and never listening (the
    kernel answers a SYN with RST, ECONNREFUSED), held for the block so that nothing else
    takes the port meanwhile."""

    def __enter__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self._sock.getsockname()[1]
        return self

    def __exit__(self, *exc):
        self._sock.close()


class NotTls:
    """A loopback listener that answers the first bytes of every connection with a plain
    HTTP 400 and closes it: to a TLS client, a failed handshake (WRONG_VERSION_NUMBER).
    `connections` counts the connections made to it; `url` is its https:// URL."""

    def __enter__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.url = "https://127.0.0.1:%d" % self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    @property
    def connections(self):
        with self._lock:
            return self._connections

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                except OSError:
                    pass

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def regions_yaml(region, endpoints):
    """A regions file's lines: the region's KMS endpoints as an `endpoints` list."""
    return (["# the interop checks' regions file (HUAWEICLOUD_SDK_REGIONS_FILE)", "KMS:",
             "  - id: %s" % region, "    endpoints:"]
            + ["      - %s" % e for e in endpoints])


# The typo the file parser must refuse, on line TYPO_LINE of the file.
TYPO_KEY = "endpiont"
TYPO_LINE = 4


def typo_yaml(region, endpoint):
    return ["# the interop checks' regions file, with a misspelt key", "KMS:",
            "  - id: %s" % region, "    %s: %s" % (TYPO_KEY, endpoint)]


def write_lines(workdir, name, lines):
    path = os.path.join(workdir, "%s-%d.yaml" % (name, len(os.listdir(workdir))))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def endpoint_settings(workdir, via, region, endpoints):
    """The environment that gives `region` these KMS endpoints: `via` "env" (the variable,
    comma-separated) or "file" (a regions file named by HUAWEICLOUD_SDK_REGIONS_FILE)."""
    if via == "env":
        return {region_env_name(region): ",".join(endpoints)}
    path = write_lines(workdir, "regions", regions_yaml(region, endpoints))
    return {"HUAWEICLOUD_SDK_REGIONS_FILE": path}


# ------------------------------------------------------------------ the official SDK

def sdk_region_probe(region, calls):
    """Child-process mode (`check.py --sdk-region-probe REGION CALLS`): a KmsClient for
    `region` built as an application builds one (`.with_region(KmsRegion.value_of(region))`,
    AK/SK and project id from INTEROP_PROBE_AK, _SK, _PROJECT_ID), in a process of its own
    because the SDK reads the regions file once per process; makes CALLS calls on that one
    client and prints one JSON line: the region's endpoints, and each call's count or
    exception (type and message)."""
    out = {"endpoints": None, "calls": []}
    try:
        kms_region = KmsRegion.value_of(region)
    except KeyError as e:
        out["error"] = "KeyError: %s" % e
        print(json.dumps(out), flush=True)
        return 0
    out["endpoints"] = list(kms_region.endpoints)
    if calls:
        config = HttpConfig.get_default_config()
        config.retry_times = 0
        config.timeout = (5, 15)
        creds = BasicCredentials(os.environ["INTEROP_PROBE_AK"], os.environ["INTEROP_PROBE_SK"],
                                 os.environ["INTEROP_PROBE_PROJECT_ID"])
        client = (KmsClient.new_builder().with_http_config(config).with_credentials(creds)
                  .with_region(kms_region).build())
        try:
            for _ in range(calls):
                try:
                    resp = client.show_user_instances(ShowUserInstancesRequest())
                    out["calls"].append({"count": resp.instance_num})
                except SdkException as e:
                    out["calls"].append({"exception": type(e).__name__,
                                         "message": getattr(e, "error_msg", None) or str(e)})
        finally:
            client.close()
    print(json.dumps(out), flush=True)
    return 0


def sdk_probe(env, workdir, region, calls, values):
    """Runs the probe with exactly these Huawei Cloud variables (every other HUAWEICLOUD_*
    or HC_CONTAINER_* removed) and an empty HOME (no ~/.huaweicloud/regions.yaml). Returns
    (the probe's document or None, why not or None)."""
    child = {k: v for k, v in os.environ.items()
             if not k.startswith(("HUAWEICLOUD_", "HC_CONTAINER_"))}
    home = os.path.join(workdir, "sdk-home")
    os.makedirs(home, exist_ok=True)
    child.update(HOME=home, INTEROP_PROBE_AK=env["INTEROP_AK"], INTEROP_PROBE_SK=env["INTEROP_SK"],
                 INTEROP_PROBE_PROJECT_ID=env["INTEROP_PROJECT_ID"], **values)
    run = subprocess.run([sys.executable, os.path.abspath(__file__), SDK_PROBE_FLAG, region,
                          str(calls)], env=child, capture_output=True, text=True, timeout=180)
    lines = run.stdout.strip().splitlines()
    doc = json_or_none(lines[-1]) if run.returncode == 0 and lines else None
    if not isinstance(doc, dict):
        return None, "the SDK probe failed: exit %d, stdout %r, stderr %r" % (
            run.returncode, run.stdout[-300:], run.stderr[-800:])
    if "error" in doc:
        return None, "KmsRegion.value_of(%r) failed: %s" % (region, doc["error"])
    return doc, None


def probe_calls(doc):
    return "; ".join("call %d: %s" % (i, "instance_num=%r" % c["count"] if "count" in c
                                      else "%s(%s)" % (c["exception"], c["message"][:300]))
                     for i, c in enumerate(doc["calls"], 1)) or "no calls"


def expect_endpoints(doc, endpoints, how):
    if doc["endpoints"] != endpoints:
        return "KmsRegion.value_of gave endpoints %r, expected %r from %s" % (
            doc["endpoints"], endpoints, how)
    return None


def sdk_failover_refused(name, env, workdir, via):
    """The first endpoint refuses the connection: the SDK raises ConnectionException and
    stays on it, on this call and the next; the second endpoint is never asked. (A
    finding: the SDK fails over on DNS and TLS failures only.)"""
    with RecordingProxy(env["INTEROP_URL"]) as proxy, RefusingPort() as refusing:
        endpoints = [refusing.url, proxy.url]
        doc, why = sdk_probe(env, workdir, FAILOVER_REGION, 2,
                             endpoint_settings(workdir, via, FAILOVER_REGION, endpoints))
        exchanges = proxy.exchanges
    why = why or expect_endpoints(doc, endpoints, via)
    if why is None:
        for i, c in enumerate(doc["calls"], 1):
            if "count" in c:
                why = ("call %d counted through the second endpoint: the SDK now fails over on a "
                       "refused connection (update this finding): %s" % (i, probe_calls(doc)))
            elif c["exception"] != "ConnectionException" or "refused" not in c["message"]:
                why = "expected a plain ConnectionException naming the refused connection, got %s" % (
                    probe_calls(doc))
            if why:
                break
    if why is None and len(doc["calls"]) != 2:
        why = "expected 2 calls, got %s" % probe_calls(doc)
    if why is None and exchanges:
        why = "the second endpoint was asked %d times; expected never" % len(exchanges)
    return report_wire(name, why, exchanges,
                       info="no failover on a refused connection: " + probe_calls(doc) if doc else None)


def sdk_failover_tls(name, env, workdir, via):
    """The first endpoint fails the TLS handshake: the SDK moves to the second and counts,
    and the client's next call goes to the second endpoint directly (it remembers)."""
    with RecordingProxy(env["INTEROP_URL"]) as proxy, NotTls() as bad:
        endpoints = [bad.url, proxy.url]
        doc, why = sdk_probe(env, workdir, FAILOVER_REGION, 2,
                             endpoint_settings(workdir, via, FAILOVER_REGION, endpoints))
        exchanges = proxy.exchanges
        tries = bad.connections
    want = int(env["INTEROP_COUNT"])
    why = why or expect_endpoints(doc, endpoints, via)
    if why is None and [c.get("count") for c in doc["calls"]] != [want, want]:
        why = "expected instance_num=%d on both calls, got %s" % (want, probe_calls(doc))
    why = why or expect_sequence(exchanges, env["INTEROP_PROJECT_ID"],
                                 [("GET kms", 200), ("GET kms", 200)])
    if why is None and tries != 1:
        why = ("the failing endpoint had %d connections; expected 1 (the second call should start "
               "from the endpoint that answered)" % tries)
    return report_wire(name, why, exchanges,
                       info="TLS failure: moved on, stayed there (%d handshake(s) to the first)" % tries)


def sdk_failover_all_fail(name, env, workdir):
    """Both endpoints fail the TLS handshake: the call raises a ConnectionException joining
    both failures, and the next call starts from the first endpoint again."""
    with NotTls() as first, NotTls() as second:
        endpoints = [first.url, second.url]
        doc, why = sdk_probe(env, workdir, FAILOVER_REGION, 2,
                             endpoint_settings(workdir, "env", FAILOVER_REGION, endpoints))
        tries = (first.connections, second.connections)
    why = why or expect_endpoints(doc, endpoints, "env")
    if why is None:
        for c in doc["calls"]:
            if c.get("exception") != "ConnectionException" or "; " not in c.get("message", ""):
                why = ("expected each call to raise a ConnectionException joining both failures "
                       "with '; ', got %s" % probe_calls(doc))
                break
    if why is None and tries != (2, 2):
        why = ("expected 2 handshakes on each endpoint (each call from the first), got %d and %d"
               % tries)
    return report_wire(name, why, [], info="both failed: %s; handshakes %d and %d" % (
        (probe_calls(doc) if doc else "no document",) + tries))


def sdk_env_before_file(name, env, workdir):
    """The variable gives the emulator, the file a refusing port: the variable wins."""
    with RecordingProxy(env["INTEROP_URL"]) as proxy, RefusingPort() as refusing:
        values = endpoint_settings(workdir, "env", FAILOVER_REGION, [proxy.url])
        values.update(endpoint_settings(workdir, "file", FAILOVER_REGION, [refusing.url]))
        doc, why = sdk_probe(env, workdir, FAILOVER_REGION, 1, values)
        exchanges = proxy.exchanges
    want = int(env["INTEROP_COUNT"])
    why = why or expect_endpoints(doc, [proxy.url], "the variable, before the file")
    if why is None and [c.get("count") for c in doc["calls"]] != [want]:
        why = "expected instance_num=%d, got %s" % (want, probe_calls(doc))
    why = why or expect_sequence(exchanges, env["INTEROP_PROJECT_ID"], [("GET kms", 200)])
    return report_wire(name, why, exchanges)


def sdk_regions_file_typo(name, env, workdir):
    """A regions file whose entry misspells `endpoint`: the SDK ignores the entry without a
    word, and the region gets its public endpoint from the SDK's table. (A finding: a typo
    sends the calls to the real service. No call is made here.)"""
    with RefusingPort() as refusing:
        path = write_lines(workdir, "regions-typo", typo_yaml(FAILOVER_REGION, refusing.url))
        doc, why = sdk_probe(env, workdir, FAILOVER_REGION, 0,
                             {"HUAWEICLOUD_SDK_REGIONS_FILE": path})
    why = why or expect_endpoints(doc, [PUBLIC_KMS_ENDPOINT],
                                  "the SDK's table (the misspelt entry ignored)")
    return report_wire(name, why, [], info="`%s:` ignored, region endpoints %r" % (
        TYPO_KEY, doc["endpoints"]) if doc else None)


# ------------------------------------------------------------------ our client (kms CLI)

def ours_region_args(env, transport, region, retries=None):
    """`kms count --region R` with the project id and static credentials (`--credentials
    env`): no IAM call, KMS at the region's endpoints. The default retries unless `retries`
    is given (moving to the next endpoint may count as a retry of ours)."""
    args = ["--region", region, "--credentials", "env", "--project-id", env["INTEROP_PROJECT_ID"],
            "--transport", transport, "--timeout", "5", "-v"]
    if retries is not None:
        args += ["--retries", str(retries)]
    return args


def ours_region_env(env, workdir, values):
    return ours_env(workdir, HUAWEICLOUD_SDK_AK=env["INTEROP_AK"], HUAWEICLOUD_SDK_SK=env["INTEROP_SK"],
                    **values)


def regions_hint(run, via):
    """Why a `kms` run may have failed a several-endpoints check, when its stderr says."""
    if re.search(r"several endpoints", run.stderr, re.I):
        return " (this kms does not take several endpoints for a region yet)"
    if via == "file" and re.search(r"kms\.[a-z0-9-]+\.myhuaweicloud\.com", run.stderr):
        return " (this kms did not use the regions file: it went to the region's public endpoint)"
    return ""


def run_kms_region(kms_bin, env, transport, region, run_env, retries=None):
    return run_kms(kms_bin, ours_region_args(env, transport, region, retries), run_env)


def ours_failover_refused(name, env, kms_bin, transport, workdir, via):
    """The first endpoint refuses the connection: `kms` moves to the second and counts."""
    with RecordingProxy(env["INTEROP_URL"]) as proxy, RefusingPort() as refusing:
        values = endpoint_settings(workdir, via, FAILOVER_REGION, [refusing.url, proxy.url])
        run = run_kms_region(kms_bin, env, transport, FAILOVER_REGION,
                             ours_region_env(env, workdir, values))
        exchanges = proxy.exchanges
    why = expect_ours_count(env, run)
    if why:
        why += regions_hint(run, via)
    why = (why or expect_sequence(exchanges, env["INTEROP_PROJECT_ID"], [("GET kms", 200)])
           or secrets_printed(run, exchanges, env))
    return report_wire(name, why, exchanges,
                       info=None if why is None else ours_outcome_safe(run, exchanges, env))


def ours_env_before_file(name, env, kms_bin, transport, workdir):
    """The variable gives the emulator, the regions file a refusing port: the variable wins."""
    with RecordingProxy(env["INTEROP_URL"]) as proxy, RefusingPort() as refusing:
        values = endpoint_settings(workdir, "env", FAILOVER_REGION, [proxy.url])
        values.update(endpoint_settings(workdir, "file", FAILOVER_REGION, [refusing.url]))
        run = run_kms_region(kms_bin, env, transport, FAILOVER_REGION,
                             ours_region_env(env, workdir, values))
        exchanges = proxy.exchanges
    why = (expect_ours_count(env, run)
           or expect_sequence(exchanges, env["INTEROP_PROJECT_ID"], [("GET kms", 200)])
           or secrets_printed(run, exchanges, env))
    return report_wire(name, why, exchanges,
                       info=None if why is None else ours_outcome_safe(run, exchanges, env))


def ours_regions_file_typo(name, env, kms_bin, transport, workdir):
    """A regions file whose entry misspells `endpoint` (line TYPO_LINE): exit 2 before
    anything is sent, a message naming the line (and the file or the key)."""
    with RecordingProxy(env["INTEROP_URL"]) as proxy:
        path = write_lines(workdir, "regions-typo", typo_yaml(TYPO_REGION, proxy.url))
        run = run_kms_region(kms_bin, env, transport, TYPO_REGION,
                             ours_region_env(env, workdir, {"HUAWEICLOUD_SDK_REGIONS_FILE": path}),
                             retries=0)
        exchanges = proxy.exchanges
    why = None
    if exchanges:
        why = "expected nothing sent, got [%s]" % wire_summary(exchanges, env["INTEROP_PROJECT_ID"])
    elif run.returncode != 2:
        why = "expected exit 2 (configuration), got %s%s" % (ours_outcome(run), regions_hint(run, "file"))
    elif not re.search(r"\bline %d\b|:%d(:|\b)" % (TYPO_LINE, TYPO_LINE), run.stderr):
        why = "expected the message to name line %d, got %s" % (TYPO_LINE, ours_outcome(run))
    elif path not in run.stderr and TYPO_KEY not in run.stderr:
        why = "expected the message to name the file or the key %r, got %s" % (TYPO_KEY, ours_outcome(run))
    why = why or secrets_printed(run, exchanges, env)
    return report_wire(name, why, exchanges, info=ours_outcome_safe(run, exchanges, env))


# ===================================================================== clock skew
#
# Clock skew (issue 16): the gateway refuses a signature whose X-Sdk-Date is more than 15
# minutes from its own clock, 401 APIGW.0301 "calc aksk signature fail:signature expired,
# signature time:<X-Sdk-Date>,server time:<its clock>". Each scenario starts an emulator of
# its own with `--clock-offset 1200` (its clock 20 minutes ahead of this machine's, as if
# the client's clock were 20 minutes behind; a fresh one each time, so that one scenario's
# 401s never count towards another's lockout), behind a recording proxy that counts the
# requests it saw. What the Python SDK (huaweicloudsdkcore 3.1.219) does, read from its
# code and asserted below:
#
# - signer/signer.py:93-100 (Signer._process_header_time) puts datetime.utcnow() in
#   X-Sdk-Date at every signing (unless the request already carries one); nothing in
#   huaweicloudsdkcore keeps or applies a clock offset, or reads the gateway's server time
#   or a Date header.
# - A 401 is raised at once as ClientRequestException: http/http_client.py:128-136
#   (response_error_hook_factory, raise_for_status) and
#   exceptions/exception_handler.py:50-74; the only automatic retries are urllib3's for
#   429 (http/http_client.py:58 and 66, retry_times, 0 here as in every check) and the
#   endpoint loop of client.py:446-465, for unreachable hosts and TLS failures only.
# So every call of a client whose clock is 20 minutes behind fails the same way, the
# second as the first: one request, one 401 each. Our `kms count` re-signs once with the
# gateway's time (kms-proto call/mod.rs, "re-signing with the service's time"): two
# requests, a count, or, with a wrong SK, exit 3 saying the clock was behind and that it
# re-signed once.

CLOCK_OFFSET = 1200          # seconds the skewed emulator's clock is ahead of this machine's
CLOCK_SLACK = 5              # seconds of tolerance on the times compared (whole-second dates)
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_GATEWAY_TIMES_RE = re.compile(r"signature time:\s*(\d{8}T\d{6}Z),\s*server time:\s*(\d{8}T\d{6}Z)")


def mock_command():
    """How to start the emulator: (argv prefix, where it came from), or (None, why not).
    INTEROP_MOCK_BIN, else run.sh's KMS_MOCK_BIN override (inherited), else the `kms-mock`
    that run.sh builds beside INTEROP_KMS_BIN (or in the workspace's target/debug), else
    `kms mock` (the same flags)."""
    for var in ("INTEROP_MOCK_BIN", "KMS_MOCK_BIN"):
        path = os.environ.get(var)
        if path:
            return [path], var
    kms_bin = os.environ.get("INTEROP_KMS_BIN")
    places = []
    if kms_bin:
        places.append(os.path.join(os.path.dirname(os.path.abspath(kms_bin)), "kms-mock"))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
    places.append(os.path.join(target, "debug", "kms-mock"))
    for path in places:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return [path], path
    if kms_bin:
        return [kms_bin, "mock"], "`%s mock`" % kms_bin
    return None, "no kms-mock found (set INTEROP_MOCK_BIN, KMS_MOCK_BIN or INTEROP_KMS_BIN)"


class Emulator:
    """A kms-mock of the scenario's own on a free loopback port, started with `args`;
    `url` is the base URL it announced, `lines` the lines it printed after. Stopped (and
    reaped) when the block ends."""

    def __init__(self, args):
        self._args = args

    def __enter__(self):
        command, where = mock_command()
        if command is None:
            raise RuntimeError(where)
        argv = command + ["--listen", "127.0.0.1:0"] + self._args
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=self._stderr, text=True)
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            first = self._lines.get(timeout=20)
        except queue.Empty:
            first = None
        m = re.match(r"^listening on (http://127\.0\.0\.1:\d+)\s*$", first or "")
        if not m:
            exited = self._proc.poll()
            self.__exit__(None, None, None)
            raise RuntimeError("the emulator (%s) did not announce its address: first line %r, "
                               "%s, stderr %r" % (where, first,
                                                  "running" if exited is None else "exit %d" % exited,
                                                  self._stderr_text[-600:]))
        self.url = m.group(1)
        return self

    def _read(self):
        for line in self._proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next_line(self, timeout=5):
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def __exit__(self, *exc):
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc.stdout.close()
        self._stderr.seek(0)
        self._stderr_text = self._stderr.read().decode("utf-8", "replace")
        self._stderr.close()


def skewed_emulator(env):
    """The plain AK/SK emulator's configuration, its clock CLOCK_OFFSET s ahead."""
    return Emulator(["--project", "%s=%s" % (env["INTEROP_PROJECT_ID"], env["INTEROP_COUNT"]),
                     "--ak", env["INTEROP_AK"], "--sk", env["INTEROP_SK"],
                     "--clock-offset", str(CLOCK_OFFSET)])


def sdk_date_seconds(text):
    """An X-Sdk-Date (YYYYMMDDTHHMMSSZ, UTC) as seconds since the epoch, or None."""
    try:
        return datetime.strptime(text, SDK_DATE_FORMAT).replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def gateway_times(message):
    """(signature time, server time) of a "signature expired" message, in seconds, or None."""
    m = _GATEWAY_TIMES_RE.search(message or "")
    return (sdk_date_seconds(m.group(1)), sdk_date_seconds(m.group(2))) if m else None


def near(value, want):
    return value is not None and abs(value - want) <= CLOCK_SLACK


def check_expired_401(ex, what, signed_between, offset=CLOCK_OFFSET):
    """`ex` is the gateway's "signature expired" 401 to a request signed with this
    machine's clock (X-Sdk-Date within `signed_between`, seconds), the server time named
    `offset` s after the signature time (negative: before), which is the X-Sdk-Date sent."""
    doc = json_or_none(ex.resp_body)
    message = doc.get("error_msg") if isinstance(doc, dict) else None
    if ex.status != 401 or message is None or doc.get("error_code") != "APIGW.0301" \
            or "signature expired" not in message:
        return "%s: expected 401 APIGW.0301 \"signature expired\", got HTTP %s %s" % (
            what, ex.status, shown_body(ex.resp_body, 300))
    why = check_signed_at(ex, what, signed_between, 0)
    if why:
        return why
    times = gateway_times(message)
    if times is None or None in times:
        return "%s: the message names no signature and server times: %r" % (what, message)
    signed, server = times
    if signed != sdk_date_seconds(ex.one_header("X-Sdk-Date")):
        return "%s: the signature time named is not the X-Sdk-Date sent: %r" % (what, message)
    if not near(server - signed, offset):
        return "%s: the server time named is %d s from the signature time, not about %d: %r" % (
            what, server - signed, offset, message)
    return None


def check_signed_at(ex, what, between, offset):
    """The request's X-Sdk-Date is this machine's clock (within `between`) plus `offset` s."""
    date = ex.one_header("X-Sdk-Date")
    at = sdk_date_seconds(date)
    low, high = between[0] + offset - CLOCK_SLACK, between[1] + offset + CLOCK_SLACK
    if at is None or not low <= at <= high:
        return "%s: X-Sdk-Date %r is not this machine's clock%s" % (
            what, date, " + %d s" % offset if offset else "")
    return None


# ------------------------------------------------------------------ the official SDK

def sdk_clock_skew(name, env):
    """Two calls on one client (retries as every check sets them) against the skewed
    emulator: each is refused 401 APIGW.0301 "signature expired", signed with this machine's
    clock both times (the SDK never corrects), and the emulator saw exactly 2 requests."""
    pid = env["INTEROP_PROJECT_ID"]
    outcomes = []
    with skewed_emulator(env) as mock, RecordingProxy(mock.url) as proxy:
        recorder = Recorder()
        client = make_client(proxy.url, env["INTEROP_AK"], env["INTEROP_SK"], pid, None, recorder)
        try:
            for _ in range(2):
                before = time.time()
                try:
                    resp, exc = client.show_user_instances(ShowUserInstancesRequest()), None
                except SdkException as e:
                    resp, exc = None, e
                outcomes.append((resp, exc, (before, time.time())))
        finally:
            client.close()
        exchanges = proxy.exchanges
    why = None
    for i, (resp, exc, between) in enumerate(outcomes, 1):
        what = "call %d" % i
        if exc is None:
            why = "%s: expected a 401, the SDK counted %r (HTTP %s)" % (
                what, resp.instance_num, resp.status_code)
        elif not isinstance(exc, ClientRequestException) or exc.status_code != 401 \
                or exc.error_code != "APIGW.0301" or "signature expired" not in (exc.error_msg or ""):
            why = "%s: expected ClientRequestException 401 APIGW.0301 \"signature expired\", got %s" % (
                what, describe(exc))
        if why:
            break
    why = why or expect_sequence(exchanges, pid, [("GET kms", 401), ("GET kms", 401)])
    for i, (ex, (_, _, between)) in enumerate(zip(exchanges, outcomes), 1):
        why = why or check_expired_401(ex, "request %d" % i, between)
    info = "; ".join("call %d: %s" % (i, describe(exc)) for i, (_, exc, _) in enumerate(outcomes, 1))
    return report_wire(name, why, exchanges, info=info)


# ------------------------------------------------------------------ our client (kms CLI)

# What kms-proto logs (call/mod.rs) when it re-signs, and what the error says after.
RESIGNING_RE = re.compile(r"this machine's clock is (\d+) s behind the service's: "
                          r"re-signing with the service's time")
RESIGNED_RE = re.compile(r"this machine's clock is (\d+) s behind the service's, and the "
                         r"request was re-signed once with the service's time")


def ours_clock_skew(name, env, kms_bin, transport, workdir, wrong_sk):
    """`kms count -v` with AK/SK from the environment against the skewed emulator: a 401
    "signature expired" to the request signed with this machine's clock, then one re-signed
    CLOCK_OFFSET s ahead; a count (and the warning), or, with a wrong SK, the gateway's
    "verify aksk signature fail" to the re-signed request and exit 3 saying so."""
    pid = env["INTEROP_PROJECT_ID"]
    sk = env["INTEROP_SK"] + "-but-wrong" if wrong_sk else env["INTEROP_SK"]
    with skewed_emulator(env) as mock, RecordingProxy(mock.url) as proxy:
        before = time.time()
        run = run_kms(kms_bin, ["--endpoint", proxy.url, "--project-id", pid,
                                "--transport", transport, "--retries", "0", "--timeout", "10", "-v"],
                      ours_env(workdir, HUAWEICLOUD_SDK_AK=env["INTEROP_AK"], HUAWEICLOUD_SDK_SK=sk))
        between = (before, time.time())
        exchanges = proxy.exchanges
    if wrong_sk:
        why = None
        if run.returncode != 3:
            why = "expected exit 3 (authentication), got %s" % ours_outcome(run)
        why = why or expect_sequence(exchanges, pid, [("GET kms", 401), ("GET kms", 401)])
    else:
        why = expect_ours_count(env, run) or expect_sequence(
            exchanges, pid, [("GET kms", 401), ("GET kms", 200)])
    why = why or check_expired_401(exchanges[0], "request 1", between)
    why = why or check_signed_at(exchanges[1], "request 2 (re-signed)", between, CLOCK_OFFSET)
    if why is None and wrong_sk:
        doc = json_or_none(exchanges[1].resp_body)
        if not isinstance(doc, dict) or doc.get("error_code") != "APIGW.0301" \
                or "verify aksk signature fail" not in (doc.get("error_msg") or ""):
            why = "request 2: expected 401 APIGW.0301 \"verify aksk signature fail\", got %s" % (
                shown_body(exchanges[1].resp_body, 300))
    if why is None:
        pattern, what = (RESIGNED_RE, "the error") if wrong_sk else (RESIGNING_RE, "the warning")
        m = pattern.search(run.stderr)
        if not m or not near(int(m.group(1)), CLOCK_OFFSET):
            why = "expected %s on stderr that the clock is about %d s behind and %s, got %s" % (
                what, CLOCK_OFFSET, "that it re-signed once" if wrong_sk else "re-signing",
                ours_outcome(run))
    if why is None and (sk in run.stdout or sk in run.stderr):
        why = "kms printed the SK"
    why = why or secrets_printed(run, exchanges, env)
    info = ours_outcome_safe(run, exchanges, env).replace(sk, redacted(sk))
    return report_wire(name, why, exchanges, info=info)


# ===================================================================== issue 21
#
# Credentials that arrive expired, a machine whose clock is fast, a gateway far ahead
# (issue 21, items 1 and 3). Each scenario starts an emulator of its own (Emulator above),
# behind a recording proxy that counts every request, the credential service's included.
#
# What the Python SDK (huaweicloudsdkcore 3.1.219) does, read from its code and asserted
# below:
#
# - auth/credentials.py:203-235: temporary credentials are fetched again when they have
#   less than 40 minutes left (_DEFAULT_EXPIRATION_THRESHOLD_SECONDS, on this machine's
#   clock), checked once before EVERY request (process_auth_request, 198-201), and what
#   comes back is stored without a look at its expiry. So credentials that arrive expired,
#   or with less than 40 minutes, cost one credential exchange per call (never a loop),
#   and are used as they are: the call fails at the gateway if they really have expired.
# - auth/provider.py:380-384 (MetadataBasicCredentialProvider.get_credentials) fetches once
#   when the provider is asked; the accessor keeps its session token
#   (auth/internal.py:246-249), so the fetch before the call is one GET.
# - auth/provider.py:278-305 (OidcStsCredentialProvider.get_credentials) fetches nothing:
#   the STS POST is made before the first call, with the client's http_client.
# - It signs with this machine's clock and never corrects it (see "clock skew" above).
#
# The SDK runs in a child process (`check.py --sdk-credentials-probe`) bounded by
# SDK_LOOP_BOUND s, so that an SDK that looped could not hang the run: a probe that is
# still running then is killed and reported as the finding "looped: N requests in 20 s",
# not as a failure. Our `kms count --repeat 10` must end within OURS_QUICK s (a run still
# going after OURS_BOUND s is killed and fails), sending a handful of requests.

CREDENTIALS_PROBE_FLAG = "--sdk-credentials-probe"
SDK_LOOP_BOUND = 20          # seconds an SDK probe may take before it is called a loop
OURS_BOUND = 30              # seconds a `kms` run may take before it is killed (a failure)
OURS_QUICK = 5               # seconds within which `kms` must have ended ("a few seconds")
SHORT_LIFETIME = 1           # kms-mock --credential-lifetime: credentials that expire at once
FAST_OFFSET = -CLOCK_OFFSET  # kms-mock --clock-offset: this machine 20 minutes fast
FAST_STS_DURATION = 900      # HUAWEICLOUD_OIDC_DURATION_SECONDS: shorter than the offset
FAR_OFFSET = 315360000       # the largest --clock-offset kms-mock allows: 10 years ahead
REPEAT = 10                  # `kms count --repeat`: calls through one client
MAX_METADATA_REQUESTS = 4    # two refreshes (PUT token, GET securitykey) at most
EXPIRED_ARRIVAL = "ECS metadata gave credentials that expire at"
NOT_CORRECTED = "more than the 24 hours the client corrects"


def is_credential_request(ex):
    return ex.path in (TOKEN_PATH, KEY_PATH, POD_PATH, STS_PATH, ID_TOKEN_PATH,
                       SECURITYTOKENS_PATH, AUTH_TOKENS_PATH)


def exception_doc(exc):
    """What a probe reports of an exception: its type, status, error code and message."""
    return {"exception": type(exc).__name__, "status": getattr(exc, "status_code", None),
            "error_code": getattr(exc, "error_code", None),
            "message": str(getattr(exc, "error_msg", None) or exc)[:500]}


def call_text(call):
    if "count" in call:
        return "instance_num=%r" % call["count"]
    return "%s(status %s, %s: %s)" % (call["exception"], call["status"], call["error_code"],
                                      call["message"][:200])


def sdk_credentials_probe(kind, calls):
    """Child-process mode (`check.py --sdk-credentials-probe metadata|oidc-sts CALLS`): the
    SDK's MetadataCredentialProvider (its endpoint INTEROP_PROBE_KMS_URL, project
    INTEROP_PROBE_PROJECT_ID) or OidcStsCredentialProvider (HUAWEICLOUD_OIDC_*,
    HUAWEICLOUD_SDK_STS_ENDPOINT, HUAWEICLOUD_SDK_PROJECT_ID), then CALLS calls on one client
    with those credentials at INTEROP_PROBE_KMS_URL. Prints one JSON line: the provider's
    error, or each call's count or exception."""
    url = os.environ["INTEROP_PROBE_KMS_URL"]
    out = {"calls": []}
    try:
        if kind == "metadata":
            MetadataAccessor._METADATA_ENDPOINT = url
            provider = MetadataCredentialProvider.get_basic()
            provider.project_id = os.environ["INTEROP_PROBE_PROJECT_ID"]
        else:
            provider = OidcStsCredentialProvider.get_basic()
        creds = provider.get_credentials()
    except Exception as e:  # whatever the SDK raises is its behaviour, reported
        out["provider_error"] = exception_doc(e)
        print(json.dumps(out), flush=True)
        return 0
    client = client_with(url, creds, Recorder())
    try:
        for _ in range(calls):
            try:
                resp = client.show_user_instances(ShowUserInstancesRequest())
                out["calls"].append({"count": resp.instance_num})
            except Exception as e:  # as above
                out["calls"].append(exception_doc(e))
    finally:
        client.close()
    print(json.dumps(out), flush=True)
    return 0


def sdk_credentials_run(workdir, kind, calls, values):
    """Runs the probe with exactly these Huawei Cloud variables and an empty HOME, for at
    most SDK_LOOP_BOUND s. Returns (document or None, seconds taken, why it failed or None);
    a probe killed at the bound gives (None, seconds, None)."""
    child = {k: v for k, v in os.environ.items()
             if not k.startswith(("HUAWEICLOUD_", "HC_CONTAINER_"))}
    home = os.path.join(workdir, "sdk-home")
    os.makedirs(home, exist_ok=True)
    child.update(HOME=home, **values)
    start = time.monotonic()
    try:
        run = subprocess.run([sys.executable, os.path.abspath(__file__), CREDENTIALS_PROBE_FLAG,
                              kind, str(calls)], env=child, capture_output=True, text=True,
                             timeout=SDK_LOOP_BOUND)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - start, None
    elapsed = time.monotonic() - start
    lines = run.stdout.strip().splitlines()
    doc = json_or_none(lines[-1]) if run.returncode == 0 and lines else None
    if not isinstance(doc, dict):
        return None, elapsed, "the SDK probe failed: exit %d, stdout %r, stderr %r" % (
            run.returncode, run.stdout[-300:], run.stderr[-800:])
    return doc, elapsed, None


def loop_finding(exchanges, env, elapsed):
    credential = sum(1 for ex in exchanges if is_credential_request(ex))
    return "looped: %d requests in %d s (%d to the credential service), killed; first: %s" % (
        len(exchanges), round(elapsed), credential,
        wire_summary(exchanges[:6], env["INTEROP_PROJECT_ID"]))


def run_kms_bounded(kms_bin, args, run_env):
    """`kms count ARGS`, killed after OURS_BOUND s. Returns (run or None, seconds taken)."""
    start = time.monotonic()
    try:
        run = subprocess.run([kms_bin, "count"] + args, env=run_env, capture_output=True,
                             text=True, timeout=OURS_BOUND)
    except subprocess.TimeoutExpired:
        run = None
    return run, time.monotonic() - start


def ours_bounded_why(run, elapsed, exchanges, env):
    """Why a bounded `kms` run failed the bound, or None."""
    if run is None:
        return "kms did not end within %d s (killed): %d requests, [%s...]" % (
            OURS_BOUND, len(exchanges), wire_summary(exchanges[:6], env["INTEROP_PROJECT_ID"]))
    if elapsed > OURS_QUICK:
        return "kms took %.1f s, more than %d s: %s" % (elapsed, OURS_QUICK, ours_outcome(run))
    return None


def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def short_lived_emulator(env):
    """ECS metadata issuing credentials that expire SHORT_LIFETIME s after they are issued."""
    return Emulator(["--project", "%s=%s" % (env["INTEROP_PROJECT_ID"], env["INTEROP_COUNT"]),
                     "--metadata", "--credential-lifetime", str(SHORT_LIFETIME)])


def fast_machine_emulator(env):
    """IAM and STS (the OIDC provider of the --iam emulator) with a clock CLOCK_OFFSET s
    behind this machine's, as if this machine were 20 minutes fast."""
    return Emulator(["--project", "%s=%s" % (env["INTEROP_PROJECT_ID"], env["INTEROP_COUNT"]),
                     "--iam", "--oidc-provider",
                     "%s=%s" % (env["INTEROP_OIDC_PROVIDER_URN"], env["INTEROP_OIDC_ID_TOKEN"]),
                     "--clock-offset", str(FAST_OFFSET)])


def far_ahead_emulator(env):
    """The plain AK/SK emulator's configuration, its clock FAR_OFFSET s (10 years) ahead."""
    return Emulator(["--project", "%s=%s" % (env["INTEROP_PROJECT_ID"], env["INTEROP_COUNT"]),
                     "--ak", env["INTEROP_AK"], "--sk", env["INTEROP_SK"],
                     "--clock-offset", str(FAR_OFFSET)])


def fast_sts_values(workdir, env, proxy):
    values = sts_env(workdir, env, env["INTEROP_OIDC_ID_TOKEN"], env["INTEROP_PROJECT_ID"])
    values.update(HUAWEICLOUD_OIDC_DURATION_SECONDS=str(FAST_STS_DURATION),
                  HUAWEICLOUD_SDK_STS_ENDPOINT=proxy.url, HUAWEICLOUD_SDK_IAM_ENDPOINT=proxy.url)
    return values


# ------------------------------------------------------------------ the official SDK

def sdk_metadata_expiring(name, env, workdir):
    """MetadataCredentialProvider against credentials of SHORT_LIFETIME s, one call. As its
    code says: PUT token, GET securitykey (the provider), GET securitykey again before the
    call (1 s is below its 40-minute threshold), then the KMS call with what it got: a
    count, or a 401 if they expired on the way. A loop is the finding, not a failure."""
    pid = env["INTEROP_PROJECT_ID"]
    with short_lived_emulator(env) as mock, RecordingProxy(mock.url) as proxy:
        doc, elapsed, why = sdk_credentials_run(workdir, "metadata", 1, {
            "INTEROP_PROBE_KMS_URL": proxy.url, "INTEROP_PROBE_PROJECT_ID": pid})
        exchanges = proxy.exchanges
    if why is None and doc is None:
        return report_wire(name, None, exchanges, info=loop_finding(exchanges, env, elapsed))
    if why is None and "provider_error" in doc:
        why = "the metadata provider failed: %s" % call_text(doc["provider_error"])
    kms_status = exchanges[-1].status if exchanges else None
    why = why or expect_sequence(exchanges, pid, [
        ("PUT token", 200), ("GET securitykey", 200), ("GET securitykey", 200),
        ("GET kms", kms_status if kms_status in (200, 401) else 200)])
    if why is None:
        call = doc["calls"][0] if len(doc["calls"]) == 1 else {}
        if kms_status == 200 and call.get("count") != int(env["INTEROP_COUNT"]):
            why = "the KMS call answered 200, the SDK reported %r" % call
        elif kms_status == 401 and call.get("status") != 401:
            why = "the KMS call answered 401, the SDK reported %r" % call
        why = why or check_kms_signed_with(exchanges[-1], credential_doc(exchanges[2]) or {})
    info = None
    if doc is not None and why is None:
        info = ("no loop: %d credential requests (the provider's PUT and GET, a GET before "
                "the call), then the call: %s; %.1f s" % (
                    sum(1 for ex in exchanges if is_credential_request(ex)),
                    call_text(doc["calls"][0]), elapsed))
    return report_wire(name, why, exchanges, info=info)


def sdk_oidc_sts_clock_fast(name, env, workdir):
    """OidcStsCredentialProvider for FAST_STS_DURATION s, this machine 20 minutes fast, two
    calls on one client: each asks STS again (900 s is below the 40-minute threshold) and is
    refused 401 "signature expired" (signed with this machine's clock, never corrected)."""
    pid = env["INTEROP_PROJECT_ID"]
    with fast_machine_emulator(env) as mock, RecordingProxy(mock.url) as proxy:
        before = time.time()
        doc, elapsed, why = sdk_credentials_run(workdir, "oidc-sts", 2, dict(
            fast_sts_values(workdir, env, proxy), INTEROP_PROBE_KMS_URL=proxy.url))
        between = (before, time.time())
        exchanges = proxy.exchanges
    if why is None and doc is None:
        return report_wire(name, None, exchanges, info=loop_finding(exchanges, env, elapsed))
    if why is None and "provider_error" in doc:
        why = "the STS provider failed: %s" % call_text(doc["provider_error"])
    why = why or expect_sequence(exchanges, pid, [("POST sts", 200), ("GET kms", 401)] * 2)
    for i in (0, 2):
        if why is None:
            why, creds = check_sts(exchanges[i], env, env["INTEROP_OIDC_ID_TOKEN"],
                                   FAST_STS_DURATION)
            why = why or check_kms_signed_with(exchanges[i + 1], creds)
        why = why or check_expired_401(exchanges[i + 1], "request %d" % (i + 2), between,
                                       FAST_OFFSET)
    if why is None:
        calls = doc["calls"]
        if len(calls) != 2 or any(c.get("status") != 401 or c.get("error_code") != "APIGW.0301"
                                  for c in calls):
            why = "expected both calls to raise 401 APIGW.0301, got %s" % (
                "; ".join(call_text(c) for c in calls))
    info = None if doc is None or "calls" not in doc else "; ".join(
        "call %d: %s" % (i, call_text(c)) for i, c in enumerate(doc["calls"], 1))
    return report_wire(name, why, exchanges, info=info)


def sdk_clock_far_ahead(name, env):
    """One call against a gateway 10 years ahead: 401 "signature expired", one request (the
    SDK never corrects, so the bound on a correction does not arise)."""
    pid = env["INTEROP_PROJECT_ID"]
    with far_ahead_emulator(env) as mock, RecordingProxy(mock.url) as proxy:
        before = time.time()
        resp, exc, _ = call(proxy.url, env["INTEROP_AK"], env["INTEROP_SK"], pid)
        between = (before, time.time())
        exchanges = proxy.exchanges
    why = None
    if exc is None:
        why = "expected a 401, the SDK counted %r" % resp.instance_num
    elif getattr(exc, "status_code", None) != 401 or exc.error_code != "APIGW.0301":
        why = "expected ClientRequestException 401 APIGW.0301, got %s" % describe(exc)
    why = why or expect_sequence(exchanges, pid, [("GET kms", 401)])
    why = why or check_expired_401(exchanges[0], "request 1", between, FAR_OFFSET)
    return report_wire(name, why, exchanges, info=describe(exc) if exc else None)


# ------------------------------------------------------------------ our client (kms CLI)

def ours_metadata_expiring(name, env, kms_bin, transport, workdir):
    """`kms count --credentials metadata --repeat 10` against credentials of SHORT_LIFETIME
    s: exit 6 within OURS_QUICK s, naming the expiry ECS metadata sent, after at most
    MAX_METADATA_REQUESTS requests to it and none to KMS."""
    pid = env["INTEROP_PROJECT_ID"]
    with short_lived_emulator(env) as mock, RecordingProxy(mock.url) as proxy:
        run, elapsed = run_kms_bounded(kms_bin, [
            "--credentials", "metadata", "--endpoint", proxy.url, "--project-id", pid,
            "--transport", transport, "--repeat", str(REPEAT)],
            ours_env(workdir, HUAWEICLOUD_SDK_METADATA_ENDPOINT=proxy.url))
        exchanges = proxy.exchanges
    credential = [ex for ex in exchanges if ex.path in (TOKEN_PATH, KEY_PATH)]
    why = ours_bounded_why(run, elapsed, exchanges, env)
    if why is None:
        if run.returncode != 6:
            why = "expected exit 6 (credentials), got %s" % ours_outcome(run)
        elif EXPIRED_ARRIVAL not in run.stderr:
            why = "expected stderr to say %r, got %s" % (EXPIRED_ARRIVAL, ours_outcome(run))
        elif len(credential) != len(exchanges):
            why = "expected no request but to ECS metadata, got [%s]" % wire_summary(exchanges, pid)
        elif not 1 <= len(credential) <= MAX_METADATA_REQUESTS:
            why = "expected 1 to %d requests to ECS metadata, got %d: [%s]" % (
                MAX_METADATA_REQUESTS, len(credential), wire_summary(exchanges, pid))
    why = why or no_secret_printed(run, exchanges)
    info = None
    if run is not None:
        info = "exit %d in %.2f s after %d requests [%s]; %s" % (
            run.returncode, elapsed, len(exchanges), wire_summary(exchanges, pid),
            last_line(run.stderr))
    return report_wire(name, why, exchanges, info=info)


def ours_oidc_sts_clock_fast(name, env, kms_bin, transport, workdir):
    """`kms count --credentials oidc-sts --repeat 10 -vv`, 900 s credentials, this machine
    20 minutes fast: exit 0 and the count, one STS request, 11 KMS requests (the first
    refused 401 "signature expired", re-signed once with the service's time, which every
    later call keeps)."""
    pid = env["INTEROP_PROJECT_ID"]
    with fast_machine_emulator(env) as mock, RecordingProxy(mock.url) as proxy:
        before = time.time()
        run, elapsed = run_kms_bounded(kms_bin, [
            "--credentials", "oidc-sts", "--endpoint", proxy.url, "--project-id", pid,
            "--transport", transport, "--repeat", str(REPEAT), "-vv"],
            ours_env(workdir, **fast_sts_values(workdir, env, proxy)))
        between = (before, time.time())
        exchanges = proxy.exchanges
    why = ours_bounded_why(run, elapsed, exchanges, env)
    why = why or expect_ours_count(env, run)
    why = why or expect_sequence(exchanges, pid, [("POST sts", 200), ("GET kms", 401)]
                                 + [("GET kms", 200)] * REPEAT)
    creds = None
    if why is None:
        why, creds = check_sts(exchanges[0], env, env["INTEROP_OIDC_ID_TOKEN"], FAST_STS_DURATION)
    why = why or check_expired_401(exchanges[1], "request 2", between, FAST_OFFSET)
    for i, ex in enumerate(exchanges[1:], 2):
        why = why or check_kms_signed_with(ex, creds)
        if i > 2:
            why = why or check_signed_at(ex, "request %d" % i, between, FAST_OFFSET)
    why = why or secrets_printed(run, exchanges, env)
    info = None
    if run is not None:
        info = "exit %d in %.2f s, stdout %r, %d requests: 1 to STS, %d to KMS; %s" % (
            run.returncode, elapsed, run.stdout.strip(), len(exchanges),
            sum(1 for ex in exchanges if KMS_PATH_RE.match(ex.path)), last_line(run.stderr))
        info = info if why is None else ours_outcome_safe(run, exchanges, env)
    return report_wire(name, why, exchanges, info=info)


def ours_clock_far_ahead(name, env, kms_bin, transport, workdir):
    """`kms count` (default retries) against a gateway 10 years ahead: exit 3 after one KMS
    request, saying the clock is off by more than the 24 hours the client corrects."""
    pid = env["INTEROP_PROJECT_ID"]
    with far_ahead_emulator(env) as mock, RecordingProxy(mock.url) as proxy:
        before = time.time()
        run, elapsed = run_kms_bounded(kms_bin, [
            "--endpoint", proxy.url, "--project-id", pid, "--transport", transport],
            ours_env(workdir, HUAWEICLOUD_SDK_AK=env["INTEROP_AK"],
                     HUAWEICLOUD_SDK_SK=env["INTEROP_SK"]))
        between = (before, time.time())
        exchanges = proxy.exchanges
    why = ours_bounded_why(run, elapsed, exchanges, env)
    if why is None and run.returncode != 3:
        why = "expected exit 3 (authentication), got %s" % ours_outcome(run)
    why = why or expect_sequence(exchanges, pid, [("GET kms", 401)])
    why = why or check_expired_401(exchanges[0], "request 1", between, FAR_OFFSET)
    if why is None and NOT_CORRECTED not in run.stderr:
        why = "expected stderr to say %r, got %s" % (NOT_CORRECTED, ours_outcome(run))
    why = why or secrets_printed(run, exchanges, env)
    info = None
    if run is not None:
        info = "exit %d in %.2f s after %d request(s); %s" % (
            run.returncode, elapsed, len(exchanges), last_line(run.stderr)[-300:])
    return report_wire(name, why, exchanges, info=info)


# ------------------------------------------------------------------ a proxy refusing its credentials
# A forward proxy on loopback that answers 407 Proxy Authentication Required to every request
# whose Proxy-Authorization is not Basic PROXY_USER:PROXY_PASSWORD (and 502 otherwise: it never
# tunnels, the scenarios only need the refusal). It records the method and target of every
# request (CONNECT or absolute-form), serves at most PROXY_MAX_REQUESTS, and stops itself.
PROXY_USER = "interop-proxy-user"
PROXY_PASSWORD = "interop-proxy-password-7c1e"
PROXY_WRONG = "wrong"
PROXY_MAX_REQUESTS = 50
PROXY_REFUSED = "the proxy refused its credentials"


class RefusingProxy:
    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import base64
        want = "Basic " + base64.b64encode(("%s:%s" % (PROXY_USER, PROXY_PASSWORD)).encode()).decode()
        self.requests = []  # [(method, target, whether Proxy-Authorization was sent)]
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _answer(self):
                auth = self.headers.get("Proxy-Authorization")
                with lock:
                    if len(outer.requests) >= PROXY_MAX_REQUESTS:
                        self.close_connection = True
                        return
                    outer.requests.append((self.command, self.path, auth is not None))
                status = 502 if auth == want else 407
                body = b"refused by the interop proxy\n"
                self.send_response(status)
                if status == 407:
                    self.send_header("Proxy-Authenticate", 'Basic realm="interop"')
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            do_CONNECT = do_GET = do_POST = do_PUT = do_HEAD = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def summary(self):
        return ", ".join("%s %s%s" % (m, t, "" if a else " (no Proxy-Authorization)")
                         for m, t, a in self.requests) or "nothing"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def sdk_proxy_call(env, port, url):
    """One SDK call to `url` with HttpConfig.proxy_* set to the refusing proxy on `port` and the
    wrong password. Returns (response or None, exception or None, seconds)."""
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    config.timeout = (5, 15)
    config.proxy_protocol = "http"
    config.proxy_host = "127.0.0.1"
    config.proxy_port = port
    config.proxy_user = PROXY_USER
    config.proxy_password = PROXY_WRONG
    creds = BasicCredentials(env["INTEROP_AK"], env["INTEROP_SK"], env["INTEROP_PROJECT_ID"])
    client = (KmsClient.new_builder().with_http_config(config).with_credentials(creds)
              .with_endpoints([url]).build())
    start = time.monotonic()
    try:
        return client.show_user_instances(ShowUserInstancesRequest()), None, time.monotonic() - start
    except Exception as e:  # whatever the SDK raises is its behaviour, reported
        return None, e, time.monotonic() - start
    finally:
        client.close()


def sdk_proxy_refused(name, env):
    """The SDK (HttpConfig.proxy_*, the wrong password) and a proxy answering 407. Its
    HttpConfig.get_proxy() gives requests a proxy for "https" only, so an http:// endpoint (the
    emulator) goes around the proxy; an https:// endpoint (the emulator's port, never reached)
    is tunnelled with CONNECT and refused. Passes when the https call fails without counting
    after at least one CONNECT (bounded: the proxy serves at most PROXY_MAX_REQUESTS); the
    exception, the time and the proxy's requests are reported (INFO)."""
    port = urlsplit(env["INTEROP_URL"]).port
    with environment(NO_PROXY=None, no_proxy=None):
        with RefusingProxy() as proxy:
            plain, plain_exc, _ = sdk_proxy_call(env, proxy.port, env["INTEROP_URL"])
            plain_seen = len(proxy.requests)
        with RefusingProxy() as proxy:
            resp, exc, elapsed = sdk_proxy_call(env, proxy.port, "https://127.0.0.1:%d" % port)
            requests = list(proxy.requests)
            seen = proxy.summary()
    info = ("https endpoint: %s after %.2f s, the proxy saw %d request(s): %s; http endpoint: %s "
            "with %d request(s) at the proxy (the SDK's proxy setting is for https only)") % (
        describe(exc) if exc else "no exception", elapsed, len(requests), seen,
        ("counted %r" % plain.instance_num) if plain is not None else describe(plain_exc),
        plain_seen)
    if exc is None:
        why = "expected the call to fail at the proxy, the SDK counted %r" % resp.instance_num
    elif not [m for m, _, _ in requests if m == "CONNECT"]:
        why = "the proxy saw no CONNECT (was it bypassed?)"
    else:
        why = None
    if why is None:
        print("PASS %s" % name, flush=True)
        log("INFO %s: %s" % (name, info[:1200]))
        return True
    print("FAIL %s: %s; %s" % (name, why, info[:1200]), flush=True)
    return False


def ours_proxy_refused(name, env, kms_bin, transport, workdir):
    """`kms count --proxy http://user:wrong@...` through a proxy answering 407: exit 5, stderr
    says the proxy refused its credentials, exactly one CONNECT (no retries), the password
    never printed."""
    with RefusingProxy() as proxy:
        run_env = ours_env(workdir, HUAWEICLOUD_SDK_AK=env["INTEROP_AK"],
                           HUAWEICLOUD_SDK_SK=env["INTEROP_SK"])
        # The proxy is on loopback too: NO_PROXY=127.0.0.1 must not let kms go around it.
        run_env.pop("NO_PROXY", None)
        run_env.pop("no_proxy", None)
        run, elapsed = run_kms_bounded(kms_bin, [
            "--endpoint", env["INTEROP_URL"], "--project-id", env["INTEROP_PROJECT_ID"],
            "--transport", transport, "--proxy",
            "http://%s:%s@127.0.0.1:%d" % (PROXY_USER, PROXY_WRONG, proxy.port)], run_env)
        requests = list(proxy.requests)
        seen = proxy.summary()
    why = ours_bounded_why(run, elapsed, [], env)
    if why is None and run.returncode != 5:
        why = "expected exit 5, got %s" % ours_outcome(run)
    if why is None and PROXY_REFUSED not in run.stderr:
        why = "expected stderr to say %r, got %s" % (PROXY_REFUSED, ours_outcome(run))
    if why is None and [m for m, _, _ in requests] != ["CONNECT"]:
        why = "expected exactly one CONNECT at the proxy, it saw %d: %s" % (len(requests), seen)
    if why is None and any(PROXY_WRONG + "@" in s or env["INTEROP_SK"] in s
                           for s in (run.stdout, run.stderr)):
        why = "a secret (the proxy password or the SK) was printed: %s" % ours_outcome(run)
    info = None
    if run is not None:
        info = "exit %d in %.2f s; proxy saw: %s; %s" % (
            run.returncode, elapsed, seen, last_line(run.stderr)[-300:])
    if why is None:
        print("PASS %s" % name, flush=True)
        log("INFO %s: %s" % (name, info))
        return True
    print("FAIL %s: %s" % (name, why), flush=True)
    if info:
        log("INFO %s: %s" % (name, info))
    return False


# ------------------------------------------------------------------ a black-hole first endpoint
HOLE_TIMEOUT = 2             # --timeout of the black-hole runs, seconds
HOLE_FILLERS = 8             # connections that fill the hole's accept queue at most


class BlackHole:
    """A listening socket on loopback with backlog 0 that never accepts: its accept queue is
    filled with up to HOLE_FILLERS non-blocking connections, so a further connect gets no
    answer (its SYN is dropped) and hangs until the client's connect timeout."""

    def __init__(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fillers = []
        self.filled = False
        for _ in range(HOLE_FILLERS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.3)
            self._fillers.append(s)
            try:
                s.connect(("127.0.0.1", self.port))
            except (socket.timeout, BlockingIOError, OSError):
                self.filled = True  # this one hangs: the queue is full
                break

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for s in self._fillers:
            s.close()
        self._listener.close()


def ours_black_hole(name, env, kms_bin, transport, workdir):
    """`kms count --endpoint http://127.0.0.1:HOLE,EMULATOR --timeout 2`: the first endpoint
    never answers the connect, the call moves to the second and counts: exit 0 within
    OURS_QUICK s."""
    with BlackHole() as hole:
        if not hole.filled:
            print("FAIL %s: could not fill the black hole's accept queue with %d connections"
                  % (name, HOLE_FILLERS), flush=True)
            return False
        run, elapsed = run_kms_bounded(kms_bin, [
            "--endpoint", "http://127.0.0.1:%d,%s" % (hole.port, env["INTEROP_URL"]),
            "--project-id", env["INTEROP_PROJECT_ID"], "--transport", transport,
            "--timeout", str(HOLE_TIMEOUT)],
            ours_env(workdir, HUAWEICLOUD_SDK_AK=env["INTEROP_AK"],
                     HUAWEICLOUD_SDK_SK=env["INTEROP_SK"]))
    why = ours_bounded_why(run, elapsed, [], env)
    if why is None and run.returncode != 0:
        why = "expected exit 0, got %s" % ours_outcome(run)
    if why is None and run.stdout.strip() != env["INTEROP_COUNT"]:
        why = "expected the count %s on stdout, got %s" % (env["INTEROP_COUNT"], ours_outcome(run))
    info = None
    if run is not None:
        info = "exit %d in %.2f s; %s" % (run.returncode, elapsed, last_line(run.stderr)[-300:])
    if why is None:
        print("PASS %s" % name, flush=True)
        log("INFO %s: %s" % (name, info))
        return True
    print("FAIL %s: %s" % (name, why), flush=True)
    if info:
        log("INFO %s: %s" % (name, info))
    return False


def ours_scenario(name, kms_bin, run, source=None):
    """Runs an our-client scenario. `kms count --credentials` has shipped, so a binary
    without it is a regression: FAIL, not SKIP (SKIP only when no binary was given); so is
    one whose --credentials lacks the `source` a scenario needs."""
    skip = ours_supported(kms_bin)
    if skip and not kms_bin:
        print("SKIP %s: %s" % (name, skip), flush=True)
        return True
    skip = skip or source_missing(kms_bin, source)
    if skip:
        print("FAIL %s: %s" % (name, skip), flush=True)
        return False
    return run()


def main():
    missing = [k for k in REQUIRED if not os.environ.get(k)]
    if missing:
        print("FAIL setup: missing environment variables: %s" % ", ".join(missing), flush=True)
        return 1
    env = {k: os.environ[k] for k in REQUIRED}

    try:
        from importlib.metadata import version
        log("interop: huaweicloudsdkcore %s, huaweicloudsdkkms %s, python %s" % (
            version("huaweicloudsdkcore"), version("huaweicloudsdkkms"), sys.version.split()[0]))
    except Exception:  # version lookup is informational only
        pass

    wrong_sk = env["INTEROP_SK"] + "-but-wrong"
    scenarios = [
        ("aksk-instance-num", lambda: expect_count(
            "aksk-instance-num", env, env["INTEROP_URL"], env["INTEROP_AK"], env["INTEROP_SK"], None)),
        ("aksk-wrong-sk-401", lambda: expect_401(
            "aksk-wrong-sk-401", env, env["INTEROP_URL"], env["INTEROP_AK"], wrong_sk, None,
            "APIGW.0301")),
        ("security-token-instance-num", lambda: expect_count(
            "security-token-instance-num", env, env["INTEROP_STS_URL"], env["INTEROP_STS_AK"],
            env["INTEROP_STS_SK"], env["INTEROP_SECURITY_TOKEN"])),
        ("security-token-missing-401", lambda: expect_401(
            "security-token-missing-401", env, env["INTEROP_STS_URL"], env["INTEROP_STS_AK"],
            env["INTEROP_STS_SK"], None, None)),
    ]
    workdir = tempfile.mkdtemp(prefix="kms-interop-check.")
    for mode in ("session", "tokenless", "stale"):
        name = "sdk-metadata-" + mode
        scenarios.append((name, lambda name=name, mode=mode: sdk_metadata(name, env, mode)))
    scenarios += [
        ("sdk-pod-identity", lambda: sdk_pod_identity("sdk-pod-identity", env, workdir)),
        ("sdk-pod-identity-wrong-token-401", lambda: sdk_pod_identity_wrong_token(
            "sdk-pod-identity-wrong-token-401", env, workdir)),
    ]
    kms_bin = os.environ.get("INTEROP_KMS_BIN")
    for transport in ("ureq", "hyper"):
        for mode in ("session", "tokenless", "stale"):
            name = "ours-%s-metadata-%s" % (transport, mode)
            scenarios.append((name, lambda name=name, t=transport, mode=mode: ours_scenario(
                name, kms_bin, lambda: ours_metadata(name, env, kms_bin, t, mode, workdir))))
        name = "ours-%s-pod-identity" % transport
        scenarios.append((name, lambda name=name, t=transport: ours_scenario(
            name, kms_bin, lambda: ours_pod_identity(name, env, kms_bin, t, workdir))))
        name = "ours-%s-pod-identity-wrong-token-exit-6" % transport
        scenarios.append((name, lambda name=name, t=transport: ours_scenario(
            name, kms_bin, lambda: ours_pod_identity_wrong_token(name, env, kms_bin, t, workdir))))
    # IAM and STS: project discovery, federation, STS with OIDC (and, ours only, the
    # password token the API document names), against kms-mock --iam.
    scenarios += [
        ("sdk-iam-discovery", lambda: sdk_discovery("sdk-iam-discovery", env)),
        ("sdk-iam-discovery-several-projects", lambda: sdk_discovery_several(
            "sdk-iam-discovery-several-projects", env)),
        ("sdk-iam-federation", lambda: sdk_federation("sdk-iam-federation", env, workdir, False)),
        ("sdk-chain-federation-discovery", lambda: sdk_federation(
            "sdk-chain-federation-discovery", env, workdir, True)),
        ("sdk-oidc-sts", lambda: sdk_oidc_sts("sdk-oidc-sts", env, workdir)),
        ("sdk-iam-federation-wrong-id-token-401", lambda: sdk_wrong_id_token(
            "sdk-iam-federation-wrong-id-token-401", env, workdir, "federation")),
        ("sdk-oidc-sts-wrong-id-token-401", lambda: sdk_wrong_id_token(
            "sdk-oidc-sts-wrong-id-token-401", env, workdir, "sts")),
    ]
    for transport in ("ureq", "hyper"):
        ours = [
            ("iam-discovery", None,
             lambda n, t: ours_discovery(n, env, kms_bin, t, workdir)),
            ("iam-discovery-several-projects-exit-7", None,
             lambda n, t: ours_discovery_several(n, env, kms_bin, t, workdir)),
            ("iam-federation", "iam-federation",
             lambda n, t: ours_federation(n, env, kms_bin, t, workdir, False)),
            ("chain-federation-discovery", "iam-federation",
             lambda n, t: ours_federation(n, env, kms_bin, t, workdir, True)),
            ("oidc-sts", "oidc-sts",
             lambda n, t: ours_oidc_sts(n, env, kms_bin, t, workdir)),
            ("iam-password", "iam-password",
             lambda n, t: ours_password(n, env, kms_bin, t, workdir)),
            ("iam-federation-wrong-id-token-exit-6", "iam-federation",
             lambda n, t: ours_wrong_id_token(n, env, kms_bin, t, workdir, "federation")),
            ("oidc-sts-wrong-id-token-exit-6", "oidc-sts",
             lambda n, t: ours_wrong_id_token(n, env, kms_bin, t, workdir, "sts")),
        ]
        for suffix, source, fn in ours:
            name = "ours-%s-%s" % (transport, suffix)
            scenarios.append((name, lambda name=name, t=transport, fn=fn, source=source: ours_scenario(
                name, kms_bin, lambda: fn(name, t), source)))
    # Several endpoints for a region (issue 16): the official SDK's failover, and ours.
    scenarios += [
        ("sdk-endpoints-env-refused-no-failover", lambda: sdk_failover_refused(
            "sdk-endpoints-env-refused-no-failover", env, workdir, "env")),
        ("sdk-endpoints-file-refused-no-failover", lambda: sdk_failover_refused(
            "sdk-endpoints-file-refused-no-failover", env, workdir, "file")),
        ("sdk-endpoints-env-tls-failure-fails-over", lambda: sdk_failover_tls(
            "sdk-endpoints-env-tls-failure-fails-over", env, workdir, "env")),
        ("sdk-endpoints-file-tls-failure-fails-over", lambda: sdk_failover_tls(
            "sdk-endpoints-file-tls-failure-fails-over", env, workdir, "file")),
        ("sdk-endpoints-all-failing-back-to-first", lambda: sdk_failover_all_fail(
            "sdk-endpoints-all-failing-back-to-first", env, workdir)),
        ("sdk-endpoints-env-before-file", lambda: sdk_env_before_file(
            "sdk-endpoints-env-before-file", env, workdir)),
        ("sdk-regions-file-typo-ignored", lambda: sdk_regions_file_typo(
            "sdk-regions-file-typo-ignored", env, workdir)),
    ]
    for transport in ("ureq", "hyper"):
        ours = [
            ("endpoints-env-refused-fails-over",
             lambda n, t: ours_failover_refused(n, env, kms_bin, t, workdir, "env")),
            ("endpoints-file-refused-fails-over",
             lambda n, t: ours_failover_refused(n, env, kms_bin, t, workdir, "file")),
            ("endpoints-env-before-file",
             lambda n, t: ours_env_before_file(n, env, kms_bin, t, workdir)),
            ("regions-file-typo-exit-2",
             lambda n, t: ours_regions_file_typo(n, env, kms_bin, t, workdir)),
        ]
        for suffix, fn in ours:
            name = "ours-%s-%s" % (transport, suffix)
            scenarios.append((name, lambda name=name, t=transport, fn=fn: ours_scenario(
                name, kms_bin, lambda: fn(name, t), "env")))
    # Clock skew (issue 16): the official SDK and ours against an emulator whose clock is
    # CLOCK_OFFSET s ahead.
    scenarios.append(("sdk-clock-skew-fails-every-call", lambda: sdk_clock_skew(
        "sdk-clock-skew-fails-every-call", env)))
    for transport in ("ureq", "hyper"):
        for prefix, wrong in (("clock-skew-corrected", False), ("clock-skew-wrong-sk", True)):
            name = "%s-%s" % (prefix, transport)
            scenarios.append((name, lambda name=name, t=transport, w=wrong: ours_scenario(
                name, kms_bin, lambda: ours_clock_skew(name, env, kms_bin, t, workdir, w))))
    # Issue 21: credentials that arrive expired (ECS metadata issuing 1 s credentials), this
    # machine 20 minutes fast with 900 s STS credentials, a gateway 10 years ahead.
    scenarios += [
        ("sdk-metadata-expiring-credentials", lambda: sdk_metadata_expiring(
            "sdk-metadata-expiring-credentials", env, workdir)),
        ("sdk-oidc-sts-clock-fast-fails-every-call", lambda: sdk_oidc_sts_clock_fast(
            "sdk-oidc-sts-clock-fast-fails-every-call", env, workdir)),
        ("sdk-clock-ten-years-ahead-fails", lambda: sdk_clock_far_ahead(
            "sdk-clock-ten-years-ahead-fails", env)),
    ]
    for transport in ("ureq", "hyper"):
        ours = [
            ("metadata-expiring-credentials-exit-6", "metadata",
             lambda n, t: ours_metadata_expiring(n, env, kms_bin, t, workdir)),
            ("oidc-sts-clock-fast", "oidc-sts",
             lambda n, t: ours_oidc_sts_clock_fast(n, env, kms_bin, t, workdir)),
            ("clock-ten-years-ahead-exit-3", None,
             lambda n, t: ours_clock_far_ahead(n, env, kms_bin, t, workdir)),
        ]
        for suffix, source, fn in ours:
            name = "ours-%s-%s" % (transport, suffix)
            scenarios.append((name, lambda name=name, t=transport, fn=fn, source=source: ours_scenario(
                name, kms_bin, lambda: fn(name, t), source)))
    # A proxy refusing its credentials (407): the official SDK, and ours (one CONNECT, exit 5).
    scenarios.append(("sdk-proxy-refused-407", lambda: sdk_proxy_refused(
        "sdk-proxy-refused-407", env)))
    for transport in ("ureq", "hyper"):
        name = "ours-%s-proxy-refused-407-exit-5" % transport
        scenarios.append((name, lambda name=name, t=transport: ours_scenario(
            name, kms_bin, lambda: ours_proxy_refused(name, env, kms_bin, t, workdir))))
    # A black-hole first endpoint (connects hang): ours moves on at the connect timeout.
    for transport in ("ureq", "hyper"):
        name = "ours-%s-endpoints-black-hole-fails-over" % transport
        scenarios.append((name, lambda name=name, t=transport: ours_scenario(
            name, kms_bin, lambda: ours_black_hole(name, env, kms_bin, t, workdir))))
    failed = 0
    try:
        for name, run in scenarios:
            try:
                ok = run()
            except Exception as e:  # any unexpected error is a failure of that scenario only
                print("FAIL %s: unexpected %s: %s" % (name, type(e).__name__, e), flush=True)
                log(traceback.format_exc())
                ok = False
            failed += 0 if ok else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == SDK_PROBE_FLAG:
        sys.exit(sdk_region_probe(sys.argv[2], int(sys.argv[3])))
    if len(sys.argv) == 4 and sys.argv[1] == CREDENTIALS_PROBE_FLAG:
        sys.exit(sdk_credentials_probe(sys.argv[2], int(sys.argv[3])))
    sys.exit(main())
