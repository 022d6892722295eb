#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu 22.04, CPU only).
# It installs CPU-only torch and the pinned fercomp (requirements.txt, from ci/requirements.txt) into
# /opt/fercomp: outside /autograder, so the jail binds the environment read-only and none of the course's files.
set -euo pipefail
cd /autograder/source
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3-venv python3-pip >/dev/null
python3 -m venv /opt/fercomp
/opt/fercomp/bin/python -m pip install --quiet --no-cache-dir --upgrade pip
# The CPU wheels first (about 200 MB instead of CUDA's 2 GB), so fercomp's own torch requirement is already met.
/opt/fercomp/bin/python -m pip install --quiet --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch torchvision
# Pinned to what is installed: a torchvision resolved from PyPI would otherwise bring a CUDA torch (+3 GB).
/opt/fercomp/bin/python -m pip freeze | grep -E '^(torch|torchvision)==' > /tmp/fercomp-torch.txt
/opt/fercomp/bin/python -m pip install --quiet --no-cache-dir -c /tmp/fercomp-torch.txt -r requirements.txt
# Only root may read the autograder: the data, the baseline's record, the course's settings.
chmod -R go-rwx /autograder/source
# Say in the build log whether this image can jail a hand-in; run_autograder never runs one unjailed.
/opt/fercomp/bin/python -m fercomp.submission.jail || echo "fercomp: hand-ins will not run until the jail can start (see the fercomp README)"
