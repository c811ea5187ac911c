#!/bin/sh
# Prepares Helios's metrics bucket in this DC's MinIO, idempotently (run after every install and upgrade):
# the bucket with versioning (replication needs it) and no anonymous access, a Thanos user whose policy
# reaches that bucket only, and, with peer sites (multi-dc-minio), site replication between the DCs —
# added only when the current replication state lacks a peer.
# Env: MINIO_URL, ROOT_USER, ROOT_PASSWORD, BUCKET, THANOS_ACCESS_KEY, THANOS_SECRET_KEY,
#      SITES ("name=url ..."), and for each site SITE_<NAME>_USER / SITE_<NAME>_PASSWORD.
set -eu
mc() { command mc --quiet "$@"; }
mc alias set local "$MINIO_URL" "$ROOT_USER" "$ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$BUCKET"
mc version enable "local/$BUCKET"
mc anonymous set none "local/$BUCKET"
policy=/tmp/helios-thanos-policy.json
cat > "$policy" <<JSON
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
  "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"],
  "Resource": ["arn:aws:s3:::$BUCKET", "arn:aws:s3:::$BUCKET/*"]}]}
JSON
mc admin policy create local helios-thanos "$policy"
mc admin user add local "$THANOS_ACCESS_KEY" "$THANOS_SECRET_KEY"
if ! mc admin user info local "$THANOS_ACCESS_KEY" | grep -q 'helios-thanos'; then
  mc admin policy attach local helios-thanos --user "$THANOS_ACCESS_KEY"
fi
[ -n "${SITES:-}" ] || exit 0
state=$(mc admin replicate info local --json || true)
missing=""
for site in $SITES; do
  name=${site%%=*}
  url=${site#*=}
  upper=$(echo "$name" | tr 'a-z-' 'A-Z_')
  eval "user=\${SITE_${upper}_USER}; password=\${SITE_${upper}_PASSWORD}"
  mc alias set "$name" "$url" "$user" "$password" >/dev/null
  case "$state" in
    *"\"endpoint\":\"$url\""*|*"\"endpoint\": \"$url\""*) echo "site replication: $name already joined" ;;
    *) missing="$missing $name" ;;
  esac
done
if [ -n "$missing" ]; then
  echo "site replication: adding$missing"
  mc admin replicate add local $missing
fi
