#!/bin/sh
# RabbitMQ's entrypoint here: writes the broker's definitions (its users and their rights,
# and the events' exchanges, queues and bindings), which the node loads at every boot, then
# starts it as the image would. Each password comes from $NAME or the file in $NAME_FILE
# (production's secrets) and is stored as RabbitMQ's salted SHA-256 hash, never in plain.
#
# A publisher may write to flotilla.events and nothing else; a consumer may read its own
# queue and dead-letter queue and write to its own retry exchange (its retries and replays),
# and neither configures anything: the topology is declared here, before any client
# connects, so no event is dropped before its consumer first starts, and no service can
# delete or rebind a queue. The operator (administrator) may do everything.
set -eu

secret() {
	eval "value=\${$1:-} file=\${$1_FILE:-}"
	[ -n "$value" ] || value="$(cat "$file")"
	printf %s "$value"
}

# rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), a 4-byte salt.
password_hash() {
	salt="$(mktemp)"
	head -c 4 /dev/urandom >"$salt"
	{ cat "$salt"; printf %s "$1"; } | openssl dgst -sha256 -binary >"$salt.sum"
	cat "$salt" "$salt.sum" | base64 | tr -d '\n'
	rm -f "$salt" "$salt.sum"
}

# user NAME PASSWORD_VARIABLE TAGS CONFIGURE WRITE READ (the rights are regular expressions
# on resource names, JSON-escaped).
users='' permissions=''
user() {
	users="$users${users:+,}{\"name\":\"$1\",\"password_hash\":\"$(password_hash "$(secret "$2")")\",\
\"hashing_algorithm\":\"rabbit_password_hashing_sha256\",\"tags\":[$3]}"
	permissions="$permissions${permissions:+,}{\"user\":\"$1\",\"vhost\":\"/\",\
\"configure\":\"$4\",\"write\":\"$5\",\"read\":\"$6\"}"
}

# consumer QUEUE TYPE...: the queues and bindings flotilla.broker.declare_consumer_queues
# declares, with the same arguments (RabbitMQ refuses a declaration that differs).
queues='' bindings='' exchanges=''
quorum='"x-queue-type":"quorum"'
at_least_once='"x-dead-letter-strategy":"at-least-once","x-overflow":"reject-publish"'
queue() {
	queues="$queues,{\"name\":\"$1\",\"vhost\":\"/\",\"durable\":true,\"auto_delete\":false,\
\"arguments\":{$quorum$2}}"
}
binding() {
	bindings="$bindings${bindings:+,}{\"source\":\"$1\",\"vhost\":\"/\",\"destination\":\"$2\",\
\"destination_type\":\"queue\",\"routing_key\":\"$3\",\"arguments\":{}}"
}
exchange() {
	exchanges="$exchanges${exchanges:+,}{\"name\":\"$1\",\"vhost\":\"/\",\"type\":\"$2\",\
\"durable\":true,\"auto_delete\":false,\"internal\":false,\"arguments\":{}}"
}
consumer() {
	name="$1"
	shift
	queue "$name.dead" ""
	binding flotilla.dead "$name.dead" "$name"
	queue "$name" ",\"x-delivery-limit\":20,\"x-dead-letter-exchange\":\"flotilla.dead\",\
\"x-dead-letter-routing-key\":\"$name\",$at_least_once"
	for kind in "$@"; do binding flotilla.events "$name" "$kind"; done
	queue "$name.retry" ",\"x-dead-letter-exchange\":\"\",\"x-dead-letter-routing-key\":\"$name\",\
$at_least_once"
	exchange "$name.retry" direct
	binding "$name.retry" "$name.retry" "$name.retry"
	binding "$name.retry" "$name" "$name"
}

exchange flotilla.events topic
exchange flotilla.dead direct
# notification-service: begin
consumer notification-service user.registered order.confirmed order.cancelled order.failed
# notification-service: end

user flotilla RABBITMQ_PASSWORD '"administrator"' '.*' '.*' '.*'
# user-service: begin
user user-service RABBITMQ_USER_SERVICE_PASSWORD '' '^$' '^flotilla\\.events$' '^$'
# user-service: end
# order-service: begin
user order-service RABBITMQ_ORDER_SERVICE_PASSWORD '' '^$' '^flotilla\\.events$' '^$'
# order-service: end
# notification-service: begin
user notification-service RABBITMQ_NOTIFICATION_SERVICE_PASSWORD '' \
	'^$' '^notification-service\\.retry$' '^notification-service(\\.dead)?$'
# notification-service: end

definitions=/tmp/flotilla-definitions.json
umask 077
printf '{"vhosts":[{"name":"/"}],"users":[%s],"permissions":[%s],"exchanges":[%s],
"queues":[%s],"bindings":[%s]}\n' \
	"$users" "$permissions" "$exchanges" "${queues#,}" "$bindings" >"$definitions"
[ "$(id -u)" != 0 ] || chown rabbitmq:rabbitmq "$definitions"
# The node reads no other configuration for it: an Erlang argument, not a file in conf.d
# (read-only in production).
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-rabbit load_definitions \"$definitions\""
exec docker-entrypoint.sh "$@"
