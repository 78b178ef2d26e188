# Helpers for the control-plane tests (sourced after functions.sh):
# starting `rehost server`, creating keys, and running the request/answer
# data files tests/data/api/*.api (curl tests/data style).
#
# A .api file is a list of exchanges:
#
#   # comment
#   POST /v1/tasks                      method and path (${VAR} expanded)
#   {"source_id": "${SOURCE}"}          optional body, up to the "=>" line
#   => 400                              expected HTTP status
#   ~ "code":"MSG.target-disk-count"    each "~ RE" must match the answer
#   !~ RE                               must not match
#   $TASK = .id                         capture a jq path into ${TASK}
#
# Every answer is also checked against the OpenAPI description
# docs/openapi.json (tests/data/api/openapi_check.py): its status must be
# documented for the route and its body must match the schema.
#
# Exchanges are separated by blank lines. Variables persist across files
# run by the same test, so later files can use what earlier ones captured.

API_DIR=${REHOST_SRCDIR}/tests/data/api
: "${PYTHON:=python3}" # set by functions.sh; plain python3 otherwise

# server_keys STATE DB TENANT: create an access key; sets AK and SK.
server_keys() {
	local out
	out=$("$REHOST" server keys create --state-dir "$1" --db "$2" --tenant "$3" --json)
	AK=$(jq -r .access_key <<<"$out")
	SK=$(jq -r .secret_key <<<"$out")
}

# server_start NAME STATE DB [ARGS...]: start a server on a private port;
# sets PORT and URL. The server is stopped at exit.
server_start() {
	local name=$1 state=$2 db=$3
	shift 3
	rm -f "$T/$name.port"
	PORT=$(start_daemon "$name" "$T/$name.port" "$REHOST" server --listen 127.0.0.1:0 \
		--port-file "$T/$name.port" --state-dir "$state" --db "$db" "$@")
	URL=https://127.0.0.1:$PORT
}

# ctl ARGS...: rehost ctl against $URL with $AK/$SK and the server's certificate.
ctl() {
	REHOST_URL=$URL REHOST_AK=$AK REHOST_SK=$SK REHOST_CACERT=$CACERT "$REHOST" ctl "$@"
}

_expand() {
	local s=$1 name
	while [[ $s =~ \$\{([A-Z_][A-Z0-9_]*)\} ]]; do
		name=${BASH_REMATCH[1]}
		s=${s//\$\{$name\}/${!name-}}
	done
	printf '%s' "$s"
}

# _exchange FILE LINE METHOD PATH BODY STATUS CHECKS...
_exchange() {
	local file=$1 line=$2 method=$3 path=$4 body=$5 want=$6 got rc=0 c re var jq
	shift 6
	if [ -n "$body" ]; then
		ctl raw "$method" "$path" --data "$body" >"$T/api.out" 2>"$T/api.err" || rc=$?
	else
		ctl raw "$method" "$path" >"$T/api.out" 2>"$T/api.err" || rc=$?
	fi
	got=$(sed -n 's/^HTTP \([0-9]*\)$/\1/p' "$T/api.err" | tail -1)
	if [ "$got" != "$want" ]; then
		echo "--- answer" >&2; cat "$T/api.out" "$T/api.err" >&2
		fail "$(basename "$file"):$line: $method $path: HTTP ${got:-none}, expected $want"
	fi
	"$PYTHON" "$API_DIR/openapi_check.py" "$REHOST_SRCDIR/docs/openapi.json" "$method" "$path" \
		"$got" "$T/api.out" || fail "$(basename "$file"):$line: $method $path: see above"
	for c in "$@"; do
		case "$c" in
		'~ '*)
			re=${c#\~ }
			grep -qE -- "$re" "$T/api.out" || {
				cat "$T/api.out" >&2
				fail "$(basename "$file"):$line: $method $path: answer does not match /$re/"
			} ;;
		'!~ '*)
			re=${c#\!\~ }
			if grep -qE -- "$re" "$T/api.out"; then
				cat "$T/api.out" >&2
				fail "$(basename "$file"):$line: $method $path: answer matches /$re/"
			fi ;;
		'$'*)
			var=${c%% =*}; var=${var#\$}; jq=${c#*= }
			printf -v "$var" '%s' "$(jq -r "$jq" "$T/api.out")"
			export "${var?}" ;;
		esac
	done
}

# api_check METHOD PATH STATUS FILE: the answer in FILE must match the
# OpenAPI description (for answers not from data files, e.g. 401s).
api_check() {
	"$PYTHON" "$API_DIR/openapi_check.py" "$REHOST_SRCDIR/docs/openapi.json" "$@" ||
		fail "$1 $2: answer $3 does not match docs/openapi.json"
}

# api_run FILE...: run data files with the Python client (one process,
# one kept-alive connection: fast); captured variables come back here.
api_run() {
	"$PYTHON" "$API_DIR/signclient.py" "$URL" "$CACERT" "$AK" "$SK" api "$T/api.vars" "$@" ||
		fail "API data files failed"
	. "$T/api.vars"
}

# api_run_ctl FILE...: the same through `rehost ctl raw`, one process per
# request (slower; proves the C client).
api_run_ctl() {
	local file n line method path body want checks mode
	for file in "$@"; do
		n=0 mode=idle checks=() body="" want=""
		while IFS= read -r line || [ -n "$line" ]; do
			n=$((n + 1))
			[[ $line =~ ^# ]] && continue
			if [ -z "$line" ]; then
				if [ "$mode" = checks ]; then
					_exchange "$file" "$start" "$method" "$path" "$body" "$want" "${checks[@]}"
					mode=idle checks=() body=""
				fi
				continue
			fi
			line=$(_expand "$line")
			case $mode in
			idle)
				method=${line%% *} path=${line#* } start=$n mode=body body="" ;;
			body)
				if [[ $line =~ ^=\>\ ([0-9]+)$ ]]; then
					want=${BASH_REMATCH[1]} mode=checks
				else
					body+=$line$'\n'
				fi ;;
			checks)
				checks+=("$line") ;;
			esac
		done <"$file"
		if [ "$mode" = checks ]; then
			_exchange "$file" "$start" "$method" "$path" "$body" "$want" "${checks[@]}"
		elif [ "$mode" != idle ]; then
			fail "$(basename "$file"):$start: exchange without '=> STATUS'"
		fi
	done
}
