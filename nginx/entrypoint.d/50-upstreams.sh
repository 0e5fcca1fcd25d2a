#!/bin/sh
# Run by the nginx image's entrypoint before NGINX starts (official images, alpine and
# debian). Writes upstreams.inc: the upstream blocks server.inc proxies to, each with the
# addresses its name has now and a pool of idle connections kept open between requests.
# NGINX resolves an upstream's names only when it loads its configuration, so a loop started
# here resolves them again every NGINX_UPSTREAM_RESOLVE_SECONDS (5) and, when they change (a
# container restarted with a new address, a replica more or fewer), rewrites the file and
# reloads NGINX, which is graceful. This works on NGINX 1.22 and later alike (`server ...
# resolve` needs 1.27.3). A name that has no address keeps its last known ones (a stopped
# container, a DNS hiccup); with none known yet, a server that refuses at once stands in:
# NGINX starts, and answers 502 until the name resolves.
set -eu

dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
every="${NGINX_UPSTREAM_RESOLVE_SECONDS:-5}"
case "$every" in
'' | *[!0-9]* | 0)
	echo "$0: NGINX_UPSTREAM_RESOLVE_SECONDS must be a whole number of seconds, got '$every'" >&2
	exit 1
	;;
esac

# Each upstream: its name in server.inc, host, port, idle connections kept per NGINX worker.
upstreams() {
	echo "api_gateway api-gateway 8000 32"
	# storefront: begin
	echo "storefront storefront 8000 8"
	# storefront: end
}

# render: every upstream block, from the addresses each host has now, else from the blocks
# rendered last (upstreams.inc itself).
render() {
	upstreams | while read -r name host port keepalive; do
		# ahostsv4, not hosts: Alpine's getent prints only the first address of a host.
		servers=$(getent ahostsv4 "$host" | sort -u -k1,1 |
			awk -v port="$port" '{print "    server " $1 ":" port ";"}') || true
		if [ -z "$servers" ] && [ -f "$dir/upstreams.inc" ]; then
			servers=$(awk -v name="$name" '$1 == "upstream" {on = $2 == name}
				on && $1 == "server"' "$dir/upstreams.inc")
		fi
		echo "upstream $name {"
		echo "${servers:-    server 127.0.0.1:1; # $host has no address yet}"
		echo "    keepalive $keepalive;"
		echo "}"
	done
}

# summary: "name address ..." per upstream, on one line, for the log.
summary() {
	awk '/^upstream/ {printf "%s%s", sep, $2; sep = "; "}
		/server/ {sub(";", "", $2); printf " %s", $2} END {print ""}' "$dir/upstreams.inc"
}

# update: render the blocks anew; true when they changed (then upstreams.inc holds them).
update() {
	render >"$dir/upstreams.inc.new"
	if cmp -s "$dir/upstreams.inc.new" "$dir/upstreams.inc"; then
		rm -f "$dir/upstreams.inc.new"
		return 1
	fi
	mv "$dir/upstreams.inc.new" "$dir/upstreams.inc"
}

mkdir -p "$dir"
update || true # unchanged: the blocks of an earlier start are the same
echo "$0: upstreams: $(summary)"

follow() {
	set +e # a round that fails is tried again the next time
	while sleep "$every"; do
		if update; then
			echo "$0: new upstream addresses, reloading NGINX: $(summary)" >&2
			kill -HUP 1 # NGINX's master, exec'd by the entrypoint (or the init that forwards it)
		fi
	done
}
follow &
