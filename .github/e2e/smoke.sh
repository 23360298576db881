#!/usr/bin/env bash
# Black-box checks of a deployed chatfn through its public edge, with nothing but HTTP: what
# each step exercises is named beside it. The pytest suites cannot do this: their fixtures
# start and reach into a local stack (PostgreSQL, Redis, Kafka), not a URL.
# Usage: smoke.sh <base URL, e.g. http://127.0.0.1:8080> [model]  (default: LLM_MODEL's)
set -euo pipefail
base=${1:?usage: smoke.sh <base URL> [model]}
message=$(jq -nc --arg model "${2:-}" '{content: "hello"} + if $model == "" then {} else {model: $model} end')

# Sign-up is api -> broker (Kafka) -> register_user -> api, so a 201 means the Broker, its
# Trigger, the EventPolicy and the NetworkPolicies let a real event through. The first
# request also waits out cold starts, hence the retries.
email="e2e-$(date +%s)-$RANDOM@example.com"
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
access_token=$(curl -fsS --retry 10 --retry-all-errors --retry-delay 6 \
  -H 'content-type: application/json' \
  -d "{\"email\": \"$email\", \"password\": \"$password\"}" \
  "$base/api/auth/register" | jq -er .access_token)
auth="authorization: Bearer $access_token"

# Sign-in through the edge (its rate limit and api's both let one through).
curl -fsS -H 'content-type: application/json' \
  -d "{\"email\": \"$email\", \"password\": \"$password\"}" \
  "$base/api/auth/login" | jq -e '.access_token' >/dev/null

# The migration Job ran: a conversation is written to PostgreSQL and read back.
conversation=$(curl -fsS -H "$auth" -H 'content-type: application/json' -d '{"title": "e2e"}' \
  "$base/api/conversations" | jq -er .id)
curl -fsS -H "$auth" "$base/api/conversations" |
  jq -e --arg id "$conversation" 'any(.conversations[]; .id == $id)' >/dev/null

# A message runs send_message and generate_reply; its stream comes back through the edge's
# unbuffered route to stream_reply and ends with exactly one `done` or `error` (the e2e
# cluster has no model server, so `error` is the expected end; either proves the pipeline).
accepted=$(curl -fsS -H "$auth" -H 'content-type: application/json' -d "$message" \
  "$base/api/conversations/$conversation/messages")
reply=$(jq -er .reply_id <<<"$accepted")
ticket=$(jq -er .stream_ticket <<<"$accepted")
stream=$(curl -fsSN --max-time 180 "$base/api/replies/$reply/stream?ticket=$ticket")
ends=$(grep -cE '^event: (done|error)$' <<<"$stream" || true)
[[ $ends == 1 ]] || { echo "the reply stream ended $ends times:"; echo "$stream"; exit 1; }

# Never public: api's endpoints for events (the broker's replies and dead letters).
for path in /events/register-result /events/dead-letter; do
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base$path")
  [[ $status == 4* ]] || { echo "POST $path answered $status at the edge"; exit 1; }
done
echo "smoke checks passed against $base"
