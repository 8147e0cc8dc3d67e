#!/usr/bin/env bash
# Wall time of a full `tlsgate scan` against testssl.sh's default run on the
# same loopback server (openssl s_server with its defaults: TLS 1.2 and 1.3,
# every suite Debian's OpenSSL enables). Prints both times and the ratio.
#
#   bench/scan_vs_testssl.sh [ROUNDS]
#
# ROUNDS (default 3) tlsgate scans are timed and averaged; testssl.sh runs
# once (it takes minutes). Needs go, openssl and testssl (Debian: testssl.sh).
set -euo pipefail

rounds=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server_pid=""
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

for tool in go openssl testssl; do
	command -v "$tool" >/dev/null || { echo "needs $tool on PATH" >&2; exit 1; }
done

(cd "$here" && go build -o "$work/tlsgate" ./cmd/tlsgate)

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null

# A free loopback port: ask the kernel through a short-lived listener.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
openssl s_server -accept "127.0.0.1:$port" -cert "$work/cert.pem" -key "$work/key.pem" -www -quiet >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done

now() { date +%s.%N; }

total=0
for i in $(seq "$rounds"); do
	start=$(now)
	"$work/tlsgate" scan --progress never --http-port 0 --ca "$work/cert.pem" --sni localhost "127.0.0.1:$port" >"$work/scan.txt"
	end=$(now)
	t=$(echo "$end - $start" | bc -l)
	total=$(echo "$total + $t" | bc -l)
	printf 'tlsgate scan   round %d: %6.2fs\n' "$i" "$t"
done
scan_avg=$(echo "$total / $rounds" | bc -l)

start=$(now)
(cd "$work" && timeout 900 testssl --quiet --warnings off --color 0 --jsonfile "$work/testssl.json" "127.0.0.1:$port" >"$work/testssl.txt" 2>&1) || true
end=$(now)
testssl_t=$(echo "$end - $start" | bc -l)

grade=$(grep -m1 'Grade' "$work/scan.txt" | awk '{print $2}')
printf 'tlsgate scan   average: %6.2fs (grade %s)\n' "$scan_avg" "$grade"
printf 'testssl.sh     default: %6.2fs (%s findings)\n' "$testssl_t" "$(grep -c '"id"' "$work/testssl.json" || echo 0)"
printf 'ratio          %.0fx faster\n' "$(echo "$testssl_t / $scan_avg" | bc -l)"
