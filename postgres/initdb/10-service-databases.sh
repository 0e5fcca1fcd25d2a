#!/usr/bin/env bash
# Runs once, when the data volume is first initialised (official postgres image contract).
# One database and one login role per service. A role owns its database and nothing else:
# no superuser, no CREATEDB/CREATEROLE, and no other role may connect to its database.
# The databases are the ones whose password postgres is given: <NAME>_DB_PASSWORD (or
# <NAME>_DB_PASSWORD_FILE) in its environment makes the database and role <name>.
set -euo pipefail

# secret NAME: $NAME, else the contents of the file named by $NAME_FILE (Docker secrets).
secret() {
	local var="$1" file_var="${1}_FILE"
	if [ -n "${!file_var:-}" ]; then
		cat "${!file_var}"
	elif [ -n "${!var:-}" ]; then
		printf '%s' "${!var}"
	else
		echo "init: $var or $file_var must be set" >&2
		exit 1
	fi
}

create_service_database() {
	local name="$1" password
	password="$(secret "$2")"
	psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --no-psqlrc \
		--set name="$name" --set password="$password" <<-'SQL'
		CREATE ROLE :"name" LOGIN PASSWORD :'password'
		    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
		CREATE DATABASE :"name" OWNER :"name";
		REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
		GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
	SQL
	echo "init: created database and role $name"
}

for variable in $(compgen -e | sed -nE 's/^([A-Z0-9_]+)_DB_PASSWORD(_FILE)?$/\1/p' | sort -u); do
	create_service_database "${variable,,}" "${variable}_DB_PASSWORD"
done
