#!/usr/bin/env bash
# pack-shard.sh PHASE RECORDS UPLOAD: leave what may be uploaded of RECORDS in UPLOAD: the records in the public
# phase, only their encrypted archive in the final phase (GRADES_PASSPHRASE, given to this step alone).
set -euo pipefail
phase="$1"; records="$2"; upload="$3"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$upload"
if [ "$phase" = final ]; then
  "$here/seal.sh" close "$records" "$upload/records.tar.gz.enc"
else
  cp "$records"/*.json "$upload"/
fi
rm -rf "$records"
