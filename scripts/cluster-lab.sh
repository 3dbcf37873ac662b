#!/usr/bin/env bash
# Cluster lab: an emulated Aurora PostgreSQL / RDS Multi-AZ cluster on loopback, with real
# replication and real faults, for the wrapper's failover / monitoring integration tests.
#
#   scripts/cluster-lab.sh up [--engine pg|mariadb|both] [--flavor aurora|multi-az] [--dns-lag SECONDS]
#   scripts/cluster-lab.sh down            stop everything, delete the lab state (templates are kept)
#   scripts/cluster-lab.sh status          roles, processes, replication, proxy modes, DNS view
#   scripts/cluster-lab.sh env             `export CLUSTER_LAB_*=...` lines: eval "$(scripts/cluster-lab.sh env)"
#   scripts/cluster-lab.sh kill NODE       SIGKILL the node's server (all its processes)
#   scripts/cluster-lab.sh freeze NODE     SIGSTOP the server (PG: postmaster and children); sockets stay open
#   scripts/cluster-lab.sh thaw NODE       SIGCONT it
#   scripts/cluster-lab.sh blackhole NODE  the node's proxy accepts but forwards nothing, connections stay open
#   scripts/cluster-lab.sh delay NODE MS   the node's proxy holds every chunk MS ms (each direction)
#   scripts/cluster-lab.sh heal NODE       the node's proxy forwards normally again
#   scripts/cluster-lab.sh promote NODE    make NODE the writer (fences the old writer with SIGKILL)
#   scripts/cluster-lab.sh promote auto [--engine pg|mariadb]  promote the standby with the most WAL
#   scripts/cluster-lab.sh rejoin NODE     bring a stopped / former writer back as a reader
#   scripts/cluster-lab.sh prepare         build the PG module and the template datadirs (up does it too)
#   scripts/cluster-lab.sh clean           down, then delete the templates as well
#
# Nodes: pg-1 pg-2 pg-3 (127.0.0.11-13; pg-1 is the first writer) and my-1 my-2 (127.0.0.21-22;
# my-1 is the first writer). Each server listens on its own address on an internal port; a proxy
# (lab/tcp_fault_proxy.py) listens on the same address on the public port. See lab/README.md.
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
ROOT=$(dirname "$(dirname "$SELF")")
SRC=$ROOT/lab
BUILD=$SRC/build

if [[ -d /dev/shm && -w /dev/shm ]]; then BASE=/dev/shm; else BASE=${TMPDIR:-/tmp}; fi
LAB=$(realpath -m "${CLUSTER_LAB_DIR:-$BASE/cluster-lab}")
CACHE=$(realpath -m "${CLUSTER_LAB_CACHE:-$BASE/cluster-lab-cache}")
TPL=$CACHE/templates

PG_PORT=${CLUSTER_LAB_PG_PORT:-55440}               # public (proxy) port on every PG node address
PG_SERVER_PORT=${CLUSTER_LAB_PG_SERVER_PORT:-55441} # the server itself
MY_PORT=${CLUSTER_LAB_MY_PORT:-53310}
MY_SERVER_PORT=${CLUSTER_LAB_MY_SERVER_PORT:-53311}
DOMAIN=${CLUSTER_LAB_DOMAIN:-xyz123.us-east-1.rds.amazonaws.com}
PG_CLUSTER=labpg
MY_CLUSTER=labmy

APP_USER=wrapper
APP_PASSWORD=wrapper_pw
APP_DB=wrapper_test
PG_REPL_USER=replicator
MY_REPL_USER=repl
REPL_PASSWORD=repl_pw

# Bump when a template recipe (here or in lab/pg/*.sql, lab/mariadb/*.sql) changes.
TEMPLATE_REV=6
START_TIMEOUT=30
MY_SEMI_SYNC_TIMEOUT_MS=${CLUSTER_LAB_MY_SEMI_SYNC_TIMEOUT_MS:-5000}

PG_NODES=(pg-1 pg-2 pg-3)
PG_SYNC_STANDBYS='ANY 1 ("pg-1", "pg-2", "pg-3")' # quorum: any one standby (application_name = node)
MY_NODES=(my-1 my-2)
declare -A ADDR=([pg-1]=127.0.0.11 [pg-2]=127.0.0.12 [pg-3]=127.0.0.13 [my-1]=127.0.0.21 [my-2]=127.0.0.22)
declare -A MY_SERVER_ID=([my-1]=21 [my-2]=22)
# Multi-AZ DBI resource ids (db- + 26 characters, like RDS).
declare -A PG_RESOURCE_ID=([pg-1]=db-LABPG1AAAAAAAAAAAAAAAAAAAA [pg-2]=db-LABPG2BBBBBBBBBBBBBBBBBBBB [pg-3]=db-LABPG3CCCCCCCCCCCCCCCCCCCC)
AURORA_EXTENSIONS=address_standardizer,amcheck,aurora_stat_utils,aws_commons,btree_gin,btree_gist,citext,hstore,pg_stat_statements,pgcrypto,plpgsql,postgres_fdw,rds_tools,tablefunc,uuid-ossp
MULTI_AZ_EXTENSIONS=address_standardizer,amcheck,aws_commons,btree_gin,btree_gist,citext,hstore,pg_stat_statements,pgcrypto,plpgsql,postgres_fdw,rds_tools,tablefunc,uuid-ossp

if [[ ${EUID} -eq 0 ]]; then
    AS_PG=(runuser -u postgres --)
    # setpriv execs (no parent process left behind): the postmaster's pid is the launched pid.
    EXEC_AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
    MY_USER_OPT=(--user=root)
else
    AS_PG=()
    EXEC_AS_PG=()
    MY_USER_OPT=()
fi
MY_CLIENT=(mariadb --no-defaults)
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=$(command -v python3 || echo python3)
export PGCONNECT_TIMEOUT=3

log() { echo "cluster-lab: $*"; }
warn() { echo "cluster-lab: warning: $*" >&2; }
die() { echo "cluster-lab: error: $*" >&2; exit 1; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }
# phase T0 TEXT: with CLUSTER_LAB_VERBOSE=1, log how long after T0 a step ended.
phase() { [[ ${CLUSTER_LAB_VERBOSE:-0} == 1 ]] && echo "cluster-lab:   +$(($(now_ms) - $1)) ms $2" >&2; return 0; }

tail_log() {
    local f=$1
    if [[ -f $f ]]; then
        echo "----- last lines of $f -----" >&2
        tail -n 30 "$f" >&2 || true
        echo "-----" >&2
    fi
}

# pid_alive PID [ARG]: a zombie counts as gone. With ARG, the process must also have ARG in its
# command line: a server's pid file outlives the server, and its pid may be reused meanwhile.
pid_alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null || return 1
    [[ -z ${2:-} ]] || tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}
pid_stopped() { grep -q '^State:[[:space:]]*T' "/proc/$1/status" 2>/dev/null; }

# wait_gone TIMEOUT_S PID...: 0 once every PID is gone.
wait_gone() {
    local limit=$(( $1 * 50 )) i=0 p any
    shift
    while :; do
        any=0
        for p in "$@"; do pid_alive "$p" && any=1; done
        (( any == 0 )) && return 0
        (( i++ >= limit )) && return 1
        sleep 0.02
    done
}

write_atomic() { # path content
    local tmp="$1.tmp.$$"
    printf '%s\n' "$2" >"$tmp"
    mv -f "$tmp" "$1"
}

# ---------------------------------------------------------------- lab state

# $LAB/config: ENGINES FLAVOR DNS_LAG; $LAB/roles/NODE: writer | reader | former-writer (truth);
# $LAB/dns-roles/NODE: the same as DNS currently shows it (lags behind by DNS_LAG).
lab_exists() { [[ -f $LAB/config ]]; }
load_config() {
    lab_exists || die "the lab is not up (no $LAB/config); run: $0 up"
    # shellcheck disable=SC1091
    source "$LAB/config"
}
engine_on() { [[ " $ENGINES " == *" $1 "* ]]; }

node_engine() {
    case $1 in
        pg-1 | pg-2 | pg-3) echo pg ;;
        my-1 | my-2) echo my ;;
        *) return 1 ;;
    esac
}
engine_nodes() { if [[ $1 == pg ]]; then echo "${PG_NODES[*]}"; else echo "${MY_NODES[*]}"; fi; }

check_node() {
    local e
    e=$(node_engine "${1:-}") || die "unknown node '${1:-}' (nodes: ${PG_NODES[*]} ${MY_NODES[*]})"
    engine_on "$e" || die "node $1 is not part of this lab (engines: $ENGINES)"
}

node_id() { # instance id as the topology reports it
    local n=$1
    if [[ $(node_engine "$n") == my ]]; then
        echo "${MY_SERVER_ID[$n]}"
    elif [[ $FLAVOR == aurora ]]; then
        echo "${ADDR[$n]}"
    else
        echo "${PG_RESOURCE_ID[$n]}"
    fi
}
node_endpoint() { echo "$1.$DOMAIN"; }
public_port() { if [[ $(node_engine "$1") == pg ]]; then echo "$PG_PORT"; else echo "$MY_PORT"; fi; }
role_of() { cat "$LAB/roles/$1" 2>/dev/null || echo unknown; }
set_role() { write_atomic "$LAB/roles/$1" "$2"; }
writer_of() { # engine -> node (truth)
    local n
    for n in $(engine_nodes "$1"); do
        [[ $(role_of "$n") == writer ]] && { echo "$n"; return 0; }
    done
    return 1
}

take_lock() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock -w 120 9 || die "timed out waiting for the lock $CACHE/.lock"
}

# ---------------------------------------------------------------- hosts file (emulated DNS)

write_hosts() {
    local tmp=$LAB/hosts.tmp.$$ e n w readers cluster
    {
        for e in pg my; do
            engine_on "$e" || continue
            for n in $(engine_nodes "$e"); do
                echo "$(node_endpoint "$n") ${ADDR[$n]}"
                if [[ $e == pg && $FLAVOR == aurora ]]; then
                    echo "${ADDR[$n]}.$DOMAIN ${ADDR[$n]}" # ?.domain filled with an Aurora instance id
                fi
                echo "$n ${ADDR[$n]}"
            done
            if [[ $e == pg ]]; then cluster=$PG_CLUSTER; else cluster=$MY_CLUSTER; fi
            w="" readers=()
            for n in $(engine_nodes "$e"); do
                case $(cat "$LAB/dns-roles/$n" 2>/dev/null) in
                    writer) w=$n ;;
                    reader) readers+=("$n") ;;
                esac
            done
            [[ -n $w ]] && echo "$cluster.cluster-$DOMAIN ${ADDR[$w]}"
            # Like Aurora's reader endpoint: every reader (round robin); the writer when there is none.
            if ((${#readers[@]} == 0)) && [[ -n $w ]]; then readers=("$w"); fi
            for n in "${readers[@]}"; do echo "$cluster.cluster-ro-$DOMAIN ${ADDR[$n]}"; done
        done
    } >"$tmp"
    mv -f "$tmp" "$LAB/hosts"
}

dns_apply() { # roles-dir: make DNS show that snapshot of the roles
    rm -rf "$LAB/dns-roles.tmp"
    cp -a "$1" "$LAB/dns-roles.tmp"
    rm -rf "$LAB/dns-roles"
    mv "$LAB/dns-roles.tmp" "$LAB/dns-roles"
    write_hosts
}
dns_sync_now() { dns_apply "$LAB/roles"; }

dns_job_stop() { # every pending DNS job (down)
    local f pid
    for f in "$LAB"/dns-jobs/*; do
        [[ -f $f ]] || continue
        pid=${f##*/}
        if pid_alive "$pid"; then kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; fi
        rm -f "$f"
    done
}

# After a topology change DNS shows it only DNS_LAG seconds later: a background job per change
# applies a snapshot of the roles taken now. Jobs fire in order, so changes show up one by one.
schedule_dns_sync() {
    local seq
    if [[ $DNS_LAG =~ ^0+(\.0*)?$ ]]; then
        dns_sync_now
        return
    fi
    seq=$(printf '%015d' "$(($(now_ms) + $(awk -v l="$DNS_LAG" 'BEGIN {printf "%d", l * 1000}')))")
    mkdir -p "$LAB/dns-queue" "$LAB/dns-jobs"
    rm -rf "$LAB/dns-queue/$seq.tmp"
    cp -a "$LAB/roles" "$LAB/dns-queue/$seq.tmp"
    mv "$LAB/dns-queue/$seq.tmp" "$LAB/dns-queue/$seq"
    setsid "$SELF" _dns-sync "$DNS_LAG" "$seq" </dev/null >>"$LAB/dns.log" 2>&1 9>&- &
    echo "$seq" >"$LAB/dns-jobs/$!"
}

cmd_dns_sync() { # internal: the delayed job (lag, snapshot)
    local q
    sleep "$1"
    take_lock
    lab_exists || exit 0
    load_config
    rm -f "$LAB/dns-jobs/$$"
    [[ -d $LAB/dns-queue/$2 ]] || exit 0
    dns_apply "$LAB/dns-queue/$2"
    for q in "$LAB"/dns-queue/*; do
        [[ ${q##*/} < $2 || ${q##*/} == "$2" ]] && rm -rf "$q"
    done
    echo "$(date +%T.%3N) DNS updated ($2)"
}

# ---------------------------------------------------------------- proxy

proxy_pid() { cat "$LAB/proxy/proxy.pid" 2>/dev/null || true; }

proxy_start() {
    local routes=() n
    mkdir -p "$LAB/proxy"
    for n in "${PG_NODES[@]}"; do
        engine_on pg && routes+=("$n,${ADDR[$n]}:$PG_PORT,${ADDR[$n]}:$PG_SERVER_PORT")
    done
    for n in "${MY_NODES[@]}"; do
        engine_on my && routes+=("$n,${ADDR[$n]}:$MY_PORT,${ADDR[$n]}:$MY_SERVER_PORT")
    done
    setsid "$PYTHON" "$SRC/tcp_fault_proxy.py" --control-dir "$LAB/proxy" "${routes[@]}" \
        </dev/null >>"$LAB/proxy/proxy.log" 2>&1 9>&- &
    echo $! >"$LAB/proxy/proxy.pid"
}

proxy_wait_ready() {
    local pid i=0
    pid=$(proxy_pid)
    until [[ -f $LAB/proxy/ready ]]; do
        if ! pid_alive "$pid"; then
            tail_log "$LAB/proxy/proxy.log"
            die "the proxy exited during startup"
        fi
        (( i++ > START_TIMEOUT * 50 )) && die "the proxy did not get ready"
        sleep 0.02
    done
}

# proxy_set NODE MODE...: write the node's control file and wait until the proxy applied it.
proxy_set() {
    local node=$1 mode=$2 token i=0
    token="#$$.$(now_ms)"
    pid_alive "$(proxy_pid)" || die "the proxy is not running (see $LAB/proxy/proxy.log)"
    write_atomic "$LAB/proxy/$node.mode" "$mode $token"
    until grep -qF -- "$token" "$LAB/proxy/$node.state" 2>/dev/null; do
        (( i++ > 100 )) && die "the proxy did not apply '$mode' to $node within 2 s"
        sleep 0.02
    done
}

# proxy_server NODE up|down [nowait]: tell the proxy whether the server runs. While it is down the
# proxy does not listen (unless blackholed), so clients get "connection refused" as from the server.
proxy_server() {
    local node=$1 state=$2 token i=0
    token="#$$.$(now_ms)"
    if ! pid_alive "$(proxy_pid)"; then
        warn "the proxy is not running (see $LAB/proxy/proxy.log)"
        return 0
    fi
    write_atomic "$LAB/proxy/$node.server" "$state $token"
    [[ ${3:-} == nowait ]] && return 0
    until grep -qF -- "$token" "$LAB/proxy/$node.state" 2>/dev/null; do
        (( i++ > 100 )) && die "the proxy did not apply 'server $state' to $node within 2 s"
        sleep 0.02
    done
}

proxy_mode_of() { # -> "pass conns=0", "delay 200 conns=1", "pass refusing conns=0"
    sed -E 's/ #[^ ]*//g; s/^mode=//; s/ server=[a-z]*//; s/ listening=yes//; s/ listening=no/ refusing/' \
        "$LAB/proxy/$1.state" 2>/dev/null || echo "?"
}

# ---------------------------------------------------------------- PostgreSQL

find_pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n $d && -x $d/initdb ]] || die "PostgreSQL server binaries not found (apt-get install postgresql)"
    PG_BIN=$d
    PG_MAJOR=$(basename "$(dirname "$d")")
}

pg_ext_list() { if [[ $FLAVOR == aurora ]]; then echo "$AURORA_EXTENSIONS"; else echo "$MULTI_AZ_EXTENSIONS"; fi; }
pg_pm_pid() { local f=$LAB/$1/data/postmaster.pid; [[ -f $f ]] && head -n 1 "$f" || true; }
pg_alive() { pid_alive "$(pg_pm_pid "$1")" "$LAB/$1/data"; }
pg_frozen() { local p; p=$(pg_pm_pid "$1"); pid_alive "$p" "$LAB/$1/data" && pid_stopped "$p"; }
pg_psql() { # node db [psql args]; superuser over the node's unix socket
    local node=$1 db=$2
    shift 2
    psql -X -q -At -v ON_ERROR_STOP=1 -h "$LAB/$node" -p "$PG_SERVER_PORT" -U postgres -d "$db" "$@"
}

pg_build_module() {
    local src=$SRC/pg/lab_rds.c so=$BUILD/lab_rds.so inc
    if [[ ! -f $so || $src -nt $so ]]; then
        inc=$("$PG_BIN/pg_config" --includedir-server 2>/dev/null || echo "/usr/include/postgresql/$PG_MAJOR/server")
        if [[ ! -f $inc/postgres.h ]]; then
            log "installing postgresql-server-dev-$PG_MAJOR (server headers for lab/pg/lab_rds.c)"
            mkdir -p "$CACHE"
            {
                apt-get install -y -q "postgresql-server-dev-$PG_MAJOR" ||
                    { apt-get update -q && apt-get install -y -q "postgresql-server-dev-$PG_MAJOR"; }
            } >"$CACHE/apt.log" 2>&1 9>&- || { tail_log "$CACHE/apt.log"; die "could not install postgresql-server-dev-$PG_MAJOR"; }
            inc=$("$PG_BIN/pg_config" --includedir-server)
        fi
        command -v gcc >/dev/null || die "gcc not found (apt-get install build-essential)"
        mkdir -p "$BUILD"
        log "building $so"
        gcc -O2 -Wall -Werror -fPIC -shared -I"$inc" -o "$so.tmp" "$src" || die "building lab_rds.so failed"
        mv -f "$so.tmp" "$so"
    fi
    mkdir -p "$CACHE/lib"
    chmod 755 "$CACHE" "$CACHE/lib"
    if ! cmp -s "$so" "$CACHE/lib/lab_rds.so"; then
        cp "$so" "$CACHE/lib/lab_rds.so.tmp"
        chmod 755 "$CACHE/lib/lab_rds.so.tmp"
        mv -f "$CACHE/lib/lab_rds.so.tmp" "$CACHE/lib/lab_rds.so"
    fi
}

pg_make_template() {
    local tpl=$TPL/pg stamp tmp sums
    sums=$(cat "$SRC"/pg/*.sql | md5sum | cut -c1-12)
    stamp="rev=$TEMPLATE_REV sql=$sums $("$PG_BIN/postgres" --version) lib=$CACHE/lib"
    [[ -f $tpl/.template-stamp && $(cat "$tpl/.template-stamp") == "$stamp" ]] && return
    log "creating the PostgreSQL template datadir"
    tmp=$TPL/pg.tmp.$$
    rm -rf "$tmp" "$tpl"
    mkdir -p "$tmp"
    chmod 755 "$TPL"
    [[ ${EUID} -eq 0 ]] && chown postgres: "$tmp"
    chmod 700 "$tmp"
    # 1 MB WAL segments: each promotion starts a timeline with its own copy of the current segment,
    # and pg_rewind (rejoin) copies every segment in full; with 16 MB ones rejoin slows down cycle by cycle.
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$tmp" -U postgres -E UTF8 --no-locale --no-sync --data-checksums --wal-segsize=1 \
        --auth-local=trust --auth-host=scram-sha-256 --no-instructions >"$TPL/pg-initdb.log" 2>&1 ||
        { tail_log "$TPL/pg-initdb.log"; die "initdb failed"; }
    # Shared by every node (pg_basebackup and pg_rewind copy this file); per-node settings
    # (address, socket dir, instance id, rds.extensions) are given on the command line.
    cat >>"$tmp/postgresql.conf" <<EOF

# --- cluster lab (scripts/cluster-lab.sh) ---
listen_addresses = ''
shared_preload_libraries = '$CACHE/lib/lab_rds.so'
fsync = off                      # data lives in tmpfs; writes still reach the files at commit
synchronous_commit = on          # so a SIGKILL loses no committed transaction (as on Aurora)
# A commit returns only once one standby has flushed it too, so that a failover to the standby with
# the most WAL (promote auto) loses no acknowledged commit, as on Aurora. The standbys' names
# (application_name), not '*': pg_basebackup's WAL stream would count as a standby too.
# With no live standby at all the script sets it to '' on the writer (ALTER SYSTEM) until one rejoins.
synchronous_standby_names = '$PG_SYNC_STANDBYS'
full_page_writes = on            # pg_rewind needs it
wal_level = replica
wal_log_hints = on
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 128MB
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 100ms
checkpoint_completion_target = 0  # no pacing: CHECKPOINT (pg_rewind) never waits for a spread one
shared_buffers = 32MB
dynamic_shared_memory_type = mmap  # in the datadir: nothing left in /dev/shm after a SIGKILL
password_encryption = scram-sha-256
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    cat >"$tmp/pg_hba.conf" <<EOF
# TYPE  DATABASE     USER           ADDRESS       METHOD
local   all          all                          trust
local   replication  all                          trust
host    all          postgres       127.0.0.0/8   reject
host    replication  $PG_REPL_USER  127.0.0.0/8   scram-sha-256
host    all          all            127.0.0.0/8   scram-sha-256
EOF
    : >"$TPL/pg-template.log"
    [[ ${EUID} -eq 0 ]] && chown postgres: "$TPL/pg-template.log"
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$tmp" -l "$TPL/pg-template.log" -w -t "$START_TIMEOUT" \
        -o "-p $PG_SERVER_PORT -k $tmp -c rds.extensions= -c synchronous_standby_names=" start >/dev/null 9>&- ||
        { tail_log "$TPL/pg-template.log"; die "the template server did not start"; }
    if ! psql -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "$PG_SERVER_PORT" -U postgres -d postgres \
        -v app_user="$APP_USER" -v app_password="$APP_PASSWORD" -v app_db="$APP_DB" \
        -v repl_user="$PG_REPL_USER" -v repl_password="$REPL_PASSWORD" \
        -f "$SRC/pg/template.sql" >>"$TPL/pg-template.log" 2>&1; then
        "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$tmp" -m immediate stop >/dev/null 2>&1 || true
        tail_log "$TPL/pg-template.log"
        die "template provisioning failed"
    fi
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$tmp" -m fast -w stop >/dev/null
    rm -f "$tmp/postmaster.opts" "$tmp"/log/* 2>/dev/null || true
    echo "$stamp" >"$tmp/.template-stamp"
    mv "$tmp" "$tpl"
}

pg_write_standby_conf() { # node writer: standby.signal + primary_conninfo (postgresql.auto.conf)
    local d=$LAB/$1/data
    touch "$d/standby.signal"
    cat >"$d/postgresql.auto.conf" <<EOF
# Written by scripts/cluster-lab.sh (and ALTER SYSTEM).
primary_conninfo = 'host=${ADDR[$2]} port=$PG_SERVER_PORT user=$PG_REPL_USER password=$REPL_PASSWORD application_name=$1 connect_timeout=2'
EOF
    [[ ${EUID} -eq 0 ]] && chown postgres: "$d/standby.signal" "$d/postgresql.auto.conf"
    chmod 600 "$d/standby.signal" "$d/postgresql.auto.conf"
}

# A SIGKILLed postmaster stays a zombie until init reaps it (up to about a second here), and
# PostgreSQL takes a zombie's pid in postmaster.pid for a live postmaster: clear what a dead
# postmaster left (lock files, SysV segment) before starting the datadir again or rewinding it.
pg_clear_stale() {
    local n=$1 pid
    pid=$(pg_pm_pid "$n")
    [[ -n $pid ]] || return 0
    pid_alive "$pid" "$LAB/$n/data" && die "$n is still running (pid $pid)"
    pg_release_shm "$n"
    rm -f "$LAB/$n/data/postmaster.pid" "$LAB/$n/.s.PGSQL.$PG_SERVER_PORT" "$LAB/$n/.s.PGSQL.$PG_SERVER_PORT.lock"
}

# pg_start NODE: launch the postmaster without waiting (pg_wait_ready waits).
pg_start() {
    local n=$1 d=$LAB/$1
    pg_clear_stale "$n"
    setsid "${EXEC_AS_PG[@]}" "$PG_BIN/postgres" -D "$d/data" \
        -c listen_addresses="${ADDR[$n]}" -p "$PG_SERVER_PORT" -k "$d" -c cluster_name="$n" \
        -c lab.instance_id="$(node_id "$n")" -c rds.extensions="$(pg_ext_list)" \
        -c max_connections="${CLUSTER_LAB_MAX_CONNECTIONS:-100}" \
        </dev/null >>"$d/server.log" 2>&1 9>&- &
    echo $! >"$d/launched.pid"
}

pg_wait_ready() { # NODE...: until each accepts connections (status ready, or standby for hot standbys)
    local n f pid launched status i=0 pending
    while :; do
        pending=0
        for n in "$@"; do
            f=$LAB/$n/data/postmaster.pid
            launched=$(cat "$LAB/$n/launched.pid" 2>/dev/null || true)
            if ! pid_alive "$launched"; then
                tail_log "$LAB/$n/server.log"
                die "PostgreSQL $n exited during startup"
            fi
            pid=$(head -n 1 "$f" 2>/dev/null || true)
            status=$(sed -n 8p "$f" 2>/dev/null | tr -d ' ' || true)
            [[ $pid == "$launched" && ($status == ready || $status == standby) ]] && continue
            pending=1
        done
        ((pending == 0)) && return 0
        if (( i++ > START_TIMEOUT * 50 )); then
            for n in "$@"; do tail_log "$LAB/$n/server.log"; done
            die "PostgreSQL did not get ready: $*"
        fi
        sleep 0.02
    done
}

# SIGKILL the postmaster and every child at once (a crash). Stop the postmaster first so that it
# forks nothing while its children are listed.
pg_hard_kill() {
    local pm kids
    pm=$(pg_pm_pid "$1")
    pid_alive "$pm" "$LAB/$1/data" || return 0
    kill -STOP "$pm" 2>/dev/null || true
    kids=$(pgrep -P "$pm" || true)
    # shellcheck disable=SC2086
    kill -KILL "$pm" $kids 2>/dev/null || true
    # shellcheck disable=SC2086
    wait_gone 10 "$pm" $kids || die "PostgreSQL $1 (pid $pm) did not die"
    proxy_server "$1" down nowait
}

# Remove the SysV segment a killed postmaster left (the next start of the same datadir would).
pg_release_shm() {
    local f=$LAB/$1/data/postmaster.pid shmid
    [[ -f $f ]] || return 0
    shmid=$(sed -n 7p "$f" | awk '{print $2}')
    [[ -n $shmid && $shmid =~ ^[0-9]+$ ]] || return 0
    if ipcs -m 2>/dev/null | awk -v id="$shmid" '$2 == id && $6 == 0 {found=1} END {exit !found}'; then
        ipcrm -m "$shmid" 2>/dev/null || true
    fi
}

pg_timeline() { # writer's current timeline
    pg_psql "$1" postgres -c "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"
}

# pg_wait_following NODE TLI TIMEOUT_S: 0 once NODE streams from the writer on timeline TLI.
pg_wait_following() {
    local n=$1 tli=$2 end=$(($(now_ms) + $3 * 1000)) got
    while :; do
        got=$(pg_psql "$n" postgres -c "SELECT status || ':' || received_tli FROM pg_stat_wal_receiver" 2>/dev/null || true)
        [[ $got == "streaming:$tli" ]] && return 0
        (($(now_ms) >= end)) && return 1
        sleep 0.02
    done
}

pg_databases() { pg_psql "$1" postgres -c "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1"; }

# SQL that sets lab.instances and the flavor's functions, in every database (run on the writer).
pg_provision_sql() {
    local db n w=$1
    shift
    for db in "$@"; do
        printf '\\c %s\n' "$db"
        echo "BEGIN;"
        echo "DELETE FROM lab.instances;"
        for n in "${PG_NODES[@]}"; do
            printf "INSERT INTO lab.instances (node, instance_id, endpoint, port, is_writer) VALUES ('%s', '%s', '%s', %s, %s);\n" \
                "$n" "$(node_id "$n")" "$(node_endpoint "$n")" "$PG_PORT" "$([[ $n == "$w" ]] && echo true || echo false)"
        done
        if [[ $FLAVOR == aurora ]]; then
            cat "$SRC/pg/aurora.sql"
        else
            cat "$SRC/pg/multi_az.sql"
        fi
        echo "COMMIT;"
    done
}

pg_up() {
    local n lsn i
    for n in "${PG_NODES[@]}"; do
        mkdir -p "$LAB/$n"
        [[ ${EUID} -eq 0 ]] && chown postgres: "$LAB/$n"
        cp -a "$TPL/pg" "$LAB/$n/data"
        rm -f "$LAB/$n/data/.template-stamp"
        [[ $n != pg-1 ]] && pg_write_standby_conf "$n" pg-1
        set_role "$n" "$([[ $n == pg-1 ]] && echo writer || echo reader)"
    done
    # Identical cold copies of a cleanly stopped cluster: the standbys stream from pg-1 at once.
    for n in "${PG_NODES[@]}"; do pg_start "$n"; done
    pg_wait_ready "${PG_NODES[@]}"
    # shellcheck disable=SC2046
    # The lab's own writes do not wait for a standby (it checks below that both have them).
    pg_provision_sql pg-1 $(pg_databases pg-1) | PGOPTIONS="-c synchronous_commit=local" pg_psql pg-1 postgres >/dev/null ||
        { tail_log "$LAB/pg-1/server.log"; die "provisioning pg-1 failed"; }
    lsn=$(pg_psql pg-1 postgres -c "SELECT pg_current_wal_lsn()")
    for n in pg-2 pg-3; do
        i=0
        until [[ $(pg_psql "$n" postgres -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null) == t ]]; do
            (( i++ > 500 )) && { tail_log "$LAB/$n/server.log"; die "$n does not replicate from pg-1"; }
            sleep 0.02
        done
    done
}

# ---- synchronous replication
# The shared postgresql.conf makes every commit wait until one standby has flushed it
# (synchronous_standby_names = ANY 1 of the node names). Without any live standby the writer would
# wait forever, so when its last standby is killed the script makes it asynchronous (ALTER SYSTEM,
# in its postgresql.auto.conf), and makes it synchronous again when a standby rejoins, once that
# standby has flushed everything. That is safe: while no standby runs there is nothing to promote,
# and a standby comes back only through rejoin, which catches it up from the writer first.
# Frozen standbys count as live: commits wait while every standby is frozen (until thaw), because a
# thawed standby could be promoted without catching up.

lsn_num() { local l=${1:-0/0}; echo $(( (16#${l%/*} << 32) | 16#${l#*/} )); } # 0/3000148 -> integer

pg_live_readers() { # writer -> readers whose server runs (frozen ones included)
    local n out=()
    for n in "${PG_NODES[@]}"; do
        [[ $n != "$1" && $(role_of "$n") == reader ]] && pg_alive "$n" && out+=("$n")
    done
    echo "${out[*]}"
}

pg_sync_names() { pg_psql "$1" postgres -c "SHOW synchronous_standby_names"; }

pg_set_async() { # node: its commits stop waiting for a standby
    pg_psql "$1" postgres -c "ALTER SYSTEM SET synchronous_standby_names = ''" -c "SELECT pg_reload_conf()" >/dev/null
}

# pg_set_sync WRITER STANDBY: back to the shared setting, then wait until STANDBY has flushed all
# the WAL there was once the setting applied (what the writer acknowledged while asynchronous).
pg_set_sync() {
    local w=$1 s=$2 lsn end=$(($(now_ms) + 10000))
    pg_psql "$w" postgres -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null
    until [[ -n $(pg_sync_names "$w") ]]; do (($(now_ms) > end)) && break; sleep 0.01; done
    lsn=$(pg_psql "$w" postgres -c "SELECT pg_current_wal_lsn()")
    until [[ $(pg_psql "$w" postgres -c "SELECT count(*) FROM pg_stat_replication
              WHERE application_name = '$s' AND state = 'streaming' AND flush_lsn >= '$lsn'") == 1 ]]; do
        (($(now_ms) > end)) && { warn "$s has not flushed $lsn within 10 s; commits on $w wait for it"; return 1; }
        sleep 0.02
    done
}

# pg_sync_check [REJOINED]: after kill, thaw and rejoin, keep the writer synchronous iff it has a live standby.
pg_sync_check() {
    local w readers names
    w=$(writer_of pg) || return 0
    pg_alive "$w" && ! pg_frozen "$w" || return 0
    readers=$(pg_live_readers "$w")
    names=$(pg_sync_names "$w") || return 0
    if [[ -z $readers && -n $names ]]; then
        pg_set_async "$w"
        warn "$w has no live standby: its commits no longer wait for one (asynchronous) until a standby rejoins"
    elif [[ -n $readers && -z $names && -n ${1:-} && " $readers " == *" $1 "* ]]; then
        pg_set_sync "$w" "$1" && log "$w: commits wait for a standby again ($1 has flushed everything)"
    fi
    return 0
}

# pg_standby_facts OLD NODE: once NODE no longer streams from the fenced OLD (up to 2 s; a
# walreceiver flushes what it got before it exits), print "end-of-WAL|synchronous_standby_names|dbs".
pg_standby_facts() {
    pg_psql "$2" postgres -F '|' <<EOF
DO \$\$ BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming' AND sender_host = '${ADDR[${1:-x}]:-none}');
        PERFORM pg_sleep(0.02);
    END LOOP;
END \$\$;
SELECT greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), current_setting('synchronous_standby_names'),
       (SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database WHERE datallowconn);
EOF
}

pg_point_to() { # standby source: stream from SOURCE (the writer or, cascading, another standby)
    pg_psql "$1" postgres >/dev/null <<EOF
ALTER SYSTEM SET primary_conninfo = 'host=${ADDR[$2]} port=$PG_SERVER_PORT user=$PG_REPL_USER password=$REPL_PASSWORD application_name=$1 connect_timeout=2';
SELECT pg_reload_conf();
EOF
}

# promote NODE|auto. Fence the old writer, wait until the live standbys have all it sent them, then
# promote NODE, or with auto the live unfrozen standby that received the most WAL. NODE, when
# another live standby received more, first catches up from that one (cascading replication); if it
# cannot within 5 s the command fails without promoting anything. With synchronous replication
# every acknowledged commit is on at least one standby, so the one with the most WAL has them all.
pg_promote() {
    local req=$1 node old n t0 t1 t2 tli sql out best="" lsn_list="" watchdog="" frozen="" others=() failed=() cands=() pids=()
    local -A lsn=() names=() dbs=()
    old=$(writer_of pg || true)
    if [[ $req != auto ]]; then
        [[ $req == "$old" ]] && { log "$req is already the writer"; return 0; }
        pg_alive "$req" || die "$req is down; cannot promote it (rejoin it first)"
        pg_frozen "$req" && die "$req is frozen; thaw it first"
        [[ $(pg_psql "$req" postgres -c "SELECT pg_is_in_recovery()") == t ]] || die "$req is not a standby"
    fi
    for n in "${PG_NODES[@]}"; do
        [[ $n == "$old" ]] && continue
        [[ $n == "$req" || $(role_of "$n") == reader ]] || continue
        pg_alive "$n" && ! pg_frozen "$n" || continue
        [[ $(pg_psql "$n" postgres -c "SELECT pg_is_in_recovery()" 2>/dev/null) == t ]] && cands+=("$n")
    done
    ((${#cands[@]} > 0)) || die "promote auto: no live, unfrozen standby to promote"
    t0=$(now_ms)
    # Fence the old writer, as Aurora does: it must not take writes any more.
    if [[ -n $old ]]; then
        pg_hard_kill "$old"
        set_role "$old" former-writer
    fi
    for n in "${cands[@]}"; do pg_standby_facts "$old" "$n" >"$LAB/$n/facts" 2>/dev/null & pids+=($!); done
    wait "${pids[@]}" || true
    pids=()
    for n in "${cands[@]}"; do
        IFS='|' read -r "lsn[$n]" "names[$n]" "dbs[$n]" <"$LAB/$n/facts" || true
        lsn_list+="${lsn_list:+, }$n ${lsn[$n]}"
        if [[ -z $best ]] || (($(lsn_num "${lsn[$n]}") > $(lsn_num "${lsn[$best]}"))); then best=$n; fi
    done
    phase "$t0" "fenced; WAL received: $lsn_list"
    if [[ $req == auto ]]; then
        node=$best
        log "promote auto: $node (WAL received: $lsn_list)"
    else
        node=$req
        if (($(lsn_num "${lsn[$best]}") > $(lsn_num "${lsn[$node]}"))); then
            # $best has WAL that $node lacks, maybe acknowledged commits: fetch it from $best first.
            pg_point_to "$node" "$best"
            n=$(($(now_ms) + 5000))
            until (($(lsn_num "$(pg_psql "$node" postgres -c "SELECT pg_last_wal_receive_lsn()" 2>/dev/null || echo 0/0)") >=
                $(lsn_num "${lsn[$best]}"))); do
                (($(now_ms) > n)) && die "promote $node: refused: $best has received more WAL (${lsn[$best]}) than $node (${lsn[$node]}) and $node did not catch up from it within 5 s; nothing was promoted and the old writer ${old:-none} stays fenced: run promote auto"
                sleep 0.02
            done
            log "promote $node: caught up from $best first (${lsn[$node]} -> ${lsn[$best]}) after $(($(now_ms) - t0)) ms"
        fi
    fi
    # Point the other standbys at NODE, in parallel with its promotion (those that connect before it
    # cascade and follow its new timeline by themselves), so that commits on NODE find a
    # synchronous standby as soon as possible.
    for n in "${PG_NODES[@]}"; do
        [[ $n == "$node" || $(role_of "$n") != reader ]] && continue
        if pg_alive "$n" && ! pg_frozen "$n"; then
            pg_point_to "$n" "$node" & pids+=($!)
            others+=("$n")
        elif pg_alive "$n"; then
            # Frozen: rewrite its primary_conninfo; the SIGHUP is delivered at thaw.
            pg_write_standby_conf "$n" "$node"
            kill -HUP "$(pg_pm_pid "$n")" 2>/dev/null || true
            failed+=("$n (frozen: it follows $node once thawed; if it does not, run rejoin $n)")
            frozen+=" $n"
        else
            failed+=("$n (down: run rejoin $n)")
            pg_write_standby_conf "$n" "$node"
        fi
    done
    if [[ -z $(pg_live_readers "$node") ]]; then
        [[ -n ${names[$node]} ]] && pg_set_async "$node"
        warn "promote $node: no other live standby: commits on $node do not wait for one (asynchronous) until a standby rejoins"
    elif [[ -z ${names[$node]} ]]; then
        pg_psql "$node" postgres -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null
    fi
    phase "$t0" "promoting"
    # Promote. The lab's own bookkeeping commits locally (it must not hang); then a synchronous
    # commit shows when NODE is writable for clients (a standby acknowledged it).
    sql="SELECT pg_promote(false);
DO \$\$ BEGIN WHILE pg_is_in_recovery() LOOP PERFORM pg_sleep(0.005); END LOOP; END \$\$;
SELECT 'promoted-at=' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint;"
    for n in ${dbs[$node]}; do
        sql+=$'\n'"\\c $n"$'\n'"UPDATE lab.instances SET is_writer = (node = '$node'), last_update_timestamp = NULL;"
    done
    sql+=$'\n'"\\c postgres"
    if ((${#others[@]} > 0)); then
        sql+=$'\n'"SET synchronous_commit = on;"
        # Should no standby acknowledge within 5 s, cancel the wait (the row stays, committed locally).
        (
            sleep 5 & s=$!
            trap 'kill $s 2>/dev/null; exit 0' TERM
            wait $s
            pg_psql "$node" postgres -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
                WHERE application_name = 'cluster-lab promote' AND wait_event = 'SyncRep'" >/dev/null 2>&1
        ) 9>&- & watchdog=$!
    fi
    sql+=$'\n'"INSERT INTO lab.events (what) VALUES ('promote $node (old writer ${old:-none})');"
    out=$(PGAPPNAME="cluster-lab promote" PGOPTIONS="-c synchronous_commit=local" pg_psql "$node" postgres <<<"$sql" 2>&1) ||
        { echo "$out" >&2; tail_log "$LAB/$node/server.log"; die "promoting $node failed"; }
    t1=$(now_ms)
    [[ -n $watchdog ]] && { kill "$watchdog" 2>/dev/null || true; }
    phase "$t0" "out of recovery (at $(($(sed -n 's/^promoted-at=//p' <<<"$out") - t0)) ms), a standby acknowledged a commit"
    ((${#pids[@]} > 0)) && { wait "${pids[@]}" || true; }
    [[ $out == *"synchronous replication"* ]] &&
        warn "promote $node: no standby acknowledged a commit within 5 s; commits on $node wait until one streams"
    if ((${#others[@]} == 0)) && [[ -n $frozen ]]; then
        warn "promote $node: commits on $node wait until a standby streams:$frozen frozen"
    fi
    set_role "$node" writer
    schedule_dns_sync
    tli=$(pg_timeline "$node")
    for n in "${others[@]}"; do
        pg_wait_following "$n" "$tli" 5 || failed+=("$n (not following timeline $tli: run rejoin $n)")
    done
    t2=$(now_ms)
    log "promote $node: writable after $((t1 - t0)) ms (timeline $tli; old writer ${old:-none} fenced)"
    ((${#others[@]} > 0)) && log "promote $node: ${others[*]} re-pointed, all done after $((t2 - t0)) ms"
    for n in "${failed[@]}"; do warn "promote $node: $n"; done
    log "DNS: $PG_CLUSTER.cluster-$DOMAIN -> ${ADDR[$node]} after ${DNS_LAG}s"
    echo "promoted: $node"
}

pg_rebuild() { # node writer: fresh base backup from the writer
    local n=$1 w=$2 d=$LAB/$1
    log "rejoin $n: rebuilding from a base backup of $w"
    rm -rf "$d/data"
    "${AS_PG[@]}" "$PG_BIN/pg_basebackup" -h "$LAB/$w" -p "$PG_SERVER_PORT" -U postgres -D "$d/data" \
        -X stream -c fast --no-sync >>"$d/rejoin.log" 2>&1 || { tail_log "$d/rejoin.log"; die "pg_basebackup failed"; }
    pg_write_standby_conf "$n" "$w"
}

pg_rejoin() {
    local n=$1 w t0 tli role d=$LAB/$1
    w=$(writer_of pg) || die "there is no PostgreSQL writer"
    [[ $n == "$w" ]] && die "$n is the writer"
    pg_frozen "$n" && die "$n is frozen; thaw it first"
    role=$(role_of "$n")
    t0=$(now_ms)
    tli=$(pg_timeline "$w")
    if pg_alive "$n"; then
        if [[ $role == reader && $(pg_psql "$n" postgres -c "SELECT pg_is_in_recovery()" 2>/dev/null) == t ]]; then
            if pg_wait_following "$n" "$tli" 0; then
                log "rejoin $n: already following $w"
                return 0
            fi
            pg_psql "$n" postgres >/dev/null <<EOF
ALTER SYSTEM SET primary_conninfo = 'host=${ADDR[$w]} port=$PG_SERVER_PORT user=$PG_REPL_USER password=$REPL_PASSWORD application_name=$n connect_timeout=2';
SELECT pg_reload_conf();
EOF
            if pg_wait_following "$n" "$tli" 3; then
                log "rejoin $n: re-pointed to $w in $(($(now_ms) - t0)) ms"
                return 0
            fi
        fi
        pg_hard_kill "$n"
    fi
    if [[ $role == former-writer ]]; then
        # The old writer went on past the fork: rewind it onto the new writer's timeline.
        pg_psql "$w" postgres -c "CHECKPOINT" >/dev/null
        phase "$t0" "checkpoint on $w"
        pg_clear_stale "$n"
        if "${AS_PG[@]}" "$PG_BIN/pg_rewind" --no-sync -D "$d/data" \
            --source-server="host=$LAB/$w port=$PG_SERVER_PORT user=postgres dbname=postgres" >"$d/rejoin.log" 2>&1; then
            phase "$t0" "pg_rewind"
            pg_write_standby_conf "$n" "$w"
        else
            tail -n 5 "$d/rejoin.log" >&2
            pg_rebuild "$n" "$w"
        fi
    else
        pg_write_standby_conf "$n" "$w"
    fi
    pg_start "$n"
    pg_wait_ready "$n"
    phase "$t0" "$n accepts connections"
    if ! pg_wait_following "$n" "$tli" 3; then
        pg_hard_kill "$n"
        pg_rebuild "$n" "$w"
        pg_start "$n"
        pg_wait_ready "$n"
        pg_wait_following "$n" "$tli" 10 || { tail_log "$d/server.log"; die "$n does not follow $w"; }
    fi
    proxy_server "$n" up
    set_role "$n" reader
    schedule_dns_sync
    log "rejoin $n: reader of $w (timeline $tli) after $(($(now_ms) - t0)) ms"
}

pg_freeze() {
    local pm kids
    pm=$(pg_pm_pid "$1")
    pid_alive "$pm" "$LAB/$1/data" || die "$1 is down"
    kill -STOP "$pm"
    kids=$(pgrep -P "$pm" || true)
    # shellcheck disable=SC2086
    [[ -n $kids ]] && kill -STOP $kids 2>/dev/null || true
    echo "$pm $kids" >"$LAB/$1/frozen.pids"
}

pg_thaw() {
    local pm pids
    pm=$(pg_pm_pid "$1")
    pids=$(cat "$LAB/$1/frozen.pids" 2>/dev/null || true)
    pid_alive "$pm" "$LAB/$1/data" && pids+=" $(pgrep -P "$pm" | tr '\n' ' ' || true) $pm"
    # shellcheck disable=SC2086
    [[ -n ${pids// /} ]] && kill -CONT $pids 2>/dev/null || true
    rm -f "$LAB/$1/frozen.pids"
}

# ---------------------------------------------------------------- MariaDB

my_pid() { cat "$LAB/$1/server.pid" 2>/dev/null || true; }
my_alive() { pid_alive "$(my_pid "$1")" "$LAB/$1/data"; }
my_frozen() { local p; p=$(my_pid "$1"); pid_alive "$p" "$LAB/$1/data" && pid_stopped "$p"; }
my_sql() { # node [client args]; root over the node's unix socket
    local n=$1
    shift
    "${MY_CLIENT[@]}" -uroot -S "$LAB/$n/mysql.sock" -N -B --connect-timeout=3 "$@"
}

my_make_template() {
    local tpl=$TPL/mysql stamp tmp pid i=0 sums
    sums=$(md5sum <"$SRC/mariadb/template.sql" | cut -c1-12)
    stamp="rev=$TEMPLATE_REV sql=$sums $(mariadbd --version)"
    [[ -f $tpl/.template-stamp && $(cat "$tpl/.template-stamp") == "$stamp" ]] && return
    log "creating the MariaDB template datadir"
    tmp=$TPL/mysql.tmp.$$
    rm -rf "$tmp" "$tpl"
    mkdir -p "$tmp"
    mariadb-install-db --no-defaults "${MY_USER_OPT[@]}" --datadir="$tmp/data" \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
        --innodb-log-file-size=16M >"$TPL/mysql-install.log" 2>&1 ||
        { tail_log "$TPL/mysql-install.log"; die "mariadb-install-db failed"; }
    # Provision with networking and the binary log off.
    setsid mariadbd --no-defaults "${MY_USER_OPT[@]}" --datadir="$tmp/data" --socket="$tmp/mysql.sock" \
        --pid-file="$tmp/mariadbd.pid" --log-error="$TPL/mysql-template.log" --skip-networking \
        --skip-name-resolve --innodb-log-file-size=16M --innodb-buffer-pool-size=32M \
        --performance-schema=OFF </dev/null >>"$TPL/mysql-template.log" 2>&1 9>&- &
    pid=$!
    until "${MY_CLIENT[@]}" -uroot -S "$tmp/mysql.sock" -e "SELECT 1" >/dev/null 2>&1; do
        pid_alive "$pid" || { tail_log "$TPL/mysql-template.log"; die "the MariaDB template server exited"; }
        (( i++ > START_TIMEOUT * 50 )) && { kill -KILL "$pid"; die "the MariaDB template server did not start"; }
        sleep 0.02
    done
    {
        sed -e "s/@APP_USER@/$APP_USER/g" -e "s/@APP_PASSWORD@/$APP_PASSWORD/g" -e "s/@APP_DB@/$APP_DB/g" \
            -e "s/@REPL_USER@/$MY_REPL_USER/g" -e "s/@REPL_PASSWORD@/$REPL_PASSWORD/g" "$SRC/mariadb/template.sql"
        # The superuser only over the socket: drop root@127.0.0.1, root@::1, root@<hostname>.
        "${MY_CLIENT[@]}" -uroot -S "$tmp/mysql.sock" -N -B -e \
            "SELECT CONCAT('DROP USER ''', User, '''@''', Host, ''';') FROM mysql.user WHERE User = 'root' AND Host <> 'localhost' OR User = ''"
    } | "${MY_CLIENT[@]}" -uroot -S "$tmp/mysql.sock" >>"$TPL/mysql-template.log" 2>&1 ||
        { kill -KILL "$pid"; tail_log "$TPL/mysql-template.log"; die "MariaDB template provisioning failed"; }
    kill -TERM "$pid"
    wait_gone 30 "$pid" || { kill -KILL "$pid"; die "the MariaDB template server did not stop"; }
    rm -f "$tmp/mysql.sock" "$tmp/mariadbd.pid"
    echo "$stamp" >"$tmp/.template-stamp"
    mv "$tmp" "$tpl"
}

# Semi-synchronous replication, on both nodes (either can be the writer): a commit is written and
# synced to the binary log, then waits until the replica has the transaction in its relay log
# (AFTER_SYNC), and only then is committed in InnoDB and acknowledged. Without a connected replica
# (killed, or none yet) the writer does not wait (wait_no_slave=OFF); when a connected replica does
# not answer within the timeout (frozen) the writer goes on asynchronously until it has caught up.
# A replica (read_only=1) starts with init_rpl_role=SLAVE: the crash recovery of a killed writer
# that rejoins as replica then drops the transactions that were never acknowledged (binlog truncation).
my_start() { # node read_only(0|1)
    local n=$1 d=$LAB/$1
    rm -f "$d/mysql.sock"
    setsid mariadbd --no-defaults "${MY_USER_OPT[@]}" \
        --datadir="$d/data" --socket="$d/mysql.sock" --pid-file="$d/mariadbd.pid" --log-error="$d/error.log" \
        --bind-address="${ADDR[$n]}" --port="$MY_SERVER_PORT" --skip-name-resolve \
        --server-id="${MY_SERVER_ID[$n]}" --gtid-domain-id=0 --log-bin=mysql-bin --log-slave-updates=1 \
        --binlog-format=ROW --relay-log=relay-bin --skip-slave-start --read-only="$2" \
        --rpl-semi-sync-master-enabled=ON --rpl-semi-sync-slave-enabled=ON \
        --rpl-semi-sync-master-wait-point=AFTER_SYNC --rpl-semi-sync-master-wait-no-slave=OFF \
        --rpl-semi-sync-master-timeout="$MY_SEMI_SYNC_TIMEOUT_MS" \
        --init-rpl-role="$([[ $2 == 1 ]] && echo SLAVE || echo MASTER)" \
        --report-host="$(node_endpoint "$n")" --report-port="$MY_PORT" \
        --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
        --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 --sync-binlog=0 \
        --performance-schema=OFF --max-connections="${CLUSTER_LAB_MAX_CONNECTIONS:-300}" \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        </dev/null >>"$d/error.log" 2>&1 9>&- &
    echo $! >"$d/server.pid"
}

my_wait_ready() { # NODE...
    local n i=0 pending
    while :; do
        pending=0
        for n in "$@"; do
            "${MY_CLIENT[@]}" -uroot -S "$LAB/$n/mysql.sock" -e "SELECT 1" >/dev/null 2>&1 && continue
            my_alive "$n" || { tail_log "$LAB/$n/error.log"; die "MariaDB $n exited during startup"; }
            pending=1
        done
        ((pending == 0)) && return 0
        (( i++ > START_TIMEOUT * 50 )) && die "MariaDB did not get ready: $*"
        sleep 0.02
    done
}

my_hard_kill() {
    local pid
    pid=$(my_pid "$1")
    pid_alive "$pid" "$LAB/$1/data" || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone 10 "$pid" || die "MariaDB $1 (pid $pid) did not die"
    proxy_server "$1" down nowait
}

my_change_master_sql() { # writer use_gtid
    echo "CHANGE MASTER TO master_host='${ADDR[$1]}', master_port=$MY_SERVER_PORT, master_user='$MY_REPL_USER',
  master_password='$REPL_PASSWORD', master_use_gtid=$2, master_connect_retry=1, master_heartbeat_period=1;"
}

my_wait_caught_up() { # node writer timeout_s
    local pos r
    pos=$(my_sql "$2" -e "SELECT @@gtid_binlog_pos")
    [[ -z $pos ]] && return 0
    r=$(my_sql "$1" -e "SELECT MASTER_GTID_WAIT('$pos', $3)")
    [[ $r == 0 ]]
}

my_up() {
    local n
    for n in "${MY_NODES[@]}"; do
        mkdir -p "$LAB/$n"
        cp -a "$TPL/mysql/data" "$LAB/$n/data"
        my_start "$n" "$([[ $n == my-1 ]] && echo 0 || echo 1)"
        set_role "$n" "$([[ $n == my-1 ]] && echo writer || echo reader)"
    done
    my_wait_ready "${MY_NODES[@]}"
    {
        echo "DELETE FROM mysql.rds_topology;"
        for n in "${MY_NODES[@]}"; do
            echo "INSERT INTO mysql.rds_topology (id, endpoint, port) VALUES (${MY_SERVER_ID[$n]}, '$(node_endpoint "$n")', $MY_PORT);"
        done
        echo "INSERT INTO lab.events (what) VALUES ('up: my-1 writer');"
    } | my_sql my-1 || die "provisioning my-1 failed"
    { my_change_master_sql my-1 slave_pos; echo "START SLAVE;"; } | my_sql my-2 || die "starting replication on my-2 failed"
    my_wait_caught_up my-2 my-1 10 || { tail_log "$LAB/my-2/error.log"; die "my-2 does not replicate from my-1"; }
}

# my_slave_field NODE FIELD [SQL]: run SQL, then print FIELD of SHOW ALL SLAVES STATUS (vertical
# output needs the column names, so not my_sql's -N).
my_slave_field() {
    "${MY_CLIENT[@]}" -uroot -S "$LAB/$1/mysql.sock" --connect-timeout=3 -e "${3:-} SHOW ALL SLAVES STATUS\G" |
        sed -n "s/^ *$2: //p" | head -n 1
}

my_received_seq() { # replica -> sequence number of the last GTID (domain 0) it received
    local pos
    pos=$(my_slave_field "$1" Gtid_IO_Pos)
    [[ -z $pos ]] && pos=$(my_sql "$1" -e "SELECT @@gtid_current_pos")
    pos=$(tr ',' '\n' <<<"$pos" | grep '^0-' | head -n 1)
    echo "${pos##*-}"
}

# promote NODE|auto. With auto, the live unfrozen replica that received the most (with two nodes: the
# replica). Semi-synchronous replication puts every acknowledged commit in its relay log; the relay
# log is applied before the replica is made writable.
my_promote() {
    local req=$1 node old n t0 t1 pos seq best="" bestseq=-1 cands=()
    old=$(writer_of my || true)
    if [[ $req == auto ]]; then
        for n in "${MY_NODES[@]}"; do
            [[ $n != "$old" && $(role_of "$n") == reader ]] && my_alive "$n" && ! my_frozen "$n" && cands+=("$n")
        done
        ((${#cands[@]} > 0)) || die "promote auto --engine mariadb: no live, unfrozen replica to promote"
    else
        [[ $req == "$old" ]] && { log "$req is already the writer"; return 0; }
        my_alive "$req" || die "$req is down; cannot promote it (rejoin it first)"
        my_frozen "$req" && die "$req is frozen; thaw it first"
        cands=("$req")
    fi
    t0=$(now_ms)
    if [[ -n $old ]]; then
        my_hard_kill "$old"
        set_role "$old" former-writer
    fi
    for n in "${cands[@]}"; do
        seq=$(my_received_seq "$n")
        if ((${seq:-0} > bestseq)); then best=$n bestseq=${seq:-0}; fi
    done
    node=$best
    [[ $req == auto ]] && log "promote auto: $node (received up to GTID sequence $bestseq)"
    # Apply what was already received (like RDS does) before dropping the replication config:
    # RESET SLAVE ALL deletes the relay log, and with it any acknowledged commit not yet applied.
    # The SQL thread is started first, in case a test stopped it: with both threads stopped, START
    # SLAVE would discard the relay log (GTID mode).
    pos=$(my_slave_field "$node" Gtid_IO_Pos "START SLAVE SQL_THREAD; STOP SLAVE IO_THREAD;")
    if [[ -n $pos ]]; then
        [[ $(my_sql "$node" -e "SELECT MASTER_GTID_WAIT('$pos', 30)") == 0 ]] ||
            die "promote $node: it did not apply its relay log up to $pos within 30 s (see SHOW SLAVE STATUS on $node); not promoted, the old writer ${old:-none} stays fenced"
    fi
    my_sql "$node" -e "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;
        INSERT INTO lab.events (what) VALUES ('promote $node (old writer ${old:-none})');" ||
        die "promoting $node failed"
    t1=$(now_ms)
    set_role "$node" writer
    schedule_dns_sync
    for n in "${MY_NODES[@]}"; do
        [[ $n == "$node" || $(role_of "$n") != reader ]] && continue
        if my_alive "$n" && ! my_frozen "$n"; then
            { echo "STOP SLAVE;"; my_change_master_sql "$node" current_pos; echo "START SLAVE;"; } | my_sql "$n" ||
                warn "re-pointing $n failed: run rejoin $n"
        else
            warn "$n is down or frozen: run rejoin $n"
        fi
    done
    log "promote $node: writable after $((t1 - t0)) ms (applied the relay log up to ${pos:-nothing}; old writer ${old:-none} fenced)"
    log "DNS: $MY_CLUSTER.cluster-$DOMAIN -> ${ADDR[$node]} after ${DNS_LAG}s"
    echo "promoted: $node"
}

my_rejoin() {
    local n=$1 w t0
    w=$(writer_of my) || die "there is no MariaDB writer"
    [[ $n == "$w" ]] && die "$n is the writer"
    my_frozen "$n" && die "$n is frozen; thaw it first"
    t0=$(now_ms)
    if ! my_alive "$n"; then
        my_start "$n" 1
        my_wait_ready "$n"
    fi
    proxy_server "$n" up
    { echo "SET GLOBAL read_only = 1; STOP SLAVE; RESET SLAVE ALL;"; my_change_master_sql "$w" current_pos; echo "START SLAVE;"; } |
        my_sql "$n" || die "re-pointing $n failed"
    if ! my_wait_caught_up "$n" "$w" 10; then
        my_sql "$n" -e "SHOW SLAVE STATUS\G" | grep -E 'Running|Last_.*Error:' >&2 || true
        die "$n does not replicate from $w"
    fi
    set_role "$n" reader
    schedule_dns_sync
    log "rejoin $n: reader of $w after $(($(now_ms) - t0)) ms"
}

# ---------------------------------------------------------------- commands

cmd_prepare() { # engines (space separated)
    mkdir -p "$TPL"
    chmod 755 "$CACHE" "$TPL"
    if [[ " $1 " == *" pg "* ]]; then
        pg_build_module
        pg_make_template
    fi
    if [[ " $1 " == *" my "* ]]; then
        command -v mariadbd >/dev/null || die "mariadbd not found (apt-get install mariadb-server)"
        my_make_template
    fi
}

UP_CLEANUP=0
up_cleanup() {
    if ((UP_CLEANUP == 1)); then
        UP_CLEANUP=0
        echo "cluster-lab: up failed; stopping what was started" >&2
        do_down >/dev/null 2>&1 || true
    fi
}

cmd_up() {
    local engine=both flavor=aurora lag=2 engines t0 t1 pids=() p rc=0
    while (($#)); do
        case $1 in
            --engine) engine=${2:-}; shift 2 || die "--engine needs a value" ;;
            --engine=*) engine=${1#*=}; shift ;;
            --flavor) flavor=${2:-}; shift 2 || die "--flavor needs a value" ;;
            --flavor=*) flavor=${1#*=}; shift ;;
            --dns-lag) lag=${2:-}; shift 2 || die "--dns-lag needs a value" ;;
            --dns-lag=*) lag=${1#*=}; shift ;;
            *) die "unknown option for up: $1" ;;
        esac
    done
    case $engine in
        pg) engines=pg ;;
        mariadb | my) engines=my ;;
        both) engines="pg my" ;;
        *) die "--engine must be pg, mariadb or both" ;;
    esac
    [[ $flavor == aurora || $flavor == multi-az ]] || die "--flavor must be aurora or multi-az"
    [[ $lag =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--dns-lag must be a number of seconds"
    [[ " $engines " == *" pg "* ]] && find_pg_bin

    take_lock
    if lab_exists; then
        # shellcheck disable=SC1091
        source "$LAB/config"
        if pid_alive "$(proxy_pid)"; then
            [[ $ENGINES == "$engines" && $FLAVOR == "$flavor" && $DNS_LAG == "$lag" ]] ||
                die "the lab is already up with engines '$ENGINES', flavor $FLAVOR, dns lag $DNS_LAG; run down first"
            log "already up (engines $ENGINES, flavor $FLAVOR, dns lag ${DNS_LAG}s)"
            return 0
        fi
        log "removing the state of a lab that is no longer running"
        do_down
    fi
    ENGINES=$engines FLAVOR=$flavor DNS_LAG=$lag
    local tp=$(now_ms)
    cmd_prepare "$ENGINES"
    t0=$(now_ms)
    (( t0 - tp > 200 )) && log "prepare took $((t0 - tp)) ms"

    UP_CLEANUP=1
    trap up_cleanup EXIT
    rm -rf "$LAB"
    mkdir -p "$LAB/roles"
    chmod 755 "$LAB"
    printf 'ENGINES="%s"\nFLAVOR=%s\nDNS_LAG=%s\n' "$ENGINES" "$FLAVOR" "$DNS_LAG" >"$LAB/config"
    proxy_start
    if engine_on pg; then pg_up & pids+=($!); fi
    if engine_on my; then my_up & pids+=($!); fi
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    ((rc == 0)) || die "starting the servers failed"
    proxy_wait_ready
    dns_sync_now
    UP_CLEANUP=0
    trap - EXIT
    t1=$(now_ms)
    log "up in $((t1 - t0)) ms: engines $ENGINES, flavor $FLAVOR, dns lag ${DNS_LAG}s; hosts file $LAB/hosts"
}

do_down() { # with the lock held
    local pids=() n p
    [[ -d $LAB ]] || return 0
    dns_job_stop
    p=$(proxy_pid)
    pid_alive "$p" && pids+=("$p")
    for n in "${PG_NODES[@]}"; do
        p=$(pg_pm_pid "$n")
        if pid_alive "$p" "$LAB/$n/data"; then
            kill -STOP "$p" 2>/dev/null || true
            pids+=("$p" $(pgrep -P "$p" || true))
        fi
    done
    for n in "${MY_NODES[@]}"; do
        p=$(my_pid "$n")
        pid_alive "$p" "$LAB/$n/data" && pids+=("$p")
    done
    if ((${#pids[@]} > 0)); then
        kill -KILL "${pids[@]}" 2>/dev/null || true
        wait_gone 10 "${pids[@]}" || die "processes did not stop: ${pids[*]}"
    fi
    for n in "${PG_NODES[@]}"; do pg_release_shm "$n"; done
    rm -rf "$LAB"
}

cmd_down() {
    local t0
    t0=$(now_ms)
    take_lock
    if [[ ! -d $LAB ]]; then
        log "already down"
        return 0
    fi
    do_down
    log "down in $(($(now_ms) - t0)) ms"
}

cmd_clean() {
    cmd_down
    rm -rf "$CACHE/templates" "$CACHE/lib" "$CACHE/apt.log"
    log "removed the templates in $CACHE"
}

proc_state() { # engine node -> running | frozen | down
    local p
    if [[ $1 == pg ]]; then p=$(pg_pm_pid "$2"); else p=$(my_pid "$2"); fi
    if ! pid_alive "$p" "$LAB/$2/data"; then echo down; elif pid_stopped "$p"; then echo frozen; else echo running; fi
}

cmd_status() {
    local e n st info due rc=0 w
    if ! lab_exists; then
        echo "cluster-lab: down"
        return 3
    fi
    load_config
    [[ " $ENGINES " == *" pg "* ]] && find_pg_bin
    echo "cluster-lab: engines $ENGINES, flavor $FLAVOR, dns lag ${DNS_LAG}s, state $LAB"
    if pid_alive "$(proxy_pid)"; then
        echo "proxy: running (pid $(proxy_pid))"
    else
        echo "proxy: NOT RUNNING (see $LAB/proxy/proxy.log)"
        rc=3
    fi
    printf '%-5s %-13s %-11s %-8s %-22s %s\n' NODE ROLE ADDRESS SERVER PROXY DETAIL
    for e in pg my; do
        engine_on "$e" || continue
        for n in $(engine_nodes "$e"); do
            st=$(proc_state "$e" "$n")
            info=""
            if [[ $st == running ]]; then
                if [[ $e == pg ]]; then
                    info=$(timeout 3 psql -X -q -At -F ' ' -h "$LAB/$n" -p "$PG_SERVER_PORT" -U postgres -d postgres -c \
                        "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END,
                                'id=' || pg_catalog.current_setting('lab.instance_id'),
                                CASE WHEN pg_is_in_recovery()
                                     THEN coalesce((SELECT 'wal-receiver=' || status || ' from=' || sender_host || ' tli=' || received_tli FROM pg_stat_wal_receiver), 'wal-receiver=none')
                                     ELSE 'tli=' || ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
                                          || ' standbys=' || coalesce((SELECT string_agg(application_name || ':' || state || '/' || sync_state, ',') FROM pg_stat_replication), '-')
                                          || CASE WHEN current_setting('synchronous_standby_names') = '' THEN ' commits=async' ELSE ' commits=sync' END END" 2>&1 | tr '\n' ' ' || true)
                else
                    info=$(timeout 3 "${MY_CLIENT[@]}" -uroot -S "$LAB/$n/mysql.sock" -N -B -e \
                        "SELECT CONCAT('read_only=', @@read_only, ' server_id=', @@server_id, ' gtid=', @@gtid_current_pos,
                                IF(@@read_only, ' semisync-replica=', ' semisync-writer='), (SELECT LOWER(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS
                                WHERE VARIABLE_NAME = IF(@@read_only, 'RPL_SEMI_SYNC_SLAVE_STATUS', 'RPL_SEMI_SYNC_MASTER_STATUS')))" 2>&1 || true)
                    info+=" $(timeout 3 "${MY_CLIENT[@]}" -uroot -S "$LAB/$n/mysql.sock" -e 'SHOW SLAVE STATUS\G' 2>/dev/null |
                        awk -F': ' '/ Master_Host:/{h=$2} / Slave_IO_Running:/{io=$2} / Slave_SQL_Running:/{sq=$2} END{if (h != "") print "replica-of=" h " io=" io " sql=" sq}' || true)"
                fi
            fi
            printf '%-5s %-13s %-11s %-8s %-22s %s\n' "$n" "$(role_of "$n")" "${ADDR[$n]}" "$st" "$(proxy_mode_of "$n")" "$info"
        done
        w=$(writer_of "$e" || echo none)
        echo "  writer (truth): $w"
    done
    echo "hosts file $LAB/hosts:"
    grep -E 'cluster-' "$LAB/hosts" | sed 's/^/  /'
    for due in "$LAB"/dns-queue/*; do
        [[ -d $due ]] || continue
        due=$((10#${due##*/}))
        echo "  DNS update pending, due in $((due - $(now_ms))) ms"
    done
    return $rc
}

cmd_env() {
    local e n up=0 E cluster nodes port sport writer
    if lab_exists; then
        load_config
        up=1
    else
        ENGINES="pg my" FLAVOR=aurora DNS_LAG=2
        echo "cluster-lab: the lab is down; printing the default layout" >&2
    fi
    q() { printf "export %s='%s'\n" "$1" "$2"; }
    q CLUSTER_LAB_UP "$up"
    q CLUSTER_LAB_DIR "$LAB"
    q CLUSTER_LAB_HOSTS_FILE "$LAB/hosts"
    q CLUSTER_LAB_SCRIPT "$SELF"
    q CLUSTER_LAB_PROXY_CONTROL_DIR "$LAB/proxy"
    q CLUSTER_LAB_ENGINES "$ENGINES"
    q CLUSTER_LAB_FLAVOR "$FLAVOR"
    q CLUSTER_LAB_DNS_LAG "$DNS_LAG"
    q CLUSTER_LAB_DOMAIN "$DOMAIN"
    q CLUSTER_LAB_USER "$APP_USER"
    q CLUSTER_LAB_PASSWORD "$APP_PASSWORD"
    q CLUSTER_LAB_DATABASE "$APP_DB"
    for e in pg my; do
        engine_on "$e" || continue
        if [[ $e == pg ]]; then
            E=PG cluster=$PG_CLUSTER port=$PG_PORT sport=$PG_SERVER_PORT
        else
            E=MY cluster=$MY_CLUSTER port=$MY_PORT sport=$MY_SERVER_PORT
        fi
        nodes=$(engine_nodes "$e")
        writer=$(writer_of "$e" 2>/dev/null || echo "${nodes%% *}")
        q "CLUSTER_LAB_${E}_NODES" "$nodes"
        q "CLUSTER_LAB_${E}_PORT" "$port"
        q "CLUSTER_LAB_${E}_SERVER_PORT" "$sport"
        q "CLUSTER_LAB_${E}_WRITER" "$writer"
        q "CLUSTER_LAB_${E}_CLUSTER_ENDPOINT" "$cluster.cluster-$DOMAIN"
        q "CLUSTER_LAB_${E}_READER_ENDPOINT" "$cluster.cluster-ro-$DOMAIN"
        q "CLUSTER_LAB_${E}_INSTANCE_HOST_PATTERN" "?.$DOMAIN"
        if [[ $e == pg ]]; then
            q CLUSTER_LAB_PG_SUPERUSER postgres
            q CLUSTER_LAB_PG_DIALECT "$([[ $FLAVOR == aurora ]] && echo aurora-pg || echo multi-az-pg)"
        else
            q CLUSTER_LAB_MY_SUPERUSER root
            q CLUSTER_LAB_MY_DIALECT multi-az-mysql
        fi
        for n in $nodes; do
            local V="CLUSTER_LAB_${E}_${n##*-}"
            q "${V}_HOST" "${ADDR[$n]}"
            q "${V}_ID" "$(node_id "$n")"
            q "${V}_ENDPOINT" "$(node_endpoint "$n")"
            if [[ $e == pg ]]; then q "${V}_SOCKET_DIR" "$LAB/$n"; else q "${V}_SOCKET" "$LAB/$n/mysql.sock"; fi
        done
    done
}

# Fault commands: NODE checks, the lock, then the action.
node_cmd_prelude() {
    load_config
    check_node "${1:-}"
    [[ $(node_engine "$1") == pg ]] && find_pg_bin
    take_lock
    lab_exists || die "the lab went down"
}

cmd_kill() {
    node_cmd_prelude "$@"
    if [[ $(node_engine "$1") == pg ]]; then
        pg_alive "$1" || { log "$1 is already down"; return 0; }
        pg_hard_kill "$1"
    else
        my_alive "$1" || { log "$1 is already down"; return 0; }
        my_hard_kill "$1"
    fi
    rm -f "$LAB/$1/frozen.pids"
    proxy_server "$1" down
    log "killed $1 ($(role_of "$1"))"
    [[ $(node_engine "$1") == pg ]] && pg_sync_check
    return 0
}

cmd_freeze() {
    node_cmd_prelude "$@"
    if [[ $(node_engine "$1") == pg ]]; then
        pg_frozen "$1" && { log "$1 is already frozen"; return 0; }
        pg_freeze "$1"
    else
        my_alive "$1" || die "$1 is down"
        my_frozen "$1" && { log "$1 is already frozen"; return 0; }
        kill -STOP "$(my_pid "$1")"
    fi
    log "froze $1"
}

cmd_thaw() {
    node_cmd_prelude "$@"
    if [[ $(node_engine "$1") == pg ]]; then
        pg_thaw "$1"
    else
        my_alive "$1" && kill -CONT "$(my_pid "$1")"
    fi
    log "thawed $1"
    [[ $(node_engine "$1") == pg ]] && pg_sync_check
    return 0
}

cmd_proxy() { # mode node [ms]
    local mode=$1
    shift
    node_cmd_prelude "$@"
    case $mode in
        delay)
            [[ ${2:-} =~ ^[0-9]+$ ]] || die "usage: $0 delay NODE MILLISECONDS"
            proxy_set "$1" "delay $2"
            log "$1: proxy delays $2 ms each way"
            ;;
        *)
            proxy_set "$1" "$mode"
            log "$1: proxy $mode"
            ;;
    esac
}

cmd_promote() { # NODE | auto [--engine pg|mariadb]
    local engine=""
    if [[ ${1:-} == auto ]]; then
        case ${2:-} in
            "") ;;
            --engine) engine=${3:-} ;;
            --engine=*) engine=${2#*=} ;;
            *) die "usage: $0 promote NODE | $0 promote auto [--engine pg|mariadb]" ;;
        esac
        load_config
        case $engine in
            "") if engine_on pg; then engine=pg; else engine=my; fi ;;
            pg) ;;
            mariadb | my) engine=my ;;
            *) die "--engine must be pg or mariadb" ;;
        esac
        engine_on "$engine" || die "engine $engine is not part of this lab (engines: $ENGINES)"
        [[ $engine == pg ]] && find_pg_bin
        take_lock
        lab_exists || die "the lab went down"
        if [[ $engine == pg ]]; then pg_promote auto; else my_promote auto; fi
        return
    fi
    node_cmd_prelude "$@"
    if [[ $(node_engine "$1") == pg ]]; then pg_promote "$1"; else my_promote "$1"; fi
}

cmd_rejoin() {
    node_cmd_prelude "$@"
    if [[ $(node_engine "$1") == pg ]]; then
        pg_rejoin "$1"
        pg_sync_check "$1"
    else
        my_rejoin "$1"
    fi
}

usage() {
    sed -n '2,23p' "$SELF" | sed 's/^# \{0,1\}//'
    exit 2
}

cd /
cmd=${1:-}
(($#)) && shift
case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    clean) cmd_clean ;;
    status) cmd_status ;;
    env) cmd_env ;;
    prepare)
        find_pg_bin
        take_lock
        cmd_prepare "pg my"
        ;;
    kill) cmd_kill "$@" ;;
    freeze) cmd_freeze "$@" ;;
    thaw) cmd_thaw "$@" ;;
    blackhole) cmd_proxy blackhole "$@" ;;
    delay) cmd_proxy delay "$@" ;;
    heal) cmd_proxy pass "$@" ;;
    promote) cmd_promote "$@" ;;
    rejoin) cmd_rejoin "$@" ;;
    _dns-sync) cmd_dns_sync "$@" ;;
    -h | --help | help | "") usage ;;
    *) echo "cluster-lab: unknown command '$cmd'" >&2; usage ;;
esac
