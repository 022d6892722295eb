#!/usr/bin/env bash
# slurm/setup.sh: the first step on a cluster. Creates .venv/ in the course folder (which the jobs activate) with
# fercomp as ci/requirements.txt pins it, and proves it works here. Run it once on the login node, in a folder the
# compute nodes see; PYTHON=python3.11 picks the interpreter (load its module first where the cluster uses them).
set -euo pipefail
cd "$(dirname "$0")/.."
"${PYTHON:-python3}" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
@TORCH_LINE@
.venv/bin/python -m pip install --quiet -r ci/requirements.txt
.venv/bin/fercomp --version
# The jail needs unprivileged user namespaces on the node that runs the job: the login node's answer is a hint, the
# compute nodes' is the one that counts (srun .venv/bin/python -m fercomp.submission.jail asks one of them).
.venv/bin/python -m fercomp.submission.jail || echo "setup.sh: @NO_JAIL@" >&2
echo "setup.sh: .venv/ is ready; next: slurm/submit.sh public"
