#!/usr/bin/env python3
"""The OFFICIAL Python KMS client (huaweicloudsdkkms 3.1.219) against kms-mock with each of
its four `signing_algorithm` values: ShowUserInstances answers the configured count, the
request carries that algorithm's Authorization, and a wrong SK is refused with 401.

Usage: python3 sdk_against_mock.py /path/to/kms-mock
Prints one line per check and ends with "sdk signing algorithms: N passed, M failed".
"""
import re
import subprocess
import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import SdkException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm
from huaweicloudsdkkms.v2 import KmsClient, ShowUserInstancesRequest

PROJECT = "5f0c8a3e9b1d4e27a6c3f18d02b7e954"
COUNT = 15
AK = "SIGNINGALGAK0000001"
SK = "signing-algorithms-secret-0123456789abcdef"

WIRE = {
    SigningAlgorithm.HMAC_SHA256: "SDK-HMAC-SHA256",
    SigningAlgorithm.HMAC_SM3: "SDK-HMAC-SM3",
    SigningAlgorithm.ECDSA_P256_SHA256: "SDK-ECDSA-P256-SHA256",
    SigningAlgorithm.SM2_SM3: "SDK-SM2-SM3",
}


def call(url, sk, algorithm):
    sent = []
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    config.signing_algorithm = algorithm
    handler = HttpHandler().add_request_handler(lambda request, **_: sent.append(dict(request.header_params)))
    client = (KmsClient.new_builder()
              .with_http_config(config)
              .with_credentials(BasicCredentials(AK, sk, PROJECT))
              .with_endpoints([url])
              .with_http_handler(handler)
              .build())
    try:
        return client.show_user_instances(ShowUserInstancesRequest()), None, sent
    except SdkException as e:
        return None, e, sent


def main():
    mock = subprocess.Popen(
        [sys.argv[1], "--project", "%s=%d" % (PROJECT, COUNT), "--ak", AK, "--sk", SK],
        stdout=subprocess.PIPE, text=True)
    try:
        line = mock.stdout.readline().strip()
        match = re.match(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not match:
            sys.exit("kms-mock did not say where it listens: %r" % line)
        url = match.group(1)
        passed, failed = 0, 0
        for algorithm, wire in WIRE.items():
            response, error, sent = call(url, SK, algorithm)
            authorization = next((v for k, v in (sent[0] if sent else {}).items()
                                  if k.lower() == "authorization"), "")
            ok = (error is None and response.instance_num == COUNT
                  and authorization.startswith(wire + " "))
            print("%s %s: %s" % ("PASS" if ok else "FAIL", wire,
                                 "count %s" % response.instance_num if error is None else error))
            passed, failed = passed + ok, failed + (not ok)
            response, error, _ = call(url, "not-the-secret-key", algorithm)
            ok = error is not None and getattr(error, "status_code", None) == 401
            print("%s %s with a wrong SK: %s" % ("PASS" if ok else "FAIL", wire,
                                                 getattr(error, "status_code", response)))
            passed, failed = passed + ok, failed + (not ok)
        print("sdk signing algorithms: %d passed, %d failed" % (passed, failed))
        sys.exit(1 if failed else 0)
    finally:
        mock.kill()
        mock.wait()


if __name__ == "__main__":
    main()
