#!/usr/bin/env bash
# Backups of the whole PostgreSQL server, from PostgreSQL's own image (the `backup` service;
# docs/production.md, "Backups and restore"):
#   flotilla-backup once       one backup into BACKUPS, then keep the newest BACKUP_KEEP (7)
#   flotilla-backup schedule   one now, then one every BACKUP_INTERVAL_SECONDS (86400)
#   flotilla-backup healthy    exit 0 if the schedule's last backup is recent enough
# pg_basebackup copies every database at one instant, with the WAL that makes the copy
# consistent: an order and the stock it took are both in a backup or neither is. (Dumps of
# one database after another are not, and a snapshot cannot be shared across databases.)
# A backup is a directory named by its UTC time: base.tar.gz and pg_wal.tar.gz (the server),
# backup_manifest (pg_basebackup's) and MANIFEST: format, time, version, databases and
# their sizes, each file's size and sha256, and last the sha256 of the lines above it.
set -euo pipefail

BACKUPS=/var/lib/postgresql/backups
SUCCEEDED=/tmp/flotilla-backup.succeeded
export PGHOST="${PGHOST:-postgres}" PGUSER=backup PGDATABASE=postgres

# libpq reads the password from a file that only this user can read, written from the
# secret file: never on a command line or in the environment (ps, docker inspect).
write_pgpass() {
	local password
	password="$(cat "$BACKUP_PASSWORD_FILE")"
	password="${password//\\/\\\\}"
	(umask 077 && printf '*:*:*:%s:%s\n' "$PGUSER" "${password//:/\\:}" >/tmp/pgpass)
	export PGPASSFILE=/tmp/pgpass
}

backup() {
	local name partial databases version body
	name="$(date -u +%Y%m%dT%H%M%SZ)"
	partial="$BACKUPS/.$name.partial"
	mkdir -p "$BACKUPS"
	rm -rf "$BACKUPS"/.*.partial # what a killed run left
	# Listed just before the copy starts: every database the server has, with its size.
	databases="$(psql -X -A -t -F ' ' -c 'SELECT datname, pg_database_size(oid)
		FROM pg_database WHERE NOT datistemplate ORDER BY datname')"
	version="$(psql -X -A -t -c "SELECT split_part(current_setting('server_version'), ' ', 1)")"
	pg_basebackup --pgdata="$partial" --format=tar --gzip --wal-method=stream \
		--checkpoint=fast --label="flotilla $name" --no-password
	body="$(
		echo "flotilla-backup 1"
		echo "created $name"
		echo "postgresql $version"
		sed 's/^/database /' <<<"$databases"
		cd "$partial"
		for file in *; do
			echo "file $(sha256sum "$file" | cut -d' ' -f1) $(wc -c <"$file") $file"
		done
	)"
	printf '%s\nmanifest-sha256 %s\n' "$body" "$(printf '%s\n' "$body" | sha256sum | cut -d' ' -f1)" \
		>"$partial/MANIFEST"
	mv "$partial" "$BACKUPS/$name"
	echo "backup: $BACKUPS/$name, PostgreSQL $version, $(du -sh "$BACKUPS/$name" | cut -f1)"
	prune
}

# Only directories this script made (named by a time) count; the newest BACKUP_KEEP stay.
prune() {
	local keep="${BACKUP_KEEP:-7}" old
	[ "$keep" -ge 1 ] || { echo "backup: BACKUP_KEEP must be at least 1" >&2; return 1; }
	find "$BACKUPS" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*T[0-9]*Z' | sort -r |
		tail -n +$((keep + 1)) | while read -r old; do
		rm -rf "$old"
		echo "backup: removed $old (BACKUP_KEEP=$keep)"
	done
}

# One backup now, then every interval; a failure (PostgreSQL not up yet, or stopped for a
# restore) is retried soon. SIGTERM ends the wait at once.
schedule() {
	local every="${BACKUP_INTERVAL_SECONDS:-86400}"
	trap 'exit 0' TERM INT
	while :; do
		# A child process: errexit inside a function called from `if` would be off.
		if "$0" once; then
			touch "$SUCCEEDED"
			sleep "$every" &
		else
			echo "backup: failed; trying again in 10 s" >&2
			sleep 10 &
		fi
		wait $!
	done
}

# Healthy while the last success is younger than the interval plus an hour.
healthy() {
	local every="${BACKUP_INTERVAL_SECONDS:-86400}"
	[ -f "$SUCCEEDED" ] && [ $(($(date +%s) - $(stat -c %Y "$SUCCEEDED"))) -lt $((every + 3600)) ]
}

case "${1:-}" in
once) write_pgpass && backup ;;
schedule) schedule ;;
healthy) healthy ;;
*)
	echo "usage: $0 once | schedule | healthy" >&2
	exit 2
	;;
esac
