#!/usr/bin/env bash
# seal.sh close DIR FILE: tar and encrypt DIR into FILE with the GRADES_PASSPHRASE secret, so the final
# phase's records and board can travel as artifacts, which every reader of the repository can download.
# seal.sh open FILE DIR: the reverse (the instructor, locally: GRADES_PASSPHRASE=… ci/seal.sh open board.tar.gz.enc board).
set -euo pipefail
: "${GRADES_PASSPHRASE:?set the repository secret GRADES_PASSPHRASE: the final phase encrypts its outputs}"
case "$1" in
  close) tar -C "$2" -czf - . | openssl enc -aes-256-cbc -pbkdf2 -salt -pass env:GRADES_PASSPHRASE -out "$3" ;;
  open) mkdir -p "$3"; openssl enc -d -aes-256-cbc -pbkdf2 -pass env:GRADES_PASSPHRASE -in "$2" | tar -C "$3" -xzf - ;;
  *) echo "usage: seal.sh close DIR FILE | seal.sh open FILE DIR" >&2; exit 2 ;;
esac
