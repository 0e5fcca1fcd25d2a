#!/bin/sh
# Alertmanager's entrypoint: Alertmanager reads no environment variables, so this writes its
# configuration, then starts it. The relay comes from SMTP_URL, or the file named by
# SMTP_URL_FILE (production), read as notification-service reads it: smtp://host:port,
# smtp+starttls://user:password@host:587 or smtps://user:password@host:465. The password goes
# into a file only its user reads, never onto a command line.
set -eu
url="${SMTP_URL:-$(cat "${SMTP_URL_FILE:?SMTP_URL or SMTP_URL_FILE must be set}")}"
: "${ALERT_EMAIL_TO:?ALERT_EMAIL_TO must be set: where alerts are mailed}"

# decode TEXT: TEXT with its %XX escapes decoded (a URL's user and password).
decode() {
	printf '%s' "$1" | awk '
		function hex(c) { return index("0123456789abcdef", tolower(c)) - 1 }
		{
			while (match($0, /%[0-9A-Fa-f][0-9A-Fa-f]/)) {
				printf "%s%c", substr($0, 1, RSTART - 1), hex(substr($0, RSTART + 1, 1)) * 16 + hex(substr($0, RSTART + 2, 1))
				$0 = substr($0, RSTART + 3)
			}
			printf "%s", $0
		}'
}
# quote TEXT: TEXT as a single-quoted YAML string.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }

scheme="${url%%://*}"
rest="${url#*://}"
rest="${rest%%/*}"
user="" password=""
case "$rest" in
*@*)
	userinfo="${rest%@*}"
	rest="${rest##*@}"
	user="$(decode "${userinfo%%:*}")"
	case "$userinfo" in *:*) password="$(decode "${userinfo#*:}")" ;; esac
	;;
esac
host="${rest%:*}"
port="${rest##*:}"
[ "$port" != "$rest" ] || port=""
# Alertmanager speaks TLS from the start on port 465 only; elsewhere it may use STARTTLS.
case "$scheme" in
smtp) port="${port:-25}" starttls=false ;;
smtp+starttls) port="${port:-587}" starttls=true ;;
smtps) port="${port:-465}" starttls=false ;;
*) echo "alertmanager: SMTP_URL must start with smtp://, smtp+starttls:// or smtps://" >&2; exit 1 ;;
esac
if [ "$scheme" = smtps ] && [ "$port" != 465 ]; then
	echo "alertmanager: smtps:// works on port 465 only" >&2
	exit 1
fi

umask 077
config=/tmp/alertmanager.yml
cat >"$config" <<YAML
global:
  smtp_smarthost: $(quote "$host:$port")
  smtp_from: $(quote "${ALERT_EMAIL_FROM:-Flotilla alerts <alerts@flotilla.local>}")
  smtp_auth_username: $(quote "$user")
  smtp_auth_password: $(quote "$password")
  smtp_require_tls: $starttls
# One mail per alert and job, again every 4 hours while it lasts, and one when it resolves.
route:
  receiver: operators
  group_by: [alertname, job]
  group_wait: ${ALERT_GROUP_WAIT:-30s}
  group_interval: ${ALERT_GROUP_INTERVAL:-5m}
  repeat_interval: 4h
receivers:
  - name: operators
    email_configs:
      - to: $(quote "$ALERT_EMAIL_TO")
        send_resolved: true
YAML
# `start.sh check`: check the configuration written, and start nothing (make lint).
[ "${1:-}" != check ] || exec amtool check-config "$config"
# One instance: no cluster port.
exec alertmanager --config.file="$config" --storage.path=/alertmanager --cluster.listen-address= "$@"
