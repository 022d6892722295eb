#!/usr/bin/env bash
# slurm/submit.sh [public|final] [--rescore]: check, then submit the scoring array and the merge as a job that
# starts when every array task has ended well (afterok) and is cancelled when one has not. The scheduler queues
# them; nothing here waits. Before anything is queued it refuses, in one line (python -m fercomp.slurm): the final
# phase before [phases] reveal (REVEAL_OK=1 overrides, as --before-reveal does locally), missing data, a request
# the partition cannot meet (sinfo), a baseline that fails fercomp check.
#   PHASE=final in the environment works as the argument does; given both, they must agree.
#   --rescore (or RESCORE=1): score every hand-in again, even where its record is still fresh.
# The final phase's records, board, grades and logs are written private (umask 077) under reports/slurm/final/.
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${PHASE:-}"
rescore="${RESCORE:-0}"
for arg in "$@"; do
  case "$arg" in
    public|final)
      if [ -n "$phase" ] && [ "$phase" != "$arg" ]; then
        echo "slurm/submit.sh: PHASE=$phase in the environment but '$arg' on the command line; give one of them" >&2
        exit 2
      fi
      phase="$arg" ;;
    --rescore) rescore=1 ;;
    *) echo "usage: slurm/submit.sh [public|final] [--rescore]  (not '$arg')" >&2; exit 2 ;;
  esac
done
phase="${phase:-public}"
case "$phase" in public|final) ;; *) echo "slurm/submit.sh: PHASE=$phase: public or final" >&2; exit 2 ;; esac
if [ -f .venv/bin/activate ]; then source .venv/bin/activate; fi  # what the jobs activate too
if ! found=$(command -v fercomp); then
  echo "slurm/submit.sh: no fercomp in this environment: run slurm/setup.sh first (it creates .venv/ from ci/requirements.txt)" >&2
  exit 2
fi
python="$(dirname "$(readlink -f "$found")")/python"  # fercomp's own interpreter (a venv's, conda's, pipx's)
[ -x "$python" ] || python=python3
reveal=(); [ "${REVEAL_OK:-0}" = 1 ] && reveal=(--before-reveal)
"$python" -m fercomp.slurm --phase "$phase" "${reveal[@]}" --records reports/slurm/public/records --records reports/slurm/final/records
if [ "$phase" = final ]; then
  umask 077  # sbatch passes it on: the jobs' logs and outputs are created private
  mkdir -p reports/slurm/final
  chmod -R go= reports/slurm/final  # what an earlier run left there, too
fi
mkdir -p slurm/logs "reports/slurm/$phase/records"
keep="ALL,PHASE=$phase,REVEAL_OK=${REVEAL_OK:-0},RESCORE=$rescore"
array=$(sbatch --parsable --export="$keep" slurm/score.sbatch)
array="${array%%;*}"
board=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --export="$keep" slurm/merge.sbatch)
echo "submitted scoring array $array and board job ${board%%;*} ($phase phase); squeue --me shows them;" \
  "the board will be in reports/slurm/$phase/board/"
