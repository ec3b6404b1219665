#!/bin/bash
# SIGKILLs an engine while card_payment.mp3 is being replayed into it (at KILL_AT_S, e.g. 43.5 s:
# inside "double four seven six nine oh two two"), restarts it, lets the replay resume, and checks
# that no digit word is stored in the caller's card-reading turns (finals and partials) and that no
# file of the data directory holds a run of 4 or more digit words. Run from the repository root:
#   bash scripts/probe-card-kill/run.sh bin/earshot /tmp/ck 8483 43.5
# usage: run.sh BIN DATA PORT KILL_AT_S
BIN=$1; DATA=$2; PORT=$3; KILLAT=$4
rm -rf $DATA $DATA.tok $DATA.admin $DATA.log $DATA.replay $DATA.call.json; mkdir -p $DATA
$BIN token create --role endpoint --agent A17 --data $DATA > $DATA.tok
$BIN token create --role admin --data $DATA > $DATA.admin
start_engine() { $BIN serve --addr 127.0.0.1:$PORT --data $DATA --max-calls 2 >> $DATA.log 2>&1 & PID=$!; for i in $(seq 1 60); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.5; done; }
start_engine
$BIN replay --url http://127.0.0.1:$PORT --token $(cat $DATA.tok) --call-prefix card samples/calls/card_payment.mp3 > $DATA.replay 2>&1 &
RP=$!
sleep $KILLAT
kill -9 $PID; echo "SIGKILL at $KILLAT s"
start_engine
wait $RP; echo "replay exit $?"; cat $DATA.replay | tail -3
ID=$(curl -s -H "Authorization: Bearer $(cat $DATA.admin)" "http://127.0.0.1:$PORT/v1/calls" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["calls"][0]["id"])')
curl -s -H "Authorization: Bearer $(cat $DATA.admin)" "http://127.0.0.1:$PORT/v1/calls/$ID" > $DATA.call.json
kill -TERM $PID; wait $PID 2>/dev/null
python3 "$(dirname "$0")/check.py" $DATA.call.json $DATA
