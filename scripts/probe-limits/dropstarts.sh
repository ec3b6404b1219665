#!/bin/bash
# Starts and drops 8 calls (8 endpoint tokens), then replays address_change.mp3 and prints
# whether the real call got its transcript. From the repository root, after
# go build -o /tmp/probe ./scripts/probe-limits:
#   bash scripts/probe-limits/dropstarts.sh bin/earshot /tmp/dp 8486
BIN=$1; DATA=$2; PORT=$3
rm -rf $DATA; mkdir -p $DATA
files=""
for i in 0 1 2 3 4 5 6 7; do $BIN token create --role endpoint --agent D$i --data $DATA > $DATA.d$i.tok; files="$files,$DATA.d$i.tok"; done
files=${files#,}
$BIN token create --role endpoint --agent A17 --data $DATA > $DATA.tok
$BIN token create --role admin --data $DATA > $DATA.admin
$BIN serve --addr 127.0.0.1:$PORT --data $DATA --max-calls 8 > $DATA.log 2>&1 &
PID=$!
for i in $(seq 1 120); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 1; done
/tmp/probe --url ws://127.0.0.1:$PORT --token-file $DATA.tok --pid $PID --only dropstarts --drop-tokens $files
$BIN replay --url http://127.0.0.1:$PORT --token $(cat $DATA.tok) --speed 2 --call-prefix real samples/calls/address_change.mp3 2>&1 | tail -1
ID=$(curl -s -H "Authorization: Bearer $(cat $DATA.admin)" "http://127.0.0.1:$PORT/v1/calls?q=" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([c["id"] for c in d["calls"] if c["id"].startswith("real")][0])')
curl -s -H "Authorization: Bearer $(cat $DATA.admin)" "http://127.0.0.1:$PORT/v1/calls/$ID" | python3 -c '
import json,sys; d=json.load(sys.stdin)
u=d.get("utterances",[]); ev=[e for e in d.get("events",[]) if e.get("type")=="alert"]
print("real call: %d utterances; alerts: %s; first: %s" % (len(u), [e.get("id") for e in ev], u[0]["text"] if u else "-"))'
kill -TERM $PID; wait $PID
