#!/bin/sh
# Run by the nginx image's entrypoint before NGINX starts (official images, alpine and
# debian). Writes NGINX_TRUSTED_PROXIES (addresses or CIDRs, separated by commas or
# spaces; empty by default: trust nobody) as set_real_ip_from lines for the server block.
set -eu
set -f # a list item is never a file pattern

# Next to the rendered templates (production renders them to /tmp: a read-only root).
output="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}/trusted-proxies.inc"
mkdir -p "$(dirname "$output")"
proxies=$(printf '%s\n' "${NGINX_TRUSTED_PROXIES:-}" | tr ',' ' ')
{
	echo "# Written by $0 from NGINX_TRUSTED_PROXIES at start-up."
	for proxy in $proxies; do
		# Addresses only (no names, no ';'), so the value cannot add other directives.
		case "$proxy" in
		*[!0-9A-Fa-f.:/]* | */*/*)
			echo "$0: NGINX_TRUSTED_PROXIES: '$proxy' is not an address or CIDR" >&2
			exit 1
			;;
		esac
		echo "set_real_ip_from $proxy;"
	done
} >"$output.tmp"
mv "$output.tmp" "$output"
echo "$0: trusted proxies:" ${proxies:-none}
