#!/usr/bin/env bash
# Ubuntu 24.04 (GitHub's ubuntu-latest) restricts unprivileged user namespaces through AppArmor; fercomp's
# jail (nsjail) needs them (`sandbox = "required"` in fercomp.toml). Lift the restriction for this runner,
# then prove the jail starts (python -m fercomp.submission.jail says why when it cannot).
set -euo pipefail
knob=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
if [ -e "$knob" ] && [ "$(cat "$knob")" != 0 ]; then
  sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0
fi
python -m fercomp.submission.jail
