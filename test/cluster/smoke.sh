#!/usr/bin/env bash
# Checks a running hive-test-apiserver (started by up.sh) with curl: readiness,
# admin access, namespace and ServiceAccount creation, TokenRequest, and that
# the issued ServiceAccount token authenticates. Exits non-zero on failure.
set -euo pipefail

dir="${HIVE_CLUSTER_DIR:-/tmp/hive-cluster}"
server="$(sed -n 's/^ *server: //p' "$dir/kubeconfig")"
token="$(cat "$dir/admin.token")"
ca="$dir/pki/ca.crt"
body="$(mktemp)"
trap 'rm -f "$body"' EXIT
pass=0 fail=0

# check NAME WANT_CODE TOKEN METHOD PATH [JSON]
check() {
  local name=$1 want=$2 tok=$3 method=$4 path=$5 data=${6:-}
  local args=(-sS -o "$body" -w '%{http_code}' --cacert "$ca" -X "$method")
  [[ -n "$tok" ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' -d "$data")
  local got
  got="$(curl "${args[@]}" "$server$path" || echo 000)"
  if [[ "$got" == "$want" ]]; then
    pass=$((pass + 1)); echo "ok   $name: $got"
  else
    fail=$((fail + 1)); echo "FAIL $name: got $got, want $want: $(head -c 300 "$body")"
  fi
}

ns="smoke-$$"
check "GET /readyz (admin)" 200 "$token" GET /readyz
check "GET /api/v1/namespaces (admin)" 200 "$token" GET /api/v1/namespaces
check "GET /api/v1/namespaces (anonymous)" 403 "" GET /api/v1/namespaces
check "POST namespace $ns" 201 "$token" POST /api/v1/namespaces \
  "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}"
check "POST serviceaccount $ns/agent" 201 "$token" POST "/api/v1/namespaces/$ns/serviceaccounts" \
  '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"agent"}}'
check "POST TokenRequest $ns/agent" 201 "$token" POST "/api/v1/namespaces/$ns/serviceaccounts/agent/token" \
  '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}}'
satoken="$(sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' "$body" | head -n1)"
check "GET /api (ServiceAccount token)" 200 "$satoken" GET /api
check "GET /api/v1/namespaces (ServiceAccount token, no RBAC grant)" 403 "$satoken" GET /api/v1/namespaces
check "GET /api (bad token)" 401 "not-a-token" GET /api
check "DELETE namespace $ns" 200 "$token" DELETE "/api/v1/namespaces/$ns"

echo "$pass passed, $fail failed"
(( fail == 0 ))
