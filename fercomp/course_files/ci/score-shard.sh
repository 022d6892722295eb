#!/usr/bin/env bash
# score-shard.sh I N PHASE UPLOAD: score shard I of N of the hand-ins (and the baseline in shard 1) in
# PHASE (public or final) and leave what may be uploaded in UPLOAD: the records in the public phase,
# only their encrypted archive in the final phase.
set -euo pipefail
shard="$1"; shards="$2"; phase="$3"; upload="$4"
here="$(cd "$(dirname "$0")" && pwd)"
records="$(mktemp -d)"
reveal=(); [ "$phase" = final ] && reveal=(--before-reveal)   # naming the final phase in a dispatch is the decision
if [ "$shard" = 1 ]; then
  fercomp score "@BASELINE@" --phase "$phase" "${reveal[@]}" --out "$records" || [ $? = 1 ]
fi
# exit 1 means a team failed: its record says why and the board shows it; anything else stops the job
fercomp score @SUBMISSIONS@ --phase "$phase" "${reveal[@]}" --shard "$shard/$shards" --out "$records" || [ $? = 1 ]
mkdir -p "$upload"
if [ "$phase" = final ]; then
  "$here/seal.sh" close "$records" "$upload/records.tar.gz.enc"
else
  cp "$records"/*.json "$upload"/
fi
rm -rf "$records"
