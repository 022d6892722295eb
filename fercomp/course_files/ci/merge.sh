#!/usr/bin/env bash
# merge.sh PHASE SHARDS OUT: merge the shards' records (SHARDS/*/), build the board in every format and
# leave it in OUT: readable in the public phase, one encrypted archive in the final phase. With the
# ROSTER_URL secret set, the final phase also writes per-student grades.
set -euo pipefail
phase="$1"; shards="$2"; out="$3"
here="$(cd "$(dirname "$0")" && pwd)"
args=()
for dir in "$shards"/*/; do
  if [ -f "$dir/records.tar.gz.enc" ]; then "$here/seal.sh" open "$dir/records.tar.gz.enc" "$dir"; fi
  args+=(--results "$dir")
done
[ ${#args[@]} -gt 0 ] || { echo "no shard results in $shards" >&2; exit 2; }
board="$(mktemp -d)"
extra=(--format md --format csv --format html --format json --format latex --out "$board")
if [ "$phase" = final ]; then
  extra+=(--before-reveal)
  if [ -n "${ROSTER_URL:-}" ]; then curl -sSfL "$ROSTER_URL" -o "$board/roster.csv"; extra+=(--roster "$board/roster.csv"); fi
else
  extra+=(--summary)
fi
fercomp leaderboard --phase "$phase" "${args[@]}" "${extra[@]}"
rm -f "$board/roster.csv"
mkdir -p "$out"
if [ "$phase" = final ]; then
  "$here/seal.sh" close "$board" "$out/board.tar.gz.enc"
else
  cp "$board"/* "$out"/
  cp "$out/leaderboard-"*.html "$out/index.html"
fi
rm -rf "$board"
