#!/usr/bin/env bash
# Throwaway PostgreSQL and MariaDB servers on 127.0.0.1 for the project's tests.
#
#   scripts/db-servers.sh start    start both (no-op for a server already running)
#   scripts/db-servers.sh stop     stop both and delete their runtime data (templates are kept)
#   scripts/db-servers.sh status   show state; exit 0 only if both are running
#   scripts/db-servers.sh env      print `export WRAPPER_*=...` lines; use: eval "$(scripts/db-servers.sh env)"
#   scripts/db-servers.sh clean    stop, then delete the whole state directory including templates
#
# Settings (environment): WRAPPER_PG_PORT (55432), WRAPPER_MYSQL_PORT (53306),
# WRAPPER_DB_DIR (/tmp/swift-wrapper-dbs), WRAPPER_PG_BIN (newest /usr/lib/postgresql/*/bin).
#
# Test credentials in both servers: user `wrapper`, password `wrapper_pw`, database `wrapper_test`,
# password authentication over TCP. The script itself uses the superusers over unix sockets in the
# state directory (postgres: trust; MariaDB root: empty password).
#
# Data is disposable: every start copies a freshly initialised template datadir (made once, then
# reused) and runs with durability switched off, so nothing survives `stop`.
#
# TLS: both servers accept TLS and plain TCP on the same port. `start` creates, once, a throwaway CA
# and a server certificate it signs (CN=localhost, SAN DNS:localhost + IP:127.0.0.1) in $DIR/tls;
# like the templates they survive `stop` and are removed by `clean`. The CA certificate's path is
# printed by `env` as WRAPPER_TLS_CA (for sslmode=verify-full / --ssl-verify-server-cert).
set -euo pipefail

PG_PORT=${WRAPPER_PG_PORT:-55432}
MY_PORT=${WRAPPER_MYSQL_PORT:-53306}
DB_DIR=$(realpath -m "${WRAPPER_DB_DIR:-/tmp/swift-wrapper-dbs}")
TEST_USER=wrapper
TEST_PASSWORD=wrapper_pw
TEST_DB=wrapper_test

# Bump when the template recipe below changes, so old templates are rebuilt.
TEMPLATE_REV=1

TPL_DIR=$DB_DIR/templates
PG_RUN=$DB_DIR/pg            # runtime: data/, server.log, unix socket
PG_DATA=$PG_RUN/data
PG_LOG=$PG_RUN/server.log
MY_RUN=$DB_DIR/mysql         # runtime: data/, error.log, socket, pid file
MY_DATA=$MY_RUN/data
MY_LOG=$MY_RUN/error.log
MY_SOCK=$MY_RUN/mysql.sock
MY_PID=$MY_RUN/mariadbd.pid
TLS_DIR=$DB_DIR/tls          # kept across restarts: CA and server certificate
TLS_CA=$TLS_DIR/ca.crt
TLS_CA_KEY=$TLS_DIR/ca.key
TLS_CERT=$TLS_DIR/server.crt
TLS_KEY=$TLS_DIR/server.key

START_TIMEOUT=30

log() { echo "db-servers: $*"; }
die() { echo "db-servers: error: $*" >&2; exit 1; }

find_pg_bin() {
    if [[ -n ${WRAPPER_PG_BIN:-} ]]; then
        echo "$WRAPPER_PG_BIN"
        return
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n $d && -x $d/initdb ]] || die "PostgreSQL server binaries not found; run scripts/install-prerequisites.sh"
    echo "$d"
}

# initdb/postgres refuse to run as root, so as root run them as the `postgres` OS user.
if [[ ${EUID} -eq 0 ]]; then
    AS_PG=(runuser -u postgres --)
    MY_USER_OPT=(--user=root)   # mariadbd refuses root unless told explicitly
else
    AS_PG=()
    MY_USER_OPT=()
fi

# Never read /etc/mysql/*.cnf: the system server's config must not leak into these instances.
MY_CLIENT=(mariadb --no-defaults)
MY_ADMIN=(mariadb-admin --no-defaults)

tail_log() {
    local f=$1
    if [[ -f $f ]]; then
        echo "----- last lines of $f -----" >&2
        tail -n 40 "$f" >&2 || true
        echo "-----" >&2
    fi
}

# A zombie (exited, not yet reaped by init) counts as gone.
pid_alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# ---------------------------------------------------------------- TLS

ensure_openssl() {
    command -v openssl >/dev/null && return
    if [[ ${EUID} -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing openssl"
        {
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl ||
                { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
                  DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl; }
        } >"$DB_DIR/openssl-install.log" 2>&1 9>&- || { tail_log "$DB_DIR/openssl-install.log"; die "could not install openssl"; }
    fi
    command -v openssl >/dev/null || die "openssl not found (install the openssl package)"
}

# True if the CA and server files exist, the server cert chains to the CA, matches the key, and
# neither expires within 30 days.
tls_valid() {
    local f
    for f in "$TLS_CA" "$TLS_CA_KEY" "$TLS_CERT" "$TLS_KEY"; do [[ -s $f ]] || return 1; done
    openssl x509 -in "$TLS_CA" -noout -checkend 2592000 >/dev/null 2>&1 || return 1
    openssl x509 -in "$TLS_CERT" -noout -checkend 2592000 >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$TLS_CA" "$TLS_CERT" >/dev/null 2>&1 || return 1
    [[ $(openssl x509 -in "$TLS_CERT" -noout -pubkey 2>/dev/null) == \
       $(openssl pkey -in "$TLS_KEY" -pubout 2>/dev/null) ]]
}

# Both servers read the one key file. PostgreSQL (running as `postgres` when we are root) accepts a
# key owned by itself with mode 0600, or owned by root with mode 0640 or less: so root:postgres 0640.
tls_set_key_owner() {
    if [[ ${EUID} -eq 0 ]]; then
        chown root:postgres "$1"
        chmod 640 "$1"
    else
        chmod 600 "$1"
    fi
}

tls_make() {
    tls_valid && return
    ensure_openssl
    log "creating throwaway TLS CA and server certificate in $TLS_DIR"
    local tmp=$DB_DIR/tls.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp"
    chmod 755 "$tmp"
    # -e must be off out here: in a subshell whose status is tested (`( ... ) || x`), bash would
    # ignore the subshell's own `set -e`.
    local rc
    set +e
    (
        set -e
        umask 077
        cd "$tmp"
        # Keep a still-valid CA (clients may already trust it); otherwise make a new one.
        if [[ -s $TLS_CA && -s $TLS_CA_KEY ]] &&
            openssl x509 -in "$TLS_CA" -noout -checkend 2592000 >/dev/null 2>&1 &&
            [[ $(openssl x509 -in "$TLS_CA" -noout -pubkey) == $(openssl pkey -in "$TLS_CA_KEY" -pubout) ]]; then
            cp "$TLS_CA" ca.crt
            cp "$TLS_CA_KEY" ca.key
        else
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -sha256 \
                -subj "/CN=swift-wrapper throwaway test CA $(date -u +%Y%m%dT%H%M%SZ)" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -addext "subjectKeyIdentifier=hash"
        fi
        openssl req -new -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
        cat >server.ext <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF
        # 825 days: the longest server-certificate lifetime Apple platforms accept.
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -out server.crt -days 825 -sha256 \
            -set_serial "0x$(openssl rand -hex 16)" -extfile server.ext
        rm -f server.csr server.ext
        chmod 644 ca.crt server.crt
    ) >"$DB_DIR/tls-gen.log" 2>&1 9>&-
    rc=$?
    set -e
    if (( rc != 0 )); then
        sed -i '/^[.+*]*$/d' "$DB_DIR/tls-gen.log" || true   # drop key-generation progress dots
        tail_log "$DB_DIR/tls-gen.log"
        rm -rf "$tmp"
        die "TLS certificate generation failed"
    fi
    tls_set_key_owner "$tmp/server.key"
    rm -rf "$TLS_DIR"
    mv "$tmp" "$TLS_DIR"
    tls_valid || die "generated TLS files in $TLS_DIR do not verify"
}

# ---------------------------------------------------------------- PostgreSQL

pg_pid() { [[ -f $PG_DATA/postmaster.pid ]] && head -n 1 "$PG_DATA/postmaster.pid" || true; }
pg_running_port() { [[ -f $PG_DATA/postmaster.pid ]] && sed -n 4p "$PG_DATA/postmaster.pid" || true; }
pg_answering() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t 2; }

pg_make_template() {
    local tpl=$TPL_DIR/pg stamp version
    version=$("$PG_BIN/postgres" --version)
    stamp="rev=$TEMPLATE_REV $version"
    if [[ -f $tpl/.template-stamp && $(cat "$tpl/.template-stamp") == "$stamp" ]]; then
        return
    fi
    log "creating PostgreSQL template datadir ($version)"
    local tmp=$TPL_DIR/pg.tmp.$$
    rm -rf "$tmp" "$tpl"
    mkdir -p "$tmp"
    if [[ ${EUID} -eq 0 ]]; then chown postgres: "$tmp"; fi
    # --no-sync: the template is rebuilt if lost; trust on the socket, SCRAM on TCP.
    if ! "${AS_PG[@]}" "$PG_BIN/initdb" -D "$tmp" -U postgres -E UTF8 --no-locale --no-sync \
        --auth-local=trust --auth-host=scram-sha-256 --no-instructions >"$TPL_DIR/pg-initdb.log" 2>&1; then
        tail_log "$TPL_DIR/pg-initdb.log"
        die "initdb failed"
    fi
    # Speed over durability; port and socket dir are added per start (they may change).
    cat >>"$tmp/postgresql.conf" <<'EOF'

# --- throwaway test server (scripts/db-servers.sh) ---
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = scram-sha-256
EOF
    # Superuser only via the socket (trust); everyone over TCP must present a password.
    cat >"$tmp/pg_hba.conf" <<'EOF'
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  scram-sha-256
host    replication  all   127.0.0.1/32  scram-sha-256
EOF
    echo "$stamp" >"$tmp/.template-stamp"
    mv "$tmp" "$tpl"
}

pg_start() {
    local pid
    pid=$(pg_pid)
    if pid_alive "$pid"; then
        local port
        port=$(pg_running_port)
        [[ $port == "$PG_PORT" ]] || die "PostgreSQL already running on port $port (wanted $PG_PORT); run stop first"
        if pg_answering "$PG_PORT"; then
            log "PostgreSQL already running (pid $pid, 127.0.0.1:$PG_PORT)"
            return
        fi
        die "PostgreSQL pid $pid is alive but not answering on 127.0.0.1:$PG_PORT"
    fi
    # Leftovers of a crashed or half-started instance are useless: start clean.
    rm -rf "$PG_RUN"
    pg_make_template

    mkdir -p "$PG_RUN"
    # The server writes its log and socket here; the copy keeps the template's ownership.
    if [[ ${EUID} -eq 0 ]]; then chown postgres: "$PG_RUN"; fi
    cp -a "$TPL_DIR/pg" "$PG_DATA"
    rm -f "$PG_DATA/.template-stamp"
    # TLS is optional for clients: the `host` lines in pg_hba.conf match both TLS and plain TCP.
    cat >>"$PG_DATA/postgresql.conf" <<EOF
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
ssl = on
ssl_cert_file = '$TLS_CERT'
ssl_key_file = '$TLS_KEY'
EOF
    # 9>&-: the server must not inherit the lock file descriptor, or it would hold the lock forever.
    if ! "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" start >/dev/null 9>&-; then
        tail_log "$PG_LOG"
        die "PostgreSQL failed to start"
    fi
    # Idempotent provisioning of the test role and database (fresh copy, but cheap to be safe).
    if ! "${AS_PG[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres \
        >/dev/null <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$TEST_USER') THEN
    CREATE ROLE $TEST_USER LOGIN CREATEROLE PASSWORD '$TEST_PASSWORD';
  ELSE
    -- CREATEROLE: the authentication tests create (and drop) their own users.
    ALTER ROLE $TEST_USER LOGIN CREATEROLE PASSWORD '$TEST_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $TEST_DB OWNER $TEST_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$TEST_DB') \gexec
EOF
    then
        tail_log "$PG_LOG"
        die "PostgreSQL provisioning failed"
    fi
    log "PostgreSQL started (pid $(pg_pid), 127.0.0.1:$PG_PORT)"
}

pg_stop() {
    local pid
    pid=$(pg_pid)
    if pid_alive "$pid"; then
        if ! "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$START_TIMEOUT" stop >/dev/null; then
            log "pg_ctl stop failed; killing pid $pid"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "PostgreSQL stopped"
    fi
    rm -rf "$PG_RUN"
}

pg_status() {
    local pid
    pid=$(pg_pid)
    if pid_alive "$pid" && pg_answering "$(pg_running_port)"; then
        echo "postgresql: running (pid $pid, 127.0.0.1:$(pg_running_port), socket dir $PG_RUN)"
        return 0
    fi
    echo "postgresql: stopped"
    return 1
}

# ---------------------------------------------------------------- MariaDB

my_pid() { [[ -f $MY_PID ]] && cat "$MY_PID" || true; }
my_running_port() { [[ -f $MY_RUN/port ]] && cat "$MY_RUN/port" || true; }
# `ping` succeeds as soon as the server answers, even if the login is refused.
my_answering() { "${MY_ADMIN[@]}" --protocol=tcp -h127.0.0.1 -P"$1" --connect-timeout=2 ping >/dev/null 2>&1; }

my_make_template() {
    local tpl=$TPL_DIR/mysql stamp version
    version=$(mariadbd --version)
    stamp="rev=$TEMPLATE_REV $version"
    if [[ -f $tpl/.template-stamp && $(cat "$tpl/.template-stamp") == "$stamp" ]]; then
        return
    fi
    log "creating MariaDB template datadir"
    local tmp=$TPL_DIR/mysql.tmp.$$
    rm -rf "$tmp" "$tpl"
    mkdir -p "$tmp"
    # normal auth: root@localhost with an empty password, usable over the socket by the script.
    # The small redo log keeps the template (and each copy of it) small.
    if ! mariadb-install-db --no-defaults "${MY_USER_OPT[@]}" --datadir="$tmp" \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
        --innodb-log-file-size=16M >"$TPL_DIR/mysql-install.log" 2>&1; then
        tail_log "$TPL_DIR/mysql-install.log"
        die "mariadb-install-db failed"
    fi
    echo "$stamp" >"$tmp/.template-stamp"
    mv "$tmp" "$tpl"
}

my_start() {
    local pid
    pid=$(my_pid)
    if pid_alive "$pid"; then
        local port
        port=$(my_running_port)
        [[ $port == "$MY_PORT" ]] || die "MariaDB already running on port $port (wanted $MY_PORT); run stop first"
        if my_answering "$MY_PORT"; then
            log "MariaDB already running (pid $pid, 127.0.0.1:$MY_PORT)"
            return
        fi
        die "MariaDB pid $pid is alive but not answering on 127.0.0.1:$MY_PORT"
    fi
    rm -rf "$MY_RUN"
    my_make_template

    mkdir -p "$MY_RUN"
    cp -a "$TPL_DIR/mysql" "$MY_DATA"
    rm -f "$MY_DATA/.template-stamp"
    echo "$MY_PORT" >"$MY_RUN/port"
    # setsid + redirects: the server must not hold the caller's terminal, output pipe or our lock.
    # Durability is off (flush at most once a second, no doublewrite); utf8mb4 by default.
    setsid mariadbd --no-defaults "${MY_USER_OPT[@]}" \
        --datadir="$MY_DATA" --socket="$MY_SOCK" --pid-file="$MY_PID" --log-error="$MY_LOG" \
        --port="$MY_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
        --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --sync-binlog=0 \
        --performance-schema=OFF \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --ssl-ca="$TLS_CA" --ssl-cert="$TLS_CERT" --ssl-key="$TLS_KEY" \
        </dev/null >>"$MY_LOG" 2>&1 9>&- &
    local launched=$! waited=0
    # Poll over our own socket: a TCP ping could be answered by some other server on the port.
    until "${MY_ADMIN[@]}" -S "$MY_SOCK" -uroot ping >/dev/null 2>&1; do
        if ! pid_alive "$launched"; then
            tail_log "$MY_LOG"
            die "MariaDB exited during startup"
        fi
        if (( waited >= START_TIMEOUT * 20 )); then
            kill -TERM "$launched" 2>/dev/null || true
            tail_log "$MY_LOG"
            die "MariaDB did not answer within ${START_TIMEOUT}s"
        fi
        sleep 0.05
        waited=$((waited + 1))
    done
    if ! my_answering "$MY_PORT"; then
        tail_log "$MY_LOG"
        die "MariaDB answers on its socket but not on 127.0.0.1:$MY_PORT"
    fi
    # The pid file can lag the listener by a moment; `stop` depends on it.
    if [[ ! -s $MY_PID ]]; then echo "$launched" >"$MY_PID"; fi

    if ! "${MY_CLIENT[@]}" -uroot -S "$MY_SOCK" <<EOF
CREATE DATABASE IF NOT EXISTS \`$TEST_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
CREATE USER IF NOT EXISTS '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
ALTER USER '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
ALTER USER '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
GRANT ALL PRIVILEGES ON \`$TEST_DB\`.* TO '$TEST_USER'@'127.0.0.1', '$TEST_USER'@'localhost' WITH GRANT OPTION;
-- The authentication tests create (and drop) their own users with passwords they choose.
GRANT CREATE USER ON *.* TO '$TEST_USER'@'127.0.0.1', '$TEST_USER'@'localhost';
EOF
    then
        tail_log "$MY_LOG"
        die "MariaDB provisioning failed"
    fi
    log "MariaDB started (pid $(my_pid), 127.0.0.1:$MY_PORT)"
}

my_stop() {
    local pid waited=0
    pid=$(my_pid)
    if pid_alive "$pid"; then
        # SIGTERM is a clean shutdown; wait for the process to be gone before deleting its files.
        kill -TERM "$pid" 2>/dev/null || true
        while pid_alive "$pid"; do
            if (( waited >= START_TIMEOUT * 20 )); then
                log "MariaDB pid $pid ignored SIGTERM for ${START_TIMEOUT}s; killing"
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.2
                break
            fi
            sleep 0.05
            waited=$((waited + 1))
        done
        log "MariaDB stopped"
    fi
    rm -rf "$MY_RUN"
}

my_status() {
    local pid
    pid=$(my_pid)
    if pid_alive "$pid" && my_answering "$(my_running_port)"; then
        echo "mariadb: running (pid $pid, 127.0.0.1:$(my_running_port), socket $MY_SOCK)"
        return 0
    fi
    echo "mariadb: stopped"
    return 1
}

# ---------------------------------------------------------------- common

prepare_dir() {
    mkdir -p "$TPL_DIR"
    chmod 755 "$DB_DIR" "$TPL_DIR"
    # As root, the postgres user must be able to reach the state directory.
    if [[ ${EUID} -eq 0 ]] && ! runuser -u postgres -- test -x "$DB_DIR"; then
        local d=$DB_DIR
        while [[ $d != / ]]; do
            d=$(dirname "$d")
            if (( (8#$(stat -c %a "$d") & 1) == 0 )); then
                log "making $d traversable (o+x) for the postgres user"
                chmod o+x "$d"
            fi
        done
    fi
}

# Serialise concurrent start/stop calls on the same state directory.
take_lock() {
    exec 9>"$DB_DIR/.lock"
    flock -w 120 9 || die "timed out waiting for the lock on $DB_DIR/.lock"
}

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

cmd=${1:-}
case $cmd in
    start)
        PG_BIN=$(find_pg_bin)
        command -v mariadbd >/dev/null || die "mariadbd not found; run scripts/install-prerequisites.sh"
        # Binaries run by other users must not inherit an unreadable cwd.
        cd /
        prepare_dir
        take_lock
        tls_make
        pg_start
        my_start
        ;;
    stop | clean)
        PG_BIN=$(find_pg_bin)
        cd /
        if [[ -d $DB_DIR ]]; then
            take_lock
            pg_stop
            my_stop
            if [[ $cmd == clean ]]; then
                rm -rf "$DB_DIR"
                log "removed $DB_DIR"
            fi
        fi
        ;;
    status)
        PG_BIN=$(find_pg_bin)
        rc=0
        pg_status || rc=3
        my_status || rc=3
        exit "$rc"
        ;;
    env)
        cat <<EOF
export WRAPPER_PG_HOST=127.0.0.1
export WRAPPER_PG_PORT=$PG_PORT
export WRAPPER_PG_USER=$TEST_USER
export WRAPPER_PG_PASSWORD=$TEST_PASSWORD
export WRAPPER_PG_DATABASE=$TEST_DB
export WRAPPER_MYSQL_HOST=127.0.0.1
export WRAPPER_MYSQL_PORT=$MY_PORT
export WRAPPER_MYSQL_USER=$TEST_USER
export WRAPPER_MYSQL_PASSWORD=$TEST_PASSWORD
export WRAPPER_MYSQL_DATABASE=$TEST_DB
export WRAPPER_TLS_CA=$TLS_CA
EOF
        ;;
    *)
        usage
        ;;
esac
