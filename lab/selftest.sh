#!/usr/bin/env bash
# End-to-end check of the cluster lab from the shell: replication, every fault, promotion, rejoin,
# the emulated DNS lag and the dialect queries, for both engines and both PG flavors.
# Starts from a DOWN lab (it runs `down` first) and leaves it DOWN. Takes about a minute.
#
#   lab/selftest.sh        exit 0 if every check passes
set -uo pipefail

L=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../scripts/cluster-lab.sh
DQ=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/dialect-queries.sh
PASS=0 FAIL=0
TIMINGS=()

ok() { PASS=$((PASS + 1)); echo "  ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "  FAIL $*"; }
expect() { # name actual expected
    if [[ $2 == "$3" ]]; then ok "$1 ($2)"; else bad "$1: got [$2] want [$3]"; fi
}
ms() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }
timed() { # label command...: run, record wall time
    local t0 t1 rc
    t0=$(ms)
    "$@"
    rc=$?
    t1=$(ms)
    TIMINGS+=("$(printf '%-34s %6d ms' "${*:2}" $((t1 - t0)))")
    return $rc
}
lab() { timed "$L" "$@"; }

load_env() { eval "$("$L" env 2>/dev/null)"; export PGPASSWORD=$CLUSTER_LAB_PASSWORD PGCONNECT_TIMEOUT=3; }
pg() { # host sql [timeout_s]
    timeout "${3:-5}" psql -X -q -At -h "$1" -p "$CLUSTER_LAB_PG_PORT" -U wrapper -d wrapper_test -c "$2" 2>&1
}
pgdirect() { timeout "${3:-5}" psql -X -q -At -h "$1" -p "$CLUSTER_LAB_PG_SERVER_PORT" -U wrapper -d wrapper_test -c "$2" 2>&1; }
my() { timeout "${3:-5}" mariadb --no-defaults -h "$1" -P "$CLUSTER_LAB_MY_PORT" -uwrapper -pwrapper_pw -D wrapper_test -N -B -e "$2" 2>&1; }
resolve() { awk -v n="$1" '$1 == n {print $2}' "$CLUSTER_LAB_HOSTS_FILE" | paste -sd,; }
aurora_writer() { pg "$1" "SELECT server_id FROM pg_catalog.aurora_replica_status() WHERE session_id = 'MASTER_SESSION_ID'"; }
eq() { local want=$1; shift; [[ $("$@") == "$want" ]]; }
wait_for() { # timeout_s command...: retry until it succeeds
    local end=$(($(ms) + $1 * 1000))
    shift
    until "$@" >/dev/null 2>&1; do (($(ms) > end)) && return 1; sleep 0.05; done
}
lab_processes() { # anything still running from the lab's state dir
    local p
    for p in /proc/[0-9]*; do
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "$1/" && echo "${p#/proc/}"
    done
}

echo "== down, then up (aurora, both engines, DNS lag 1 s)"
"$L" down >/dev/null
lab up --dns-lag 1 || { echo "up failed"; exit 1; }
load_env
STATE=$CLUSTER_LAB_DIR
expect "up is idempotent" "$("$L" up --dns-lag 1 2>&1 | grep -c 'already up')" 1
"$L" up --flavor multi-az >/dev/null 2>&1 && bad "up with another flavor must fail" || ok "up with another flavor fails"
"$DQ" >/tmp/lab-dq.out 2>&1 && ok "dialect queries ($(tail -n1 /tmp/lab-dq.out))" || { bad "dialect queries"; cat /tmp/lab-dq.out; }

echo "== replication"
pg 127.0.0.11 "CREATE TABLE selftest(id int PRIMARY KEY, v text); INSERT INTO selftest VALUES (1, 'one')" >/dev/null
wait_for 5 eq 1 pg 127.0.0.12 'SELECT count(*) FROM selftest'
expect "pg-2 sees the row" "$(pg 127.0.0.12 'SELECT v FROM selftest')" one
expect "pg-3 sees the row" "$(pg 127.0.0.13 'SELECT v FROM selftest')" one
expect "pg-2 is read-only" "$(pg 127.0.0.12 "INSERT INTO selftest VALUES (2, 'x')" | grep -c 'read-only transaction')" 1
my 127.0.0.21 "CREATE TABLE selftest(id int PRIMARY KEY, v text); INSERT INTO selftest VALUES (1, 'one')"
wait_for 5 eq 1 my 127.0.0.22 'SELECT count(*) FROM selftest'
expect "my-2 sees the row" "$(my 127.0.0.22 'SELECT v FROM selftest')" one
expect "my-2 is read-only" "$(my 127.0.0.22 "INSERT INTO selftest VALUES (2, 'x')" | grep -c 'read-only')" 1

echo "== freeze / thaw"
lab freeze pg-2
pg 127.0.0.12 "SELECT 1" 1 >/dev/null
expect "query through the proxy to frozen pg-2 hangs" "$?" 124
pgdirect 127.0.0.12 "SELECT 1" 1 >/dev/null
expect "direct query to frozen pg-2 hangs" "$?" 124
timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.12/'"$CLUSTER_LAB_PG_SERVER_PORT" && ok "frozen pg-2's socket still accepts TCP" || bad "frozen pg-2 refused TCP"
lab thaw pg-2
expect "pg-2 answers after thaw" "$(pg 127.0.0.12 'SELECT 1')" 1
lab freeze my-2
my 127.0.0.22 "SELECT 1" 1 >/dev/null
expect "query to frozen my-2 hangs" "$?" 124
lab thaw my-2
expect "my-2 answers after thaw" "$(my 127.0.0.22 'SELECT 1')" 1

echo "== blackhole / delay / heal"
exec 4> >(timeout 10 psql -X -q -At -h 127.0.0.13 -p "$CLUSTER_LAB_PG_PORT" -U wrapper -d wrapper_test >/tmp/lab-session.out 2>&1)
echo "SELECT 'before';" >&4
sleep 0.5
lab blackhole pg-3
echo "SELECT 'during';" >&4
sleep 1
expect "open session gets nothing while blackholed" "$(tr '\n' ' ' </tmp/lab-session.out)" "before "
pg 127.0.0.13 "SELECT 1" 1 >/dev/null
expect "new connection through the blackholed proxy hangs" "$?" 124
expect "direct connection to pg-3 still works" "$(pgdirect 127.0.0.13 'SELECT 1')" 1
expect "proxy state shows blackhole with open connections" "$("$L" status | awk '$1 == "pg-3" {print $5}')" blackhole
lab heal pg-3
sleep 0.3
exec 4>&-
sleep 0.2
expect "the session resumes after heal" "$(tr '\n' ' ' </tmp/lab-session.out)" "before during "
lab delay pg-1 100
t0=$(ms); pg 127.0.0.11 "SELECT 1" >/dev/null; t1=$(ms)
((t1 - t0 >= 600)) && ok "connect+query with delay 100 ms took $((t1 - t0)) ms" || bad "delay not applied ($((t1 - t0)) ms)"
lab heal pg-1
t0=$(ms); pg 127.0.0.11 "SELECT 1" >/dev/null; t1=$(ms)
((t1 - t0 < 300)) && ok "after heal $((t1 - t0)) ms" || bad "still slow after heal ($((t1 - t0)) ms)"
lab blackhole my-1
my 127.0.0.21 "SELECT 1" 1 >/dev/null
expect "MariaDB through the blackholed proxy hangs" "$?" 124
lab heal my-1

echo "== PG: kill the writer, promote pg-2"
lab kill pg-1
expect "killed pg-1 refuses through its proxy" "$(pg 127.0.0.11 'SELECT 1' | grep -c 'Connection refused')" 1
lab promote pg-2
expect "pg-2 takes writes" "$(pg 127.0.0.12 "INSERT INTO selftest VALUES (2, 'two') RETURNING v")" two
expect "cluster endpoint still on the old writer (DNS lag)" "$(resolve "$CLUSTER_LAB_PG_CLUSTER_ENDPOINT")" 127.0.0.11
wait_for 5 eq 127.0.0.12 aurora_writer 127.0.0.13
expect "topology on pg-2 reports pg-2 as writer" "$(aurora_writer 127.0.0.12)" 127.0.0.12
expect "topology on pg-3 reports pg-2 as writer" "$(aurora_writer 127.0.0.13)" 127.0.0.12
expect "pg-3 replicates from pg-2" "$(pg 127.0.0.13 'SELECT v FROM selftest WHERE id = 2')" two
sleep 1.2
expect "cluster endpoint moved after the lag" "$(resolve "$CLUSTER_LAB_PG_CLUSTER_ENDPOINT")" 127.0.0.12
expect "reader endpoint" "$(resolve "$CLUSTER_LAB_PG_READER_ENDPOINT")" 127.0.0.13

echo "== PG: rejoin pg-1 (pg_rewind)"
lab rejoin pg-1
expect "pg-1 is a standby" "$(pg 127.0.0.11 'SELECT pg_is_in_recovery()')" t
pg 127.0.0.12 "INSERT INTO selftest VALUES (3, 'three')" >/dev/null
wait_for 5 eq 3 pg 127.0.0.11 'SELECT count(*) FROM selftest'
expect "pg-1 follows the new timeline" "$(pg 127.0.0.11 'SELECT v FROM selftest WHERE id = 3')" three
expect "topology on pg-1 reports pg-2" "$(aurora_writer 127.0.0.11)" 127.0.0.12

echo "== PG: freeze the writer pg-2, promote pg-3, rejoin pg-2"
lab freeze pg-2
lab promote pg-3
expect "pg-3 takes writes" "$(pg 127.0.0.13 "INSERT INTO selftest VALUES (4, 'four') RETURNING v")" four
wait_for 5 eq 4 pg 127.0.0.11 'SELECT count(*) FROM selftest' && ok "pg-1 follows pg-3" || bad "pg-1 does not follow pg-3"
lab rejoin pg-2
wait_for 5 eq 4 pg 127.0.0.12 'SELECT count(*) FROM selftest' && ok "pg-2 rejoined and follows pg-3" || bad "pg-2 does not follow pg-3"
expect "topology on pg-2 reports pg-3" "$(aurora_writer 127.0.0.12)" 127.0.0.13

echo "== PG: synchronous replication, promote auto"
commits() { "$L" status | awk -v n="$1" '$1 == n' | grep -o 'commits=[a-z]*'; }
expect "commits on pg-3 wait for a standby" "$(commits pg-3)" commits=sync
lab kill pg-1
expect "one standby left: still synchronous" "$(commits pg-3)" commits=sync
expect "pg-3 takes writes with one standby" "$(pg 127.0.0.13 "INSERT INTO selftest VALUES (5, 'five') RETURNING v")" five
lab kill pg-2
expect "no standby left: asynchronous" "$(commits pg-3)" commits=async
expect "pg-3 takes writes without a standby" "$(pg 127.0.0.13 "INSERT INTO selftest VALUES (6, 'six') RETURNING v")" six
lab rejoin pg-1
expect "a standby rejoined: synchronous again" "$(commits pg-3)" commits=sync
lab rejoin pg-2
lab promote auto >/tmp/lab-promote.out
cat /tmp/lab-promote.out
NEWPG=$(sed -n 's/^promoted: //p' /tmp/lab-promote.out)
[[ $NEWPG == pg-1 || $NEWPG == pg-2 ]] && ok "promote auto prints 'promoted: $NEWPG'" || bad "promote auto printed [$NEWPG]"
NEWPG_HOST=127.0.0.1${NEWPG#pg-}
expect "$NEWPG has every row" "$(pg "$NEWPG_HOST" 'SELECT count(*) FROM selftest')" 6
expect "$NEWPG commits wait for a standby" "$(commits "$NEWPG")" commits=sync
lab rejoin pg-3
wait_for 5 eq 6 pg 127.0.0.13 'SELECT count(*) FROM selftest' && ok "pg-3 rejoined and follows $NEWPG" || bad "pg-3 does not follow $NEWPG"

echo "== MariaDB: kill my-1, promote my-2, rejoin my-1"
lab kill my-1
expect "killed my-1 refuses through its proxy" "$(my 127.0.0.21 'SELECT 1' | grep -c "Can't connect")" 1
lab promote my-2
expect "my-2 takes writes" "$(my 127.0.0.22 "INSERT INTO selftest VALUES (2, 'two'); SELECT @@read_only")" 0
lab rejoin my-1
my 127.0.0.22 "INSERT INTO selftest VALUES (3, 'three')"
wait_for 5 eq 3 my 127.0.0.21 'SELECT count(*) FROM selftest' && ok "my-1 follows my-2" || bad "my-1 does not follow my-2"
expect "my-1 is read-only" "$(my 127.0.0.21 'SELECT @@read_only')" 1
expect "SHOW REPLICA STATUS column 39 on my-1" "$(my 127.0.0.21 'SHOW REPLICA STATUS' | awk -F'\t' '{print $40}')" 22
lab promote my-1
lab rejoin my-2
wait_for 5 eq 1 my 127.0.0.22 'SELECT @@read_only' && ok "switched back to my-1" || bad "switch back to my-1"

echo "== MariaDB: semi-synchronous replication, promote auto applies the relay log"
expect "my-1 is a semi-sync writer" "$("$L" status | awk '$1 == "my-1"' | grep -o 'semisync-writer=[a-z]*')" semisync-writer=on
expect "my-2 is a semi-sync replica" "$("$L" status | awk '$1 == "my-2"' | grep -o 'semisync-replica=[a-z]*')" semisync-replica=on
mariadb --no-defaults -uroot -S "$CLUSTER_LAB_MY_2_SOCKET" -e "STOP SLAVE SQL_THREAD"
for i in $(seq 10 19); do my 127.0.0.21 "INSERT INTO selftest VALUES ($i, 'relay')"; done
expect "my-2 has not applied them yet" "$(my 127.0.0.22 'SELECT count(*) FROM selftest')" 3
lab kill my-1
lab promote auto --engine mariadb >/tmp/lab-promote.out
cat /tmp/lab-promote.out
expect "promote auto --engine mariadb picks my-2" "$(sed -n 's/^promoted: //p' /tmp/lab-promote.out)" my-2
expect "my-2 applied its relay log before taking writes" "$(my 127.0.0.22 'SELECT count(*) FROM selftest')" 13
lab rejoin my-1
wait_for 5 eq 13 my 127.0.0.21 'SELECT count(*) FROM selftest' && ok "my-1 rejoined and follows my-2" || bad "my-1 does not follow my-2"

sleep 1.2
load_env
"$DQ" >/tmp/lab-dq.out 2>&1 && ok "dialect queries after the failovers ($(tail -n1 /tmp/lab-dq.out))" || { bad "dialect queries"; cat /tmp/lab-dq.out; }

echo "== down leaves nothing"
lab down
left=$(lab_processes "$STATE")
expect "no process left" "$left" ""
[[ -d $STATE ]] && bad "state dir still there" || ok "state dir removed"

echo "== multi-az flavor (PG only): promote with a live writer, rejoin"
lab up --engine pg --flavor multi-az --dns-lag 0
load_env
"$DQ" >/tmp/lab-dq.out 2>&1 && ok "multi-az dialect queries ($(tail -n1 /tmp/lab-dq.out))" || { bad "multi-az dialect queries"; cat /tmp/lab-dq.out; }
lab promote pg-3
expect "DNS with lag 0 moves at once" "$(resolve "$CLUSTER_LAB_PG_CLUSTER_ENDPOINT")" 127.0.0.13
lab rejoin pg-1
load_env
"$DQ" >/tmp/lab-dq.out 2>&1 && ok "multi-az dialect queries after failover ($(tail -n1 /tmp/lab-dq.out))" || { bad "multi-az dialect queries"; cat /tmp/lab-dq.out; }
lab down
expect "no process left" "$(lab_processes "$STATE")" ""

echo "== timings (wall clock of each command)"
printf '  %s\n' "${TIMINGS[@]}"
echo "selftest: $PASS passed, $FAIL failed"
((FAIL == 0))
