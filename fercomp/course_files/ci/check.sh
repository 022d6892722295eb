#!/usr/bin/env bash
# check.sh BASE: `fercomp check` every hand-in changed since git ref BASE (every hand-in when BASE is not
# a commit here). Results go to the step summary and to check-summary.md (for the pull-request comment).
# On a pull request (GITHUB_EVENT_NAME=pull_request, as GitHub Actions sets it) it also fails unless every file
# the pull request adds, changes, renames or deletes is one team's own: @SUBMISSIONS@/<team>.<ext> or under
# @SUBMISSIONS@/<team>/. This step runs the pull request's own copy of this script, so it tells the instructor
# what to look for; review the "Files changed" tab before merging all the same.
set -uo pipefail
base="${1:-}"
summary="check-summary.md"
owner() {  # the team a path under @SUBMISSIONS@/ belongs to; nothing for anything else (README.md included)
  local rest="${1#@SUBMISSIONS@/}"
  [ "$rest" != "$1" ] && [ "$rest" != README.md ] || return 0
  rest="${rest%%/*}"; echo "${rest%%.*}"
}
status=0
echo "## fercomp check" > "$summary"
if [ -n "$base" ] && git cat-file -e "$base^{commit}" 2>/dev/null; then
  changed=$(git diff --no-renames --name-only "$base" HEAD)
else
  changed=$(git ls-files @SUBMISSIONS@/)
fi
teams=$(for f in $changed; do owner "$f"; done | sort -u)
if [ "${GITHUB_EVENT_NAME:-}" = pull_request ]; then
  others=$(for f in $changed; do [ -n "$(owner "$f")" ] || echo "$f"; done)
  if [ -n "$others" ] || [ "$(echo "$teams" | grep -c .)" -gt 1 ]; then
    status=1
    printf '### FAIL one team'"'"'s files only\n\nA pull request hands in one team'"'"'s files (@SUBMISSIONS@/<team>.* and @SUBMISSIONS@/<team>/); this one touches %s.\n\n```\n%s\n```\n\n' \
      "$( [ -n "$others" ] && echo "files outside them" || echo "the files of teams $(echo $teams)")" "$changed" >> "$summary"
    echo "check.sh: this pull request touches more than one team's files: $(echo $changed)" >&2
  fi
fi
hand_ins=$(for team in $teams; do [ -f "@SUBMISSIONS@/$team.py" ] && echo "@SUBMISSIONS@/$team.py"; done)
[ -n "$hand_ins" ] || echo "No hand-in changed." >> "$summary"
for py in $hand_ins; do
  if out=$(fercomp check "$py" 2>&1); then mark="PASS"; else mark="FAIL"; status=1; fi
  printf '### %s %s\n\n```\n%s\n```\n\n' "$mark" "$py" "$out" >> "$summary"
  echo "$out"
done
[ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat "$summary" >> "$GITHUB_STEP_SUMMARY"
exit $status
