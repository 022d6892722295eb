#!/usr/bin/env bash
# check.sh BASE: `fercomp check` every hand-in changed since git ref BASE (every hand-in when BASE is not
# a commit here). Results go to the step summary and to check-summary.md (for the pull-request comment).
set -uo pipefail
base="${1:-}"
summary="check-summary.md"
if [ -n "$base" ] && git cat-file -e "$base^{commit}" 2>/dev/null; then
  changed=$(git diff --name-only "$base" HEAD -- @SUBMISSIONS@/)
else
  changed=$(git ls-files @SUBMISSIONS@/)
fi
teams=$(for f in $changed; do
  stem="$(basename "$f")"; stem="${stem%%.*}"
  [ -f "@SUBMISSIONS@/$stem.py" ] && echo "@SUBMISSIONS@/$stem.py"
done | sort -u)
status=0
echo "## fercomp check" > "$summary"
[ -n "$teams" ] || echo "No hand-in changed." >> "$summary"
for py in $teams; do
  if out=$(fercomp check "$py" 2>&1); then mark="PASS"; else mark="FAIL"; status=1; fi
  printf '### %s %s\n\n```\n%s\n```\n\n' "$mark" "$py" "$out" >> "$summary"
  echo "$out"
done
[ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat "$summary" >> "$GITHUB_STEP_SUMMARY"
exit $status
