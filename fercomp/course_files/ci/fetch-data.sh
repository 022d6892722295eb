#!/usr/bin/env bash
# Download the competition data from a private link (the FER_DATA_URL secret) to DEST, atomically;
# with FER_DATA_SHA256 set, refuse a file with another hash.
set -euo pipefail
dest="${1:-data/fer2013.csv}"
: "${FER_DATA_URL:?set the repository secret FER_DATA_URL to a private download link of fer2013.csv}"
mkdir -p "$(dirname "$dest")"
curl -sSfL --retry 3 "$FER_DATA_URL" -o "$dest.part"
if [ -n "${FER_DATA_SHA256:-}" ]; then
  echo "$FER_DATA_SHA256  $dest.part" | sha256sum --check --quiet
fi
mv "$dest.part" "$dest"
echo "data: $dest ($(wc -c < "$dest") bytes)"
# The private supplement ([competition] private_supplement), when the FER_SUPPLEMENT_URL secret links to it.
if [ -n "${FER_SUPPLEMENT_URL:-}" ]; then
  supplement="${2:-data/supplement.csv}"
  mkdir -p "$(dirname "$supplement")"
  curl -sSfL --retry 3 "$FER_SUPPLEMENT_URL" -o "$supplement.part"
  mv "$supplement.part" "$supplement"
  echo "supplement: $supplement ($(wc -c < "$supplement") bytes)"
fi
