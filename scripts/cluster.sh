#!/usr/bin/env bash
# A local cluster with defaults: one nsqlookupd and one nsqd registered with
# it, data under $DATA (default ./data). Ctrl-C (or SIGTERM) stops both
# cleanly; the exit status is non-zero if either daemon failed.
set -u
BIN=${BIN:-./bin}
DATA=${DATA:-./data}
mkdir -p "$DATA"

"$BIN/nsqlookupd" &
lookupd=$!
"$BIN/nsqd" --data-path="$DATA" --lookupd-tcp-address=127.0.0.1:4160 &
nsqd=$!

stop() {
	kill -TERM "$nsqd" "$lookupd" 2>/dev/null
}
trap stop INT TERM

# Wait until either daemon ends (Ctrl-C, a signal, or a failure), then stop
# the other and collect both exit statuses.
wait -n "$lookupd" "$nsqd"
stop
status=0
wait "$nsqd" || status=$?
wait "$lookupd" || [ "$status" -ne 0 ] || status=$?
# 130/143: stopped by our own INT/TERM, a clean stop
case "$status" in 130|143) status=0 ;; esac
exit "$status"
