#!/usr/bin/env bash
# slurm/submit.sh [public|final]: submit the scoring array, then the merge as a job that starts when every
# array task has ended well (afterok). The scheduler does the queueing; nothing here waits or polls.
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-public}"
mkdir -p slurm/logs
array=$(sbatch --parsable --export=ALL,PHASE="$phase" slurm/score.sbatch)
array="${array%%;*}"
board=$(sbatch --parsable --dependency="afterok:$array" --export=ALL,PHASE="$phase" slurm/merge.sbatch)
echo "submitted scoring array $array and board job ${board%%;*} ($phase phase); squeue --me shows them"
