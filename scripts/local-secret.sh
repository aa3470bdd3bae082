#!/usr/bin/env bash
# Print a local secret, generating it once: for the demo, `make worker` and local Redis.
#
#   scripts/local-secret.sh NAME      (NAME: digest-key, redis-password)
#
# Kept in .cache/secrets/NAME (mode 600) so every local run of this clone uses the same
# value; a production deployment sets its own (IRL_DIGEST_KEY, the password in IRL_REDIS_URL).
# Settings: IRL_SECRETS_DIR (.cache/secrets).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME="${1:?usage: $0 NAME}"
[[ "$NAME" =~ ^[a-z0-9-]+$ ]] || { echo "local-secret: bad name $NAME" >&2; exit 2; }
DIR="${IRL_SECRETS_DIR:-$ROOT/.cache/secrets}"
FILE="$DIR/$NAME"
if [[ ! -s "$FILE" ]]; then
  umask 077
  mkdir -p "$DIR"
  # 32 random bytes as 64 hex digits: no character a URL or a shell would need to quote.
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$FILE.tmp"
  mv "$FILE.tmp" "$FILE"
fi
cat "$FILE"
