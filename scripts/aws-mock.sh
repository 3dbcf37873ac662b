#!/usr/bin/env bash
# Local mock AWS on 127.0.0.1 for the project's tests: a moto server plus lab/aws_metadata_server.py.
#
#   scripts/aws-mock.sh start     start both (no-op for a server already running); installs moto if missing
#   scripts/aws-mock.sh stop      stop both and delete their pid files (logs are kept until the next start)
#   scripts/aws-mock.sh status    show state; exit 0 only if both are running
#   scripts/aws-mock.sh env       print `export WRAPPER_AWS_*=...` lines; use: eval "$(scripts/aws-mock.sh env)"
#   scripts/aws-mock.sh reset     drop all of moto's state (POST /moto-api/reset)
#   scripts/aws-mock.sh install   install moto (with its server extras) if it is missing
#
# Settings (environment): WRAPPER_AWS_PORT (54566), WRAPPER_AWS_METADATA_PORT (54567),
# WRAPPER_AWS_DIR (/tmp/swift-wrapper-aws), WRAPPER_PYTHON (python3).
#
# moto (WRAPPER_AWS_ENDPOINT) is one endpoint for every service. It routes a request by the
# credential scope in its Authorization header (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`),
# not by the Host header, and does not check signatures. Unsigned STS AssumeRoleWithWebIdentity is
# routed by the `Action=` in its form body. Account 123456789012.
#
# The metadata server (WRAPPER_AWS_METADATA_ENDPOINT) is an IMDSv2 stand-in (token required) and a
# container credentials endpoint; the keys it hands out come from moto's STS AssumeRole on role
# WRAPPER_AWS_ROLE_NAME. See the docstring of lab/aws_metadata_server.py for its routes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORT=${WRAPPER_AWS_PORT:-54566}
MD_PORT=${WRAPPER_AWS_METADATA_PORT:-54567}
AWS_DIR=$(realpath -m "${WRAPPER_AWS_DIR:-/tmp/swift-wrapper-aws}")
PY=${WRAPPER_PYTHON:-python3}
REGION=us-east-1
ACCOUNT=123456789012
ROLE=wrapper-role
CONTAINER_TOKEN=wrapper-container-token
# The request shapes the tests rely on were checked against moto 5.2.1 and 5.2.5.
MOTO_REQUIREMENT='moto[server]>=5.2.1,<6'

MOTO_PID=$AWS_DIR/moto.pid
MOTO_LOG=$AWS_DIR/moto.log
MD_PID=$AWS_DIR/metadata.pid
MD_LOG=$AWS_DIR/metadata.log
MD_SCRIPT=$ROOT/lab/aws_metadata_server.py

START_TIMEOUT=30

log() { echo "aws-mock: $*"; }
die() { echo "aws-mock: error: $*" >&2; exit 1; }

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

read_pid() { [[ -f $1 ]] && cat "$1" || true; }

# http_ok URL: true if a GET of URL answers 2xx within 2 seconds.
http_ok() {
    if command -v curl >/dev/null; then
        curl -sf -o /dev/null --max-time 2 "$1"
    else
        "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" >/dev/null 2>&1
    fi
}

moto_answering() { http_ok "http://127.0.0.1:$PORT/moto-api/"; }
md_answering() { http_ok "http://127.0.0.1:$MD_PORT/healthz"; }

# ---------------------------------------------------------------- moto installation

moto_installed() { "$PY" -c 'import moto.server' >/dev/null 2>&1; }

# Idempotent. On a fresh Debian machine (root, system python) this may first install python3-pip
# with apt, and pip then needs --break-system-packages (PEP 668).
install_moto() {
    moto_installed && return
    command -v "$PY" >/dev/null || die "$PY not found (install python3)"
    mkdir -p "$AWS_DIR"
    local ilog=$AWS_DIR/moto-install.log
    : >"$ilog"
    if ! "$PY" -m pip --version >/dev/null 2>&1; then
        [[ ${EUID} -eq 0 ]] && command -v apt-get >/dev/null || die "pip is missing for $PY; install python3-pip"
        log "installing python3-pip"
        {
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pip ||
                { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
                  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pip; }
        } >>"$ilog" 2>&1 9>&- || { tail_log "$ilog"; die "could not install python3-pip"; }
    fi
    log "installing $MOTO_REQUIREMENT with $("$PY" -c 'import sys; print(sys.executable)')"
    local pip=("$PY" -m pip install -q --disable-pip-version-check)
    if [[ ${EUID} -eq 0 ]]; then pip+=(--root-user-action=ignore); fi
    if ! "${pip[@]}" "$MOTO_REQUIREMENT" >>"$ilog" 2>&1 9>&-; then
        if grep -q externally-managed-environment "$ilog"; then
            "${pip[@]}" --break-system-packages "$MOTO_REQUIREMENT" >>"$ilog" 2>&1 9>&- ||
                { tail_log "$ilog"; die "pip install of moto failed"; }
        else
            tail_log "$ilog"
            die "pip install of moto failed"
        fi
    fi
    moto_installed || { tail_log "$ilog"; die "moto installed but 'import moto.server' still fails"; }
}

# ---------------------------------------------------------------- processes

# spawn PIDFILE LOG CMD...: start CMD in its own session, detached from the caller: stdin from
# /dev/null, stdout/stderr to LOG, and every other inherited descriptor (the caller's pipes, our
# lock) closed, so nobody waiting for the caller's output waits for the server too.
spawn() {
    local pidfile=$1 logfile=$2
    shift 2
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if (( fd > 2 )); then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec setsid "$@" </dev/null >"$logfile" 2>&1
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$pidfile"
}

# wait_ready NAME PIDFILE LOG PROBE: poll PROBE until it succeeds, the process dies, or time runs out.
wait_ready() {
    local name=$1 pidfile=$2 logfile=$3 probe=$4 pid waited=0
    pid=$(read_pid "$pidfile")
    until $probe; do
        if ! pid_alive "$pid"; then
            rm -f "$pidfile"
            tail_log "$logfile"
            die "$name exited during startup"
        fi
        if (( waited >= START_TIMEOUT * 10 )); then
            stop_pid "$name" "$pidfile"
            tail_log "$logfile"
            die "$name did not answer within ${START_TIMEOUT}s"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# stop_pid NAME PIDFILE: SIGTERM (to the whole session group the server leads), then SIGKILL.
stop_pid() {
    local name=$1 pidfile=$2 pid waited=0 target
    pid=$(read_pid "$pidfile")
    if pid_alive "$pid"; then
        target=$pid
        # spawn() made the server a session and group leader; signal its group so that any
        # children it made go too. Only if it really leads its own group.
        if [[ $(sed -E 's/^.*\) . [0-9]+ ([0-9]+) .*$/\1/' "/proc/$pid/stat" 2>/dev/null) == "$pid" ]]; then
            target=-$pid
        fi
        kill -TERM -- "$target" 2>/dev/null || true
        while pid_alive "$pid"; do
            if (( waited >= 100 )); then
                log "$name (pid $pid) ignored SIGTERM for 10s; killing"
                kill -KILL -- "$target" 2>/dev/null || true
                sleep 0.2
                break
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
        log "$name stopped"
    fi
    rm -f "$pidfile"
}

# start_one NAME PIDFILE LOG PORT PROBE CMD...
start_one() {
    local name=$1 pidfile=$2 logfile=$3 port=$4 probe=$5 pid
    shift 5
    pid=$(read_pid "$pidfile")
    if pid_alive "$pid"; then
        if $probe; then
            log "$name already running (pid $pid, 127.0.0.1:$port)"
            return
        fi
        die "$name pid $pid is alive but not answering on 127.0.0.1:$port; run stop first"
    fi
    rm -f "$pidfile"
    if $probe; then
        die "something else already answers on 127.0.0.1:$port (not started by this script)"
    fi
    spawn "$pidfile" "$logfile" "$@"
    wait_ready "$name" "$pidfile" "$logfile" "$probe"
    log "$name started (pid $(read_pid "$pidfile"), 127.0.0.1:$port)"
}

status_one() {
    local name=$1 pidfile=$2 port=$3 probe=$4 pid
    pid=$(read_pid "$pidfile")
    if pid_alive "$pid" && $probe; then
        echo "$name: running (pid $pid, http://127.0.0.1:$port)"
        return 0
    fi
    echo "$name: stopped"
    return 1
}

# Serialise concurrent start/stop calls on the same state directory.
take_lock() {
    mkdir -p "$AWS_DIR"
    exec 9>"$AWS_DIR/.lock"
    flock -w 120 9 || die "timed out waiting for the lock on $AWS_DIR/.lock"
}

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

cmd=${1:-}
case $cmd in
    start)
        cd /
        take_lock
        # Skip the (slowish) import check when our moto is already up.
        pid_alive "$(read_pid "$MOTO_PID")" || install_moto
        [[ -f $MD_SCRIPT ]] || die "$MD_SCRIPT not found"
        start_one moto "$MOTO_PID" "$MOTO_LOG" "$PORT" moto_answering \
            "$PY" -m moto.server -H 127.0.0.1 -p "$PORT"
        start_one aws-metadata "$MD_PID" "$MD_LOG" "$MD_PORT" md_answering \
            "$PY" "$MD_SCRIPT" --host 127.0.0.1 --port "$MD_PORT" --moto "http://127.0.0.1:$PORT" \
            --region "$REGION" --account "$ACCOUNT" --role "$ROLE" --container-token "$CONTAINER_TOKEN"
        ;;
    stop)
        if [[ -d $AWS_DIR ]]; then
            take_lock
            stop_pid aws-metadata "$MD_PID"
            stop_pid moto "$MOTO_PID"
        fi
        ;;
    status)
        rc=0
        status_one moto "$MOTO_PID" "$PORT" moto_answering || rc=3
        status_one aws-metadata "$MD_PID" "$MD_PORT" md_answering || rc=3
        exit "$rc"
        ;;
    env)
        cat <<EOF
export WRAPPER_AWS_ENDPOINT=http://127.0.0.1:$PORT
export WRAPPER_AWS_METADATA_ENDPOINT=http://127.0.0.1:$MD_PORT
export WRAPPER_AWS_REGION=$REGION
export WRAPPER_AWS_ACCOUNT_ID=$ACCOUNT
export WRAPPER_AWS_ROLE_NAME=$ROLE
export WRAPPER_AWS_CONTAINER_AUTH_TOKEN=$CONTAINER_TOKEN
EOF
        ;;
    reset)
        if command -v curl >/dev/null; then
            curl -sf -X POST --max-time 10 "http://127.0.0.1:$PORT/moto-api/reset" >/dev/null
        else
            "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"", method="POST"), timeout=10)' \
                "http://127.0.0.1:$PORT/moto-api/reset"
        fi || die "moto did not accept the reset (is it running?)"
        log "moto state reset"
        ;;
    install)
        install_moto
        log "moto is installed ($("$PY" -c 'import moto; print(moto.__version__)'))"
        ;;
    *)
        usage
        ;;
esac
