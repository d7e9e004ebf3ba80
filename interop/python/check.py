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
Optional:
  INTEROP_KMS_BIN         our `kms` binary; without it our client's scenarios print
                          SKIP (a binary whose `count` has no --credentials FAILs)
  INTEROP_VERBOSE=1       print every exchange (request headers as sent on the wire,
                          response status/headers/body) to stderr, not only failing ones.

Output: one line per scenario on stdout, `PASS <name>`, `FAIL <name>: <why>` or
`SKIP <name>: <why>`. Diagnostics (what the client sent and what came back) go to stderr;
secrets (SKs, security tokens, session and pod tokens) are never printed.
Exit status: 0 if no scenario failed, 1 otherwise.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from contextlib import contextmanager

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.auth.internal import MetadataAccessor
from huaweicloudsdkcore.auth.provider import (MetadataCredentialProvider,
                                              PodIdentityCredentialProvider)
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, SdkException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkkms.v2 import KmsClient, ShowUserInstancesRequest

from recproxy import RecordingProxy

REQUIRED = (
    "INTEROP_PROJECT_ID", "INTEROP_COUNT",
    "INTEROP_URL", "INTEROP_AK", "INTEROP_SK",
    "INTEROP_STS_URL", "INTEROP_STS_AK", "INTEROP_STS_SK", "INTEROP_SECURITY_TOKEN",
    "INTEROP_CREDS_URL", "INTEROP_POD_TOKEN",
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

_SECRET_HEADERS = ("x-security-token", "x-metadata-token")


def redacted(value):
    return "<%d chars, redacted>" % len(value)


def label(ex, project_id):
    """A short name for an exchange: `PUT token`, `GET securitykey`, `POST pod`, `GET kms`."""
    names = {TOKEN_PATH: "token", KEY_PATH: "securitykey", POD_PATH: "pod",
             "/v1.0/%s/kms/user-instances" % project_id: "kms"}
    return "%s %s" % (ex.method, names.get(ex.path, ex.target))


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
            log("      > body: %s" % ex.body[:500].decode("utf-8", "replace"))
        log("      < HTTP %s%s" % (ex.status, " (answered by the proxy, not the emulator)" * ex.scripted))
        for k, v in ex.resp_headers:
            log("      < %s: %s" % (k, v))
        if ex.method == "PUT" and ex.path == TOKEN_PATH and ex.status == 200:
            body = redacted(ex.text())
        else:
            doc = credential_doc(ex)
            if doc is not None:
                body = json.dumps({"credential": dict(
                    doc, secret=redacted(doc.get("secret") or ""),
                    securitytoken=redacted(doc.get("securitytoken") or ""))})
            else:
                body = ex.text()[:2000]
        log("      < body: %s" % body)


def credential_doc(ex):
    """The `credential` object of a credential document answer, or None."""
    try:
        doc = json.loads(ex.resp_body)
    except ValueError:
        return None
    cred = doc.get("credential") if isinstance(doc, dict) else None
    return cred if isinstance(cred, dict) else None


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
    pod tokens."""
    out = set()
    for ex in exchanges:
        doc = credential_doc(ex)
        if doc:
            out.update(v for v in (doc.get("secret"), doc.get("securitytoken")) if v)
        if ex.method == "PUT" and ex.path == TOKEN_PATH and ex.status == 200:
            out.add(ex.text())
        if ex.path == POD_PATH:
            out.update(ex.header("Authorization"))
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
           if not k.startswith(("HUAWEICLOUD_SDK_", "HC_CONTAINER_"))
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


def ours_scenario(name, kms_bin, run):
    """Runs an our-client scenario. `kms count --credentials` has shipped, so a binary
    without it is a regression: FAIL, not SKIP (SKIP only when no binary was given)."""
    skip = ours_supported(kms_bin)
    if skip and not kms_bin:
        print("SKIP %s: %s" % (name, skip), flush=True)
        return True
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
    sys.exit(main())
