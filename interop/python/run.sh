#!/usr/bin/env bash
# Interop test: the OFFICIAL Huawei Cloud Python SDK (huaweicloudsdkkms) against kms-mock, and
# our `kms` CLI against the same emulator for the credential sources, IAM and STS.
#
# Usage, from the workspace root:   bash interop/python/run.sh
#
# - no python3                     -> "INTEROP SKIPPED: python3 not found", exit 0
# - the SDK cannot be had from PyPI -> banner "INTEROP SKIPPED: could not install the
#                                      official SDK from PyPI" + pip's error tail, exit 0
# - either of those under CI        -> the same message, then "INTEROP FAILED: ...", exit 1
#   (CI set to anything but "", "0" or "false", as CI services set CI=true): on a CI
#   machine a skipped run would pass a check that never ran
# - anything else going wrong       -> exit non-zero
# Otherwise builds kms-mock and kms, starts four emulators (plain AK/SK; temporary AK with a
# security token; ECS metadata and CCE pod identity issuing temporary credentials; IAM and
# STS with --iam: projects by region, OIDC federation, assume-with-oidc, password tokens),
# runs check.py against them (also several endpoints for a region, through
# HUAWEICLOUD_SDK_REGION_KMS_<REGION> and a regions file, for the SDK and for `kms`, against the
# plain AK/SK emulator; a clock 20 minutes off, against emulators check.py starts itself
# with --clock-offset 1200; and, against emulators it starts too, credentials that arrive
# expired, a machine 20 minutes fast with 900 s STS credentials and a gateway 10 years
# ahead; a CONNECT proxy refusing its credentials, for the SDK and for `kms --proxy`; a
# black-hole first endpoint for `kms`), and ends with "interop: N passed, M failed" (check.py fails our
# CLI's scenarios, never skips them, when its `kms count` lacks a flag they need).
#
# Environment (optional):
#   KMS_MOCK_BIN=/path/to/kms-mock  use this binary instead of building it with cargo
#   KMS_BIN=/path/to/kms            likewise for our CLI
#   INTEROP_VERBOSE=1               check.py prints every exchange, not only failing ones
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$ROOT/target/interop-venv"
REQS="$HERE/requirements.txt"

# Fixed, obviously fake test credentials (never real ones).
PROJECT_ID="5f0c8a3e9b1d4e27a6c3f18d02b7e954"
COUNT=15
AK="INTEROPAK0000000001"
SK="interop-secret-key-0123456789abcdef"
STS_AK="INTEROPSTSAK0000001"
STS_SK="interop-sts-secret-key-fedcba9876543210"
SECURITY_TOKEN="interop-security-token-3b9e1f0a7c5d2e84"
POD_TOKEN="interop-pod-identity-token-9d41c7e2a05b3f68"
# IAM and STS (kms-mock --iam): the project named after its region, two sharing another
# region (discovery must refuse), an identity provider and an OIDC provider with the id
# token each accepts, an IAM user's password.
REGION="cn-north-4"
SEVERAL_REGION="cn-east-3"
SEVERAL_PROJECT_IDS="0b7d2e91c4a35f68e1d09c7b3a52f846,9e4a6c13d8b2470f5a1e6d39c0b7f285"
IDP_ID="interop-oidc-idp"
ID_TOKEN="interop-federation-id-token-58c1e9a03d7b4f26"
OIDC_PROVIDER_URN="iam::0a1b2c3d4e5f60718293a4b5c6d7e8f9:identity-provider:interop-ci"
OIDC_ID_TOKEN="interop-sts-id-token-e07a4c92b61d3f58"
IAM_DOMAIN="interop-account"
IAM_USER="interop-user"
IAM_PASSWORD="interop-password-4f9c2a7e1b"

die() {
    echo "interop: ERROR: $*" >&2
    echo "interop: 0 passed, 1 failed"
    exit 1
}

# Whether this runs on CI (CI services set CI=true).
in_ci() {
    case "${CI:-}" in
    "" | 0 | false | FALSE | False) return 1 ;;
    *) return 0 ;;
    esac
}

# skipped: nothing was tested. Outside CI a loud skip, exit 0; under CI a failure.
skipped() {
    if in_ci; then
        echo "INTEROP FAILED: the run was skipped under CI=${CI} (see above); install python3" \
            "and let pip reach PyPI, so the official SDK checks this client" >&2
        echo "interop: 0 passed, 1 failed"
        exit 1
    fi
    exit 0
}

# ---------------------------------------------------------------- python3
if ! command -v python3 >/dev/null 2>&1; then
    echo "INTEROP SKIPPED: python3 not found"
    skipped
fi

# ---------------------------------------------------------------- virtualenv + SDK
req_hash="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$REQS")"
stamp="$VENV/.interop-requirements.sha256"

venv_ok() {
    [ -x "$VENV/bin/python" ] &&
        [ "$(cat "$stamp" 2>/dev/null || true)" = "$req_hash" ] &&
        "$VENV/bin/python" -c 'import huaweicloudsdkcore, huaweicloudsdkkms.v2' >/dev/null 2>&1
}

if venv_ok; then
    echo "interop: reusing virtualenv $VENV"
else
    echo "interop: creating virtualenv $VENV and installing the official SDK"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv --clear "$VENV" || die "python3 -m venv failed (is the venv/ensurepip module installed?)"
    pip_log="$(mktemp)"
    set +e
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        --timeout 30 --retries 3 -r "$REQS" >"$pip_log" 2>&1
    pip_rc=$?
    set -e
    if [ "$pip_rc" -ne 0 ]; then
        # Could the index not be reached? (offline, DNS, proxy, TLS to the index, or an index
        # that answers nothing for names that exist: "from versions: none").
        if grep -Eqi 'NewConnectionError|Failed to establish a new connection|Max retries exceeded|Temporary failure in name resolution|Name or service not known|No address associated|Network is unreachable|No route to host|Connection refused|Connection reset|timed out|ReadTimeout|ConnectTimeout|ProxyError|SSLError|CERTIFICATE_VERIFY_FAILED|\(from versions: none\)' "$pip_log"; then
            echo "=================================================================="
            echo "== INTEROP SKIPPED: could not install the official SDK from PyPI"
            echo "== (pip could not reach the package index; nothing was tested)"
            echo "== pip's last lines:"
            tail -n 15 "$pip_log" | sed 's/^/==   /'
            echo "=================================================================="
            rm -f "$pip_log"
            rm -rf "$VENV"   # half-installed: do not let a later run reuse it
            skipped
        fi
        echo "interop: pip install failed (exit $pip_rc):" >&2
        tail -n 30 "$pip_log" >&2
        rm -f "$pip_log"
        die "pip install -r interop/python/requirements.txt failed"
    fi
    rm -f "$pip_log"
    "$VENV/bin/python" -c 'import huaweicloudsdkcore, huaweicloudsdkkms.v2' ||
        die "the SDK installed but does not import"
    echo "$req_hash" >"$stamp"
fi

# ---------------------------------------------------------------- emulator binary
if [ -n "${KMS_MOCK_BIN:-}" ]; then
    MOCK="$KMS_MOCK_BIN"
    echo "interop: using KMS_MOCK_BIN=$MOCK"
else
    echo "interop: cargo build --locked -p kms-mock --features cli --bin kms-mock"
    cargo build --locked -p kms-mock --features cli --bin kms-mock || die "cargo build of kms-mock failed"
    MOCK="$TARGET_DIR/debug/kms-mock"
fi
[ -x "$MOCK" ] || die "emulator binary not found at $MOCK"

if [ -n "${KMS_BIN:-}" ]; then
    KMS="$KMS_BIN"
    echo "interop: using KMS_BIN=$KMS"
else
    echo "interop: cargo build --locked -p kms-cli --bin kms"
    cargo build --locked -p kms-cli --bin kms || die "cargo build of kms-cli failed"
    KMS="$TARGET_DIR/debug/kms"
fi
[ -x "$KMS" ] || die "kms binary not found at $KMS"

# ---------------------------------------------------------------- start emulators
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kms-interop.XXXXXX")"
MOCK_PIDS=()

cleanup() {
    local pid
    for pid in "${MOCK_PIDS[@]+"${MOCK_PIDS[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${MOCK_PIDS[@]+"${MOCK_PIDS[@]}"}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_mock NAME ARGS... : starts the emulator, waits up to 20 s for its first stdout line,
# and sets MOCK_URL to the announced base URL.
start_mock() {
    local name="$1"
    shift
    "$MOCK" --listen 127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
    local pid=$!
    MOCK_PIDS+=("$pid")
    local deadline=$((SECONDS + 20)) line=""
    while :; do
        if [ -s "$WORK/$name.out" ] && line="$(head -n 1 "$WORK/$name.out")" &&
            [[ "$line" =~ ^listening\ on\ (http://127\.0\.0\.1:[0-9]+)[[:space:]]*$ ]]; then
            MOCK_URL="${BASH_REMATCH[1]}"
            echo "interop: emulator '$name' (pid $pid) $line"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "interop: emulator '$name' exited before announcing its address; stderr:" >&2
            tail -n 20 "$WORK/$name.err" >&2 || true
            die "emulator '$name' did not start"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "interop: emulator '$name' first line so far: '$(head -n 1 "$WORK/$name.out" 2>/dev/null || true)'; stderr:" >&2
            tail -n 20 "$WORK/$name.err" >&2 || true
            die "emulator '$name' did not print 'listening on http://127.0.0.1:<port>' within 20 s"
        fi
        sleep 0.1
    done
}

MOCK_URL=""
start_mock aksk --project "$PROJECT_ID=$COUNT" --ak "$AK" --sk "$SK"
URL_AKSK="$MOCK_URL"
start_mock sts --project "$PROJECT_ID=$COUNT" --ak "$STS_AK" --sk "$STS_SK" \
    --security-token "$SECURITY_TOKEN"
URL_STS="$MOCK_URL"
start_mock creds --project "$PROJECT_ID=$COUNT" --metadata --pod-identity-token "$POD_TOKEN"
URL_CREDS="$MOCK_URL"
start_mock iam --iam --project "$PROJECT_ID=$COUNT@$REGION" \
    --project "${SEVERAL_PROJECT_IDS%%,*}=3@$SEVERAL_REGION" \
    --project "${SEVERAL_PROJECT_IDS##*,}=4@$SEVERAL_REGION" \
    --ak "$AK" --sk "$SK" --idp "$IDP_ID=$ID_TOKEN" \
    --oidc-provider "$OIDC_PROVIDER_URN=$OIDC_ID_TOKEN" \
    --user "$IAM_DOMAIN/$IAM_USER=$IAM_PASSWORD"
URL_IAM="$MOCK_URL"

# ---------------------------------------------------------------- run the checks
# Loopback must never go through a proxy that the environment may configure.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

set +e
INTEROP_PROJECT_ID="$PROJECT_ID" INTEROP_COUNT="$COUNT" \
    INTEROP_URL="$URL_AKSK" INTEROP_AK="$AK" INTEROP_SK="$SK" \
    INTEROP_STS_URL="$URL_STS" INTEROP_STS_AK="$STS_AK" INTEROP_STS_SK="$STS_SK" \
    INTEROP_SECURITY_TOKEN="$SECURITY_TOKEN" \
    INTEROP_CREDS_URL="$URL_CREDS" INTEROP_POD_TOKEN="$POD_TOKEN" INTEROP_KMS_BIN="$KMS" \
    INTEROP_MOCK_BIN="$MOCK" \
    INTEROP_IAM_URL="$URL_IAM" INTEROP_REGION="$REGION" INTEROP_SEVERAL_REGION="$SEVERAL_REGION" \
    INTEROP_SEVERAL_PROJECT_IDS="$SEVERAL_PROJECT_IDS" INTEROP_IDP_ID="$IDP_ID" \
    INTEROP_ID_TOKEN="$ID_TOKEN" INTEROP_OIDC_PROVIDER_URN="$OIDC_PROVIDER_URN" \
    INTEROP_OIDC_ID_TOKEN="$OIDC_ID_TOKEN" INTEROP_IAM_DOMAIN="$IAM_DOMAIN" \
    INTEROP_IAM_USER="$IAM_USER" INTEROP_IAM_PASSWORD="$IAM_PASSWORD" \
    PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" "$HERE/check.py" | tee "$WORK/check.out"
check_rc=${PIPESTATUS[0]}
set -e

passed=$(grep -c '^PASS ' "$WORK/check.out" || true)
failed=$(grep -c '^FAIL ' "$WORK/check.out" || true)
skipped=$(grep -c '^SKIP ' "$WORK/check.out" || true)
if [ "$check_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "interop: check.py exited $check_rc without reporting a failed scenario" >&2
    failed=1
fi
if [ "$failed" -ne 0 ]; then
    for name in aksk sts creds iam; do
        echo "---- emulator '$name' stderr (last 40 lines):" >&2
        tail -n 40 "$WORK/$name.err" >&2 || true
    done
fi
if [ "$skipped" -ne 0 ]; then
    echo "interop: $passed passed, $failed failed, $skipped skipped"
    if in_ci; then
        echo "INTEROP FAILED: $skipped scenarios skipped under CI=${CI}" >&2
        exit 1
    fi
else
    echo "interop: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$check_rc" -eq 0 ]
