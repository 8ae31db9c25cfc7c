#!/usr/bin/env bash
# Entrypoint of the PostgreSQL test image, doing what the official image's
# docker-entrypoint.sh does (https://github.com/docker-library/postgres):
#   * as root: own $PGDATA, then re-run itself as the postgres user;
#   * on an empty $PGDATA: initdb with POSTGRES_USER / POSTGRES_PASSWORD,
#     create POSTGRES_DB, allow password logins from anywhere
#     (POSTGRES_HOST_AUTH_METHOD, scram-sha-256 by default), then run
#     /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz on a socket-only server;
#   * finally exec the command it was given (`postgres -c ...`).
# A data directory that already holds a cluster (a restart, or a standby made
# by pg_basebackup -R) is started as it is.
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	chmod 3777 /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

run_init_files() {
	local file
	for file in /docker-entrypoint-initdb.d/*; do
		case "$file" in
			*.sh)
				if [ -x "$file" ]; then
					echo "$0: running $file"; "$file"
				else
					echo "$0: sourcing $file"; . "$file"
				fi ;;
			*.sql) echo "$0: running $file"; psql_init -f "$file" ;;
			*.sql.gz) echo "$0: running $file"; gunzip -c "$file" | psql_init ;;
			*.sql.xz) echo "$0: running $file"; xzcat "$file" | psql_init ;;
			*) if [ -e "$file" ]; then echo "$0: ignoring $file"; fi ;;
		esac
	done
}

psql_init() {
	psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" "$@"
}

if [ "$1" = 'postgres' ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_USER:=postgres}"
	: "${POSTGRES_DB:=$POSTGRES_USER}"
	auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != 'trust' ]; then
		echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
		echo "       set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
		exit 1
	fi
	# The password reaches initdb through a pipe, never a command line.
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--encoding=UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS
	printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
	export PGUSER="$POSTGRES_USER" PGHOST=/var/run/postgresql
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname postgres \
			--set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
	run_init_files
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGUSER PGHOST
	echo "$0: PostgreSQL init process complete; ready for start up."
fi

exec "$@"
