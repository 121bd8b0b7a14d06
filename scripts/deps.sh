#!/usr/bin/env bash
# Installs what mtreplica's tests and demo need on a fresh Debian/Ubuntu machine:
# MariaDB server and client, and sysbench. Does nothing when they are present.
set -euo pipefail
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v mariadb-binlog >/dev/null 2>&1 || need+=(mariadb-client)
command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "mtreplica needs: ${need[*]}" >&2
  echo "install them with:  sudo apt-get update && sudo apt-get install -y mariadb-server mariadb-client sysbench" >&2
  exit 1
fi
echo "installing ${need[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq mariadb-server mariadb-client sysbench >/dev/null
# The packaged server is not needed as a service: tests start their own.
if command -v service >/dev/null 2>&1; then service mariadb stop >/dev/null 2>&1 || true; fi
