#!/usr/bin/env bash
# Ubuntu 24.04 (GitHub's ubuntu-latest) restricts unprivileged user namespaces through AppArmor; fercomp's
# sandbox needs them for its namespace layer (`sandbox = "required"` in fercomp.toml). Lift the
# restriction for this runner, then prove a namespace can be made.
set -euo pipefail
knob=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
if [ -e "$knob" ] && [ "$(cat "$knob")" != 0 ]; then
  sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0
fi
unshare --user --map-root-user --mount --net true
echo "user namespaces: available"
