#!/usr/bin/env bash
# score-shard.sh I N PHASE RECORDS: score shard I of N of the hand-ins (and the baseline in shard 1) in PHASE
# (public or final) into RECORDS. This step runs hand-ins (each in its own jail): it must hold no secret, so it
# refuses to run with GRADES_PASSPHRASE in its environment. ci/pack-shard.sh, the next step, seals the records.
# In the final phase the job log shows which teams scored, failed or were flagged, never a figure.
set -euo pipefail
shard="$1"; shards="$2"; phase="$3"; records="$4"
if [ -n "${GRADES_PASSPHRASE:-}" ]; then
  echo "score-shard.sh: GRADES_PASSPHRASE is set in a step that runs hand-ins; give it only to ci/pack-shard.sh" >&2
  exit 2
fi
reveal=(); [ "$phase" = final ] && reveal=(--before-reveal)   # naming the final phase in a dispatch is the decision
# the final phase prints counts and team names only (fercomp score does so itself); its records: you alone
[ "$phase" = final ] && umask 077
mkdir -p "$records"
if [ "$shard" = 1 ]; then
  fercomp score "@BASELINE@" --phase "$phase" "${reveal[@]}" --out "$records" || [ $? = 1 ]
fi
# exit 1 means a team failed: its record says why and the board shows it; anything else stops the job
fercomp score @SUBMISSIONS@ --phase "$phase" "${reveal[@]}" --shard "$shard/$shards" --out "$records" || [ $? = 1 ]
