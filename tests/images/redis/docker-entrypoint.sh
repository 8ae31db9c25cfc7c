#!/usr/bin/env bash
# Entrypoint of the Redis test image, doing what the official image's does
# (https://github.com/docker-library/redis): `redis-server ARGS` runs as the
# redis user in /data, with protected mode off unless a config file or the
# arguments say otherwise (other containers must reach it).
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = 'redis-server' ]; then
	case " $* " in
		*" --protected-mode "*|*".conf "*) ;;
		*) set -- "$@" --protected-mode no ;;
	esac
fi

umask 0077
exec "$@"
