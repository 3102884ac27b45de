# Helpers shared by the benchmark scripts (not tests): start a release Berth, sign people in by e-mail link with
# curl, run wrk and read its figures. Sourced after lib.sh.

# bench_start_berth PORT DATABASE_URL WORKDIR [ENV=VALUE ...]: starts target/release/berth in the background with
# mail written to WORKDIR/mail; sets berth_pid. Waits until /readyz answers.
bench_start_berth() {
  local port="$1" database="$2" work="$3"
  shift 3
  mkdir -p "$work/mail"
  env BERTH_LISTEN="127.0.0.1:$port" BERTH_BASE_URL="http://127.0.0.1:$port" BERTH_DATABASE_URL="$database" \
    BERTH_MAIL_URL="file:$work/mail" BERTH_LOG_LEVEL=warn "$@" \
    "$ROOT/target/release/berth" >>"$work/berth-$port.log" 2>&1 &
  berth_pid=$!
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$work/berth-$port.log" >&2
  die "Berth did not start on port $port"
}

# bench_sign_in PORT WORKDIR EMAIL JAR: signs EMAIL in by e-mail link (completing sign-up) with the cookie jar JAR.
bench_sign_in() {
  local port="$1" work="$2" email="$3" jar="$4" base token
  base="http://127.0.0.1:$port"
  curl -fsS -o /dev/null -c "$jar" -b "$jar" -H "Origin: $base" --data-urlencode "email=$email" "$base/auth/email"
  for _ in $(seq 1 100); do
    token="$(python3 - "$work/mail" "$email" <<'PY'
import email, email.policy, pathlib, re, sys
found = ""
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.eml"), key=lambda p: p.stat().st_mtime):
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    if sys.argv[2] not in str(message["To"]):
        continue
    body = message.get_body(("plain",))
    match = re.search(r"/signin/link\?token=([A-Za-z0-9_-]+)", body.get_content() if body else "")
    if match:
        found = match.group(1)
print(found)
PY
)"
    [ -n "$token" ] && break
    sleep 0.1
  done
  [ -n "$token" ] || die "no sign-in link arrived for $email"
  curl -fsS -o /dev/null -c "$jar" -b "$jar" -H "Origin: $base" --data-urlencode "token=$token" \
    "$base/auth/email/verify"
  curl -fsS -o /dev/null -c "$jar" -b "$jar" -H "Origin: $base" -H "Accept: text/html" \
    --data-urlencode "name=Bench Person" --data-urlencode "organisation=Bench Org" --data-urlencode "accept_terms=yes" \
    "$base/api/complete_sign_up"
}

# bench_cookie JAR: the jar's cookies as one Cookie header value.
bench_cookie() {
  awk -F '\t' 'NF >= 7 && $1 !~ /^# / { printf "%s%s=%s", (n++ ? "; " : ""), $6, $7 }' "$1" | sed 's/^#HttpOnly_//'
}

# bench_wrk URL COOKIE: runs wrk and prints "requests/s p99"; wrk's own output goes to stderr.
bench_wrk() {
  local out rps p99
  out="$(wrk -t"${THREADS:-2}" -c"${CONNECTIONS:-32}" -d"${DURATION:-10s}" --latency -H "Cookie: $2" "$1")"
  printf '%s\n' "$out" >&2
  if grep -q 'Non-2xx' <<<"$out"; then die "wrk got error responses from $1"; fi
  rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
  p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
  printf '%s %s\n' "$rps" "$p99"
}

# bench_ms LATENCY: wrk's latency ("850.00us", "12.3ms", "1.2s") in milliseconds.
bench_ms() {
  awk -v t="$1" 'BEGIN {
    if (t ~ /us$/) { sub(/us$/, "", t); printf "%.2f", t / 1000 }
    else if (t ~ /ms$/) { sub(/ms$/, "", t); printf "%.2f", t }
    else if (t ~ /s$/) { sub(/s$/, "", t); printf "%.2f", t * 1000 }
    else { print t }
  }'
}
