#!/usr/bin/env bash
# Signing cross-check: SDK-ECDSA-P256-SHA256 and SDK-SM2-SM3 between the OFFICIAL Python
# signer (huaweicloudsdkcore 3.1.219) and kms-proto, both ways (cross_check.py says how);
# then the official Python KMS client with each of its four signing_algorithm values
# against kms-mock (sdk_against_mock.py).
#
# Usage, from the workspace root:   bash interop/signing/run.sh
#
# - no python3                        -> "SIGNING CROSS-CHECK SKIPPED: python3 not found", exit 0
# - the SDK not from PyPI             -> banner "SIGNING CROSS-CHECK SKIPPED: ..." + pip's tail, exit 0
# - either of those under CI          -> the same banner, then "SIGNING CROSS-CHECK FAILED",
#                                        exit 1 (CI set to anything but "", "0" or "false"):
#                                        the official signer is the only check of ECDSA and
#                                        SM2 that does not share our key derivation
# - anything else going wrong         -> exit non-zero
# Environment (optional): SIGNING_INTEROP_BIN=/path/to/signing_interop and
# KMS_MOCK_BIN=/path/to/kms-mock instead of building them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$ROOT/target/signing-venv"
# The same pinned closure as the Python interop (the SDK and every dependency), so both
# suites run the same code; the virtualenv is remade when the pins change.
REQS="$ROOT/interop/python/requirements.txt"
SDK="the official SDK pinned in interop/python/requirements.txt"
req_hash="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$REQS" 2>/dev/null || true)"
stamp="$VENV/.signing-requirements.sha256"

skip() {
    echo "=================================================================="
    echo "== SIGNING CROSS-CHECK SKIPPED: $1"
    echo "== (ECDSA and SM2 were NOT checked against the official signer, nor the official"
    echo "==  client's four signing algorithms against kms-mock)"
    if [ -n "${2:-}" ]; then
        tail -n 15 "$2" | sed 's/^/==   /'
        rm -f "$2"
    fi
    echo "=================================================================="
    case "${CI:-}" in
    "" | 0 | false | FALSE | False) exit 0 ;;
    *)
        echo "SIGNING CROSS-CHECK FAILED: skipped under CI=${CI}; install python3 and let pip" \
            "reach PyPI" >&2
        exit 1
        ;;
    esac
}

command -v python3 >/dev/null 2>&1 || skip "python3 not found"

if ! { [ -x "$VENV/bin/python" ] &&
        [ "$(cat "$stamp" 2>/dev/null || true)" = "$req_hash" ] &&
        "$VENV/bin/python" -c 'import huaweicloudsdkcore.signer.signer, huaweicloudsdkkms.v2' >/dev/null 2>&1; }; then
    echo "signing: creating virtualenv $VENV with $SDK"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv --clear "$VENV" || { echo "signing: python3 -m venv failed" >&2; exit 1; }
    pip_log="$(mktemp)"
    set +e
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        --timeout 30 --retries 3 -r "$REQS" >"$pip_log" 2>&1
    pip_rc=$?
    set -e
    if [ "$pip_rc" -ne 0 ]; then
        if grep -Eqi 'NewConnectionError|Failed to establish a new connection|Max retries exceeded|Temporary failure in name resolution|Name or service not known|No address associated|Network is unreachable|No route to host|Connection refused|Connection reset|timed out|ReadTimeout|ConnectTimeout|ProxyError|SSLError|CERTIFICATE_VERIFY_FAILED|\(from versions: none\)' "$pip_log"; then
            rm -rf "$VENV"
            skip "could not install $SDK from PyPI" "$pip_log"
        fi
        tail -n 30 "$pip_log" >&2
        echo "signing: pip install $SDK failed (exit $pip_rc)" >&2
        exit 1
    fi
    rm -f "$pip_log"
    echo "$req_hash" >"$stamp"
fi

if [ -n "${SIGNING_INTEROP_BIN:-}" ]; then
    BIN="$SIGNING_INTEROP_BIN"
else
    echo "signing: cargo build --locked -p kms-proto --features verify --example signing_interop"
    cargo build --locked -p kms-proto --features verify --example signing_interop
    BIN="$TARGET_DIR/debug/examples/signing_interop"
fi
[ -x "$BIN" ] || { echo "signing: $BIN not found" >&2; exit 1; }

"$VENV/bin/python" "$HERE/cross_check.py" "$BIN"

if [ -n "${KMS_MOCK_BIN:-}" ]; then
    MOCK="$KMS_MOCK_BIN"
else
    echo "signing: cargo build --locked -p kms-mock --features cli --bin kms-mock"
    cargo build --locked -p kms-mock --features cli --bin kms-mock
    MOCK="$TARGET_DIR/debug/kms-mock"
fi
[ -x "$MOCK" ] || { echo "signing: $MOCK not found" >&2; exit 1; }

"$VENV/bin/python" "$HERE/sdk_against_mock.py" "$MOCK"
