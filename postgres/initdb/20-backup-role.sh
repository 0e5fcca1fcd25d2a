#!/usr/bin/env bash
# The role of backups (postgres/backup.sh, docs/production.md "Backups and restore"):
# REPLICATION lets it copy the whole server with pg_basebackup and nothing more (it logs in
# to no service database); pg_read_all_stats lets the manifest list each database's size.
# Its password comes from the file named by BACKUP_PASSWORD_FILE, read by psql itself, so it
# is on no command line. Runs at the first start, and by hand on a data volume made before
# backups existed (idempotent):
#   docker compose exec -u postgres postgres /docker-entrypoint-initdb.d/20-backup-role.sh
set -euo pipefail

if [ -z "${BACKUP_PASSWORD_FILE:-}" ]; then
	echo "init: no BACKUP_PASSWORD_FILE, so no backup role"
	exit 0
fi

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres --no-psqlrc \
	--quiet <<-'SQL'
	\set password `cat "$BACKUP_PASSWORD_FILE"`
	SET client_min_messages = warning;
	SELECT 'CREATE ROLE backup' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'backup')
	\gexec
	ALTER ROLE backup LOGIN REPLICATION PASSWORD :'password'
	    NOSUPERUSER NOCREATEDB NOCREATEROLE;
	GRANT pg_read_all_stats TO backup;
SQL

# Replication connections match no "all" line of pg_hba.conf: the backup role gets its own.
hba="$PGDATA/pg_hba.conf"
if ! grep -q '^host replication backup ' "$hba"; then
	printf 'host replication backup all scram-sha-256\n' >>"$hba"
	psql --username "${POSTGRES_USER:-postgres}" --dbname postgres --no-psqlrc --quiet \
		--command 'SELECT pg_reload_conf()' >/dev/null
fi
echo "init: backup role ready"
