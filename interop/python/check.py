#!/usr/bin/env python3
"""Interop check: the OFFICIAL Huawei Cloud Python SDK against the kms-mock emulator.

Calls ShowUserInstances (GET /v1.0/{project_id}/kms/user-instances) through
`huaweicloudsdkkms.v2.KmsClient`, exactly as an application would, and checks the
emulator's answers. Normally started by `interop/python/run.sh`, which builds and starts
the emulators and sets the environment below.

Input (environment variables, all required):
  INTEROP_PROJECT_ID      project id configured in both emulators (32 hex chars)
  INTEROP_COUNT           instance count configured for that project
  INTEROP_URL             base URL of the emulator started with plain --ak/--sk
  INTEROP_AK, INTEROP_SK  the AK/SK that emulator accepts
  INTEROP_STS_URL         base URL of the emulator started with --security-token
  INTEROP_STS_AK, INTEROP_STS_SK, INTEROP_SECURITY_TOKEN
                          the temporary AK/SK and security token that emulator accepts
Optional:
  INTEROP_VERBOSE=1       print every exchange (request headers as sent on the wire,
                          response status/headers/body) to stderr, not only failing ones.

Output: one line per scenario on stdout, `PASS <name>` or `FAIL <name>: <why>`.
Diagnostics (what the SDK sent and what came back) go to stderr; the SK is never printed.
Exit status: 0 if every scenario passed, 1 otherwise.
"""

import os
import sys
import traceback

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, SdkException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkkms.v2 import KmsClient, ShowUserInstancesRequest

REQUIRED = (
    "INTEROP_PROJECT_ID", "INTEROP_COUNT",
    "INTEROP_URL", "INTEROP_AK", "INTEROP_SK",
    "INTEROP_STS_URL", "INTEROP_STS_AK", "INTEROP_STS_SK", "INTEROP_SECURITY_TOKEN",
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
    failed = 0
    for name, run in scenarios:
        try:
            ok = run()
        except Exception as e:  # any unexpected error is a failure of that scenario only
            print("FAIL %s: unexpected %s: %s" % (name, type(e).__name__, e), flush=True)
            log(traceback.format_exc())
            ok = False
        failed += 0 if ok else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
