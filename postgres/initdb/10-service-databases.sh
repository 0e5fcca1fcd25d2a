#!/usr/bin/env bash
# Runs once, when the data volume is first initialised (official postgres image contract).
# One database and one login role per service. A role owns its database and nothing else:
# no superuser, no CREATEDB/CREATEROLE, and no other role may connect to its database.
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

create_service_database users USERS_DB_PASSWORD
create_service_database products PRODUCTS_DB_PASSWORD
create_service_database orders ORDERS_DB_PASSWORD
create_service_database notifications NOTIFICATIONS_DB_PASSWORD
