#!/usr/bin/env bash
# Durability check of the cluster lab: no acknowledged commit may be lost across failovers.
#
#   lab/durability.sh [--engine pg|mariadb] [--cycles N] [--writers N] [--interval S] [--promote auto|next]
#
# Needs the lab up with the engine (scripts/cluster-lab.sh up). WRITERS client loops each insert one
# row per transaction (a new connection every time, through the writer's proxy) and log the ids
# whose COMMIT returned success. Meanwhile, CYCLES times: kill the writer, promote a standby
# (`promote auto`, or with --promote next the first live reader after the old writer in node order,
# which exercises the catch-up of `promote NODE`), point the clients to the new writer, rejoin the
# old writer. Then it checks that every acknowledged id is on the final writer and on every reader.
# Exit 0 if none is lost (the work dir is then removed). Leaves the lab up; the table `durability`
# is dropped first.
set -uo pipefail

L=${CLUSTER_LAB_SCRIPT:-$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../scripts/cluster-lab.sh}
ENGINE=pg CYCLES=10 WRITERS=4 INTERVAL=1.5 PROMOTE=auto
while (($#)); do
    case $1 in
        --engine) ENGINE=$2; shift 2 ;;
        --cycles) CYCLES=$2; shift 2 ;;
        --writers) WRITERS=$2; shift 2 ;;
        --interval) INTERVAL=$2; shift 2 ;;
        --promote) PROMOTE=$2; shift 2 ;;
        *) echo "usage: $0 [--engine pg|mariadb] [--cycles N] [--writers N] [--interval S] [--promote auto|next]" >&2; exit 2 ;;
    esac
done
[[ $ENGINE == my ]] && ENGINE=mariadb
[[ $ENGINE == pg || $ENGINE == mariadb ]] || { echo "--engine must be pg or mariadb" >&2; exit 2; }
[[ $PROMOTE == auto || $PROMOTE == next ]] || { echo "--promote must be auto or next" >&2; exit 2; }

eval "$("$L" env 2>/dev/null)"
[[ ${CLUSTER_LAB_UP:-0} == 1 ]] || { echo "the lab is not up" >&2; exit 2; }
export PGPASSWORD=$CLUSTER_LAB_PASSWORD PGCONNECT_TIMEOUT=2
W=$(mktemp -d /tmp/lab-durability.XXXXXX)
ms() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }
host_of() { local v="CLUSTER_LAB_${1%%-*}_${1##*-}_HOST"; v=${v^^}; echo "${!v}"; }

if [[ $ENGINE == pg ]]; then
    E=pg NODES=($CLUSTER_LAB_PG_NODES) PORT=$CLUSTER_LAB_PG_PORT
    sql() { # host sql
        psql -X -q -At -h "$1" -p "$PORT" -U "$CLUSTER_LAB_USER" -d "$CLUSTER_LAB_DATABASE" -c "$2"
    }
    CREATE="DROP TABLE IF EXISTS durability; CREATE TABLE durability (id bigint PRIMARY KEY, at timestamptz DEFAULT now())"
else
    E=my NODES=($CLUSTER_LAB_MY_NODES) PORT=$CLUSTER_LAB_MY_PORT
    sql() {
        mariadb --no-defaults --connect-timeout=2 -h "$1" -P "$PORT" -u"$CLUSTER_LAB_USER" -p"$CLUSTER_LAB_PASSWORD" \
            -D "$CLUSTER_LAB_DATABASE" -N -B -e "$2"
    }
    CREATE="DROP TABLE IF EXISTS durability; CREATE TABLE durability (id BIGINT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB"
fi
writer_var="CLUSTER_LAB_${E^^}_WRITER"
writer=${!writer_var}
sql "$(host_of "$writer")" "$CREATE" >/dev/null || { echo "cannot create the table on $writer" >&2; exit 1; }
host_of "$writer" >"$W/writer"

worker() { # n: one row per transaction, log the id once COMMIT returned success
    local n=$1 i=0 id host
    while [[ ! -f $W/stop ]]; do
        i=$((i + 1))
        id=$((n * 100000000 + i))
        host=$(<"$W/writer")
        if sql "$host" "INSERT INTO durability (id) VALUES ($id)" >/dev/null 2>>"$W/errors.$n"; then
            echo "$id" >>"$W/acked.$n"
        else
            echo "$id" >>"$W/failed.$n"
            sleep 0.02
        fi
    done
}
for ((n = 1; n <= WRITERS; n++)); do worker "$n" & done

echo "durability: engine $ENGINE, $WRITERS writers, $CYCLES cycles, promote $PROMOTE, work dir $W"
for ((c = 1; c <= CYCLES; c++)); do
    sleep "$INTERVAL"
    old=$writer
    "$L" kill "$old" >>"$W/lab.log" 2>&1 || { echo "kill $old failed" >&2; break; }
    t0=$(ms)
    if [[ $PROMOTE == auto ]]; then
        target=auto
        [[ $E == my ]] && target="auto --engine mariadb"
    else
        target=""
        for ((k = 1; k <= ${#NODES[@]}; k++)); do
            for ((j = 0; j < ${#NODES[@]}; j++)); do [[ ${NODES[j]} == "$old" ]] && break; done
            cand=${NODES[(j + k) % ${#NODES[@]}]}
            [[ $cand != "$old" && $(cat "$CLUSTER_LAB_DIR/roles/$cand") == reader ]] && { target=$cand; break; }
        done
    fi
    # shellcheck disable=SC2086
    out=$("$L" promote $target 2>&1)
    rc=$?
    t1=$(ms)
    echo "$out" >>"$W/lab.log"
    ((rc == 0)) || { echo "cycle $c: promote failed:"; echo "$out"; break; }
    new=$(sed -n 's/^promoted: //p' <<<"$out")
    [[ -z $new ]] && new=$target
    host_of "$new" >"$W/writer"
    writer=$new
    wr=$(grep -o 'writable after [0-9]* ms' <<<"$out" | grep -o '[0-9]*')
    done_ms=$(grep -o 'all done after [0-9]* ms' <<<"$out" | grep -o '[0-9]*')
    echo "$wr ${done_ms:--} $((t1 - t0))" >>"$W/promote.times"
    t0=$(ms)
    rout=$("$L" rejoin "$old" 2>&1)
    rc=$?
    t1=$(ms)
    echo "$rout" >>"$W/lab.log"
    ((rc == 0)) || { echo "cycle $c: rejoin $old failed:"; echo "$rout"; break; }
    echo "$((t1 - t0))" >>"$W/rejoin.times"
    printf 'cycle %2d: %s -> %s  promote: writable after %s ms, all done after %s ms, wall %s ms; rejoin %s: %s ms\n' \
        "$c" "$old" "$new" "$wr" "${done_ms:--}" "$(tail -n1 "$W/promote.times" | cut -d' ' -f3)" "$old" "$(tail -n1 "$W/rejoin.times")"
done
sleep 1
touch "$W/stop"
wait

cat "$W"/acked.* 2>/dev/null | sort -u >"$W/acked"
cat "$W"/failed.* 2>/dev/null | sort -u >"$W/failed"
final=$(<"$W/writer")
sql "$final" "SELECT id FROM durability" | sort -u >"$W/present" || { echo "cannot read the final writer" >&2; exit 1; }
comm -23 "$W/acked" "$W/present" >"$W/lost"
comm -12 "$W/failed" "$W/present" >"$W/failed-present"
acked=$(wc -l <"$W/acked") lost=$(wc -l <"$W/lost")
echo "durability: acknowledged $acked, failed $(wc -l <"$W/failed") (of which committed anyway: $(wc -l <"$W/failed-present")), rows on the final writer $(wc -l <"$W/present"), acknowledged but LOST $lost"
# Every reader must converge on the writer's rows.
rc=0
for n in "${NODES[@]}"; do
    [[ $(host_of "$n") == "$final" ]] && continue
    for i in $(seq 1 100); do
        got=$(sql "$(host_of "$n")" "SELECT count(*) FROM durability" 2>/dev/null)
        [[ $got == "$(wc -l <"$W/present")" ]] && break
        sleep 0.05
    done
    [[ $got == "$(wc -l <"$W/present")" ]] && echo "durability: $n has the same $got rows" || { echo "durability: $n has ${got:-?} rows"; rc=1; }
done
summary() { sort -n | awk '{a[NR] = $1} END {if (NR) printf "min %d, median %d, max %d ms (n=%d)", a[1], a[int((NR + 1) / 2)], a[NR], NR; else printf "-"}'; }
[[ -f $W/promote.times ]] && {
    echo "durability: promote writable after: $(cut -d' ' -f1 "$W/promote.times" | summary)"
    echo "durability: promote all done after: $(cut -d' ' -f2 "$W/promote.times" | grep -v -- - | summary)"
    echo "durability: promote wall:           $(cut -d' ' -f3 "$W/promote.times" | summary)"
    echo "durability: rejoin wall:            $(summary <"$W/rejoin.times")"
}
if ((lost == 0 && rc == 0)); then
    rm -rf "$W"
    exit 0
fi
echo "durability: FAILED; the logs, acknowledged ids and lost ids are in $W"
exit 1
