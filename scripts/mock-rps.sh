#!/usr/bin/env bash
# Requests per second one kms-mock serves with AK/SK verification on, measured with wrk
# (Debian package `wrk`) from a second process on loopback. The request is signed once (in
# Python, with the official algorithm) and replayed: the emulator verifies every copy, which
# is the cost being measured. Usage: scripts/mock-rps.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
pid_project=0dea2644dc80d5d22ff1c01e3ebea6fc
cargo build -q --release --locked -p kms-mock --features cli --bin kms-mock
out=$(mktemp)
./target/release/kms-mock --project "$pid_project=15" --ak AKLOAD --sk SKLOAD --lockout-after 0 >"$out" &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
url=$(head -1 "$out" | sed 's/^listening on //')
read -r date auth < <(python3 - "${url#http://}" "$pid_project" <<'PY'
import sys, hashlib, hmac, datetime
host, project = sys.argv[1], sys.argv[2]
d = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
path = f'/v1.0/{project}/kms/user-instances'
canonical = '\n'.join(['GET', path + '/', '',
    f'host:{host}\nx-project-id:{project}\nx-sdk-date:{d}\n',
    'host;x-project-id;x-sdk-date', hashlib.sha256(b'').hexdigest()])
sts = f'SDK-HMAC-SHA256\n{d}\n' + hashlib.sha256(canonical.encode()).hexdigest()
sig = hmac.new(b'SKLOAD', sts.encode(), hashlib.sha256).hexdigest()
print(d, f'SDK-HMAC-SHA256 Access=AKLOAD, SignedHeaders=host;x-project-id;x-sdk-date, Signature={sig}')
PY
)
target="$url/v1.0/$pid_project/kms/user-instances"
check=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Sdk-Date: $date" -H "X-Project-Id: $pid_project" -H "Authorization: $auth" "$target")
[ "$check" = 200 ] || { echo "the signed request was refused ($check)" >&2; exit 1; }
for conns in 1 32; do
  echo "== $conns connection(s), ${secs}s"
  wrk -t1 -c"$conns" -d"${secs}s" -H "X-Sdk-Date: $date" -H "X-Project-Id: $pid_project" \
    -H "Authorization: $auth" "$target" | grep -E 'Requests/sec|Non-2xx|Latency'
done
