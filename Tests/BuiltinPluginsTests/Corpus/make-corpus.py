#!/usr/bin/env python3
"""Writes bad-input.jsonl: the bad-input corpus that BadInputCorpusTests runs.

Every case plants the sentinel password S3ntinel-pw-9f2 (or a secret of its own) somewhere in its
input; the test checks the typed outcome and that the secret appears in no message, description
or trace-level log line. Rerun after changing a case generator; the JSON lines are what is checked in.
"""
import json
import pathlib

S = "S3ntinel-pw-9f2"
URL = f"postgresql://app:{S}@db1:5432/shop"
cases = []


def case(kind, input, expect, **extra):
    cases.append({"kind": kind, "input": input, "expect": expect, **extra})


# --- connection strings and URLs -------------------------------------------------------------
M = "malformedConnectionString"
for text in [
    f"oracle://app:{S}@db1/shop", f"jdbc:postgresql://app:{S}@db1/shop", f"http://app:{S}@db1/shop",
    f"postgresql://app:{S}@db1:0/shop", f"postgresql://app:{S}@db1:65536/shop", f"postgresql://app:{S}@db1:-1/shop",
    f"postgresql://app:{S}@db1:abc/shop", f"postgresql://app:{S}@db1:99999999999999999999999/shop",
    f"postgresql://app:{S}@db1:/shop", f"postgresql://app:{S}@db1,,db2/shop", f"postgresql://app:{S}@,db2/shop",
    f"postgresql://app:{S}@[::1/shop", f"postgresql://app:{S}@[::1]x/shop", f"postgresql://app:{S}@:5432/shop",
    f"postgresql://app:{S}@db1:5432,db2/shop", f"postgresql://app:{S}@db1/shop?plugins", f"postgresql://app:{S}@db1/shop?=x",
    f"postgresql://app:{S}%zz@db1/shop", f"postgresql://app:{S}%4@db1/shop", f"postgresql://app:{S}%@db1/shop",
    f"postgresql://app%zz:{S}@db1/shop", f"postgresql://app:{S}@db1/sh%zzop", f"postgresql://app:{S}@db1/shop?x=%zz",
    f"postgresql://app:{S}@db1/shop?x%zz=1", f"postgresql://app:{S}%ff%fe@db1/shop", f"postgresql://app:{S}@db1/sh%ffop",
    f"postgresql://app:{S}/x@db1/shop", f"postgresql://app:{S}?x@db1/shop", f"postgresql://app:{S}/x=y@db1/shop",
    f"postgresql://app:a/{S}@db1/shop", f"postgresql://app:a?{S}=1@db1/shop", f"postgresql://app:{S}?b=c@db1:5432/shop",
    f"postgresql://app:12/{S}@db1/shop", f"mysql://app:{S}@db1:70000/shop", f"mariadb://app:{S}@db1:x/shop",
    f"postgres://app:{S}@db1/shop?plugins=&&=", f"host=db1 password={S} port", f"host=db1 password='{S}",
    f"host=db1 password={S} =x", f"host=db1 password={S} \\", f"host=db1 password='{S}\\", f"password={S} host",
    "://", "=", "'", "\\",
]:
    case("open", text, M)

for text, expect in [
    (f"postgresql://app:{S}@db1/shop", "ok"), (f"postgresql://app:{S}@db1:5432,db2:5433/shop", "ok"),
    (f"postgresql://app:{S}@[::1]:5432/shop", "ok"), (f"mysql://app:{S}@db1/shop", "ok"), (f"mariadb://app:{S}@db1/shop", "ok"),
    (f"postgres://app:{S}@db1", "ok"), (f"host=db1 user=app password={S}", "ok"), (f"host=db1 password='{S} x'", "ok"),
    (f"host=db1 password='it\\'s {S}'", "ok"), (f"postgresql://app:{S}%2Fa%3Fb%23c%40d%25e%3Df@db1/shop", "ok"),
    (f"postgresql://app:{S}#frag@db1/shop", "ok"), (f"postgresql://app:{S}@x@db1/shop", "ok"),
    (f"postgresql://app:{S}=+=@db1/shop", "ok"), (f"postgresql://app:{S}:colon@db1/shop", "ok"),
    (f"postgresql://app:{S}@db1/shop?user=a@b.c", "ok"), (f"  postgresql://app:{S}@db1/shop  ", "ok"),
    (f"POSTGRESQL://app:{S}@db1/shop", "ok"), (f"postgresql://app:{S}@db1/shop?plugins=&connect_timeout=1.5", "ok"),
    ("postgresql://db1/shop?password=" + S, "ok"), (f"postgresql://app:{S}@db1/shop?password=" + S, "ok"),
]:
    case("open", text, expect)

for text, expect in [
    ("postgresql:///shop?password=" + S, "missingProperty"), ("postgresql://", "missingProperty"), ("mysql://", "missingProperty"), ("password=" + S, "missingProperty"),
    (f"host=, password={S}", "invalidProperty"), (f"host=db1,,db2 password={S}", "invalidProperty"),
    (f"host=db1 port=0 password={S}", "invalidProperty"), (f"host=db1 port=70000 password={S}", "invalidProperty"),
    (f"host=db1,db2 port=1,2,3 password={S}", "invalidProperty"), (f"host=db1 port=x password={S}", "invalidProperty"),
    (f"host=db1 port=-5 password={S}", "invalidProperty"),
]:
    case("open", text, expect)

# --- property values of every documented property ---------------------------------------------
# A rejected value is echoed (shortened and redacted) so the user sees the typo; what it carries
# after a separator must be masked.
leak_values = [f"x;password={S}", f"x&password={S}", f"1 password={S}"]
bad_int = ["-1", "abc", "1e99", "", " ", "99999999999999999999999", "0x10", "1.5"] + leak_values
bad_bool = ["maybe", "2", "", "tru", "yes please"] + leak_values
bad_seconds = ["-1", "abc", "nan", "inf", "1e7", ""] + leak_values


def prop(plugins, name, values, expect="invalidProperty", extra=""):
    for value in values:
        from urllib.parse import quote
        case("open", f"{URL}?plugins={plugins}&{name}={quote(value, safe='')}{extra}", expect)


prop("", "connect_timeout", bad_seconds)
prop("", "socket_timeout", bad_seconds)
prop("", "tcp_keepalive", bad_bool)
for name in ["tcp_keepalive_time", "tcp_keepalive_interval", "tcp_keepalive_probes"]:
    prop("", name, ["-1", "abc", "3000000000"] + leak_values[:1])
for name in ["transfer_session_state_on_switch", "reset_session_state_on_close", "rollback_on_switch", "auto_sort_wrapper_plugin_order"]:
    prop("", name, ["maybe", ""] + leak_values[:2])
for name in ["round_robin_default_weight", "weighted_random_default_weight", "auxiliary_query_timeout_sec"]:
    prop("", name, ["0", "-3", "abc"] + leak_values[:1])
prop("failover_v2", "failover_timeout_sec", bad_int + ["0", "86401"])
prop("failover_v2", "failover_mode", ["strict", "writer", "STRICT-WRITERS", "", "reader or writer"] + leak_values)
prop("failover_v2", "enable_connect_failover", bad_bool)
prop("failover_v2", "enable_failover", ["maybe"] + leak_values[:1])
prop("failover_v2", "failover_probe_interval_ms", ["0", "-1", "abc", "60001"] + leak_values[:1])
prop("failover_v2", "topology_refresh_ms", ["0", "abc"] + leak_values[:1])
prop("failover_v2", "cluster_topology_high_refresh_rate_ms", ["0", "abc"] + leak_values[:1])
prop("failover_v2", "cluster_instance_host_pattern", ["db.example.com", "?.x:99999", "?.x:abc", "?.proxy-xyz.us-east-1.rds.amazonaws.com",
                                                     "?.cluster-custom-xyz.us-east-1.rds.amazonaws.com", f"db;password={S}"])
prop("failover", "failover_timeout_sec", ["abc", "0"] + leak_values[:1])
prop("host_monitoring_v2", "failure_detection_interval_ms", ["50", "99", "0", "-1", "abc", "3600001"] + leak_values)
prop("host_monitoring_v2", "failure_detection_time_ms", ["-1", "abc", "86400001"] + leak_values[:1])
prop("host_monitoring_v2", "failure_detection_count", ["0", "1001", "abc"] + leak_values[:1])
prop("host_monitoring_v2", "failure_detection_enabled", ["maybe"] + leak_values[:1])
prop("host_monitoring_v2", "monitor_disposal_time_ms", ["999", "abc"] + leak_values[:1])
prop("host_monitoring_v2", "monitoring-connect_timeout", ["abc", "-1"] + leak_values[:1])
prop("host_monitoring_v2", "monitoring-socket_timeout", ["abc", "-1"] + leak_values[:1])
prop("host_monitoring", "failure_detection_interval_ms", ["50"] + leak_values[:1])
prop("initial_connection", "open_connection_retry_timeout_ms", ["-1", "abc"] + leak_values[:1])
prop("initial_connection", "open_connection_retry_interval_ms", ["-1", "abc"] + leak_values[:1])
prop("log_query", "log_query_level", ["loud", "error", ""] + leak_values[:2])
prop("log_query", "log_query_binds", ["maybe"] + leak_values[:1])
prop("data_cache", "data_cache_max_entries", ["0", "-1", "abc", "10000001"] + leak_values[:1], extra="&data_cache_trigger_condition=x")
prop("data_cache", "data_cache_ttl_ms", ["0", "abc"] + leak_values[:1], extra="&data_cache_trigger_condition=x")
prop("data_cache", "data_cache_trigger_condition", ["(unclosed", "(a)\\1", "abc\\", "[z-a]", "a{2,1}", "", "x" * 1001])
case("open", f"{URL}?plugins=data_cache", "missingProperty")
prop("iam", "iam_default_port", ["-1", "abc", "65536"] + leak_values[:1])
prop("iam", "iam_expiration", ["0", "901", "abc"] + leak_values[:1])
prop("iam", "aws_request_timeout_ms", ["-1", "abc"] + leak_values[:1])
prop("aws_secrets_manager", "secrets_manager_expiration", ["abc"] + leak_values[:1])
prop("aws_secrets_manager", "aws_request_timeout_ms", ["abc"] + leak_values[:1])
for value in ["0.5", "2", "15"]:
    case("open", f"{URL}?plugins=&connect_timeout={value}", "ok")
case("open", f"{URL}?plugins=failover_v2&failover_mode=strict-reader", "ok")
case("open", f"{URL}?plugins=failover_v2&failover_mode=READER_OR_WRITER", "ok")
case("open", f"{URL}?plugins=host_monitoring_v2&failure_detection_interval_ms=100", "ok")
case("open", f"{URL}?plugins=data_cache&data_cache_trigger_condition=%5ESELECT&data_cache_max_entries=5", "ok")

# --- plugin lists -------------------------------------------------------------------------------
for plugins, expect in [
    (f"nope", "unknownPlugin"), (f"x;password={S}", "unknownPlugin"), (f"x%26password%3D{S}", "unknownPlugin"),
    (f"a password={S}", "unknownPlugin"), ("execute_time,execute_time", "duplicatePlugin"), ("dev,dev", "duplicatePlugin"),
    ("read_write_splitting", "pluginUnavailable"), ("srw", "pluginUnavailable"), ("bg", "pluginUnavailable"),
    ("custom_endpoint", "pluginUnavailable"), ("fastest_response_strategy", "pluginUnavailable"), ("okta", "pluginUnavailable"),
    ("federated_auth", "pluginUnavailable"), ("limitless", "pluginUnavailable"), ("gdb_failover", "pluginUnavailable"),
    ("EXECUTE_TIME", "unknownPlugin"), ("execute_time,,dev", "unknownPlugin"), ("execute-time", "unknownPlugin"),
    ("execute_time,nope", "unknownPlugin"), ("%00", "unknownPlugin"), ("💥", "unknownPlugin"), ("x" * 5000, "unknownPlugin"),
    ("execute_time", "ok"), ("execute_time,dev,log_query", "ok"), (" execute_time , dev ", "ok"), ("", "ok"),
    ("failover_v2,host_monitoring_v2", "ok"), ("failover,host_monitoring", "ok"), ("initial_connection,stale_dns", "ok"),
]:
    from urllib.parse import quote
    case("open", f"{URL}?plugins={quote(plugins, safe=',%')}", expect)
for profile, expect in [("nope", "unknownProfile"), (f"x;password={S}", "unknownProfile"), ("fast_failover", "ok")]:
    case("open", f"{URL}?profile_name={quote(profile, safe='')}", expect)
for dialect, expect in [("oracle", "invalidProperty"), (f"x;password={S}", "invalidProperty"), ("pg", "ok")]:
    case("open", f"{URL}?plugins=&wrapper_dialect={quote(dialect, safe='')}", expect)

# --- topology rows (Aurora: id, is_writer, cpu, lag, last update) ------------------------------
for rows, hosts in [
    ([["w", True, 0, 0, None], ["r1", False, 0, 0, None]], ["w", "r1"]),
    ([["w", True, 0, 0, None], ["r1,evil", False, 0, 0, None]], ["w"]),
    ([["w", True, 0, 0, None], ["/tmp/sock", False, 0, 0, None]], ["w"]),
    ([["w", True, 0, 0, None], ["r 1", False, 0, 0, None]], ["w"]),
    ([["w", True, 0, 0, None], ["r\n1", False, 0, 0, None]], ["w"]),
    ([["w", True, 0, 0, None], ["r\u00001", False, 0, 0, None]], ["w"]),
    ([["w", True, 0, 0, None], ["", False, 0, 0, None]], ["w"]),
    ([["w", True, 0, 0, None], [None, False, 0, 0, None]], ["w"]),
    ([["w", True, 0, 0, None], ["r1", "maybe", 0, 0, None]], ["w"]),
    ([["w", True, 0, 0, None], ["r1", False]], ["w"]),
    ([["w", True, 0, 0, None], ["x" * 300, False, 0, 0, None]], ["w"]),
    ([["w" + S, True, 0, 0, None], ["r1", False, 0, 0, None]], ["w" + S, "r1"]),
    ([["w;password=" + S, True, 0, 0, None]], []),
    ([["r1", False, 0, 0, None]], []),
    ([], []),
    ([["w=x", True, 0, 0, None]], []),
    ([["w'x", True, 0, 0, None]], []),
    ([["w@x", True, 0, 0, None]], []),
    ([["w\\x", True, 0, 0, None]], []),
    ([["w\tx", True, 0, 0, None]], []),
]:
    case("topology", json.dumps(rows), hosts)
# Multi-AZ rows: id, endpoint, port (the writer is "w").
for rows, hosts in [
    ([["w", "w.xyz.us-east-1.rds.amazonaws.com", 5432], ["r", "r.xyz.us-east-1.rds.amazonaws.com", 5432]], ["w:5432", "r:5432"]),
    ([["w", "w.xyz.us-east-1.rds.amazonaws.com", 5432], ["r", "r.xyz.us-east-1.rds.amazonaws.com", 70000]], ["w:5432"]),
    ([["w", "w.xyz.us-east-1.rds.amazonaws.com", 5432], ["r", "r.xyz.us-east-1.rds.amazonaws.com", -1]], ["w:5432"]),
    ([["w", "w.xyz.us-east-1.rds.amazonaws.com", 5432], ["r", "r.xyz.us-east-1.rds.amazonaws.com", 0]], ["w:5432"]),
    ([["w", "w.xyz.us-east-1.rds.amazonaws.com", 5432], ["r", "a,b", 5432]], ["w:5432"]),
    ([["w", "w.xyz.us-east-1.rds.amazonaws.com", 5432], ["r", "/var/run", 5432]], ["w:5432"]),
    ([["w", "w.xyz.us-east-1.rds.amazonaws.com", 5432], ["r", "", 5432]], ["w:5432"]),
    ([["w", "w.xyz.us-east-1.rds.amazonaws.com", 5432], ["r", "r.x", "99999999999999999999"]], ["w:5432"]),
]:
    case("topology-multiaz", json.dumps(rows), hosts)

# --- redactor inputs --------------------------------------------------------------------------
for text in [
    f"password={S}", f"PASSWORD = '{S}'", f"pwd: {S}", f'{{"password": "{S}"}}', f"<Password>{S}</Password>",
    f"postgresql://u:{S}@h/db", f"mysql://u:{S}/x?y@h/db", f"x-amz-signature={S}&b=1", f"X-Amz-Security-Token={S}",
    f"X-Amz-Credential={S}%2F20240101", f'"SecretAccessKey":"{S}"', f'"SessionToken" : "{S}"',
    f"<SecretAccessKey>{S}</SecretAccessKey>", f"<SessionToken>{S}</SessionToken>", f"Authorization: Bearer {S}",
    f"password='a,b;c){S}'", f"DETAIL:  Key (password)=({S}) already exists.", f"DETAIL:  Key (id, password)=(1, {S}) already exists.",
    f"CREATE USER u IDENTIFIED BY {S};", f"ALTER USER u IDENTIFIED BY '{S}'", f"SET PASSWORD = PASSWORD('{S}')",
    f"ALTER ROLE u PASSWORD '{S}'", f"CREATE ROLE u LOGIN ENCRYPTED PASSWORD '{S}'", f"secret={S}", f"token={S}",
    f"aws_secret_access_key={S}", f"idp_password={S}", f"a=1&password={S}&b=2", f"x;password={S};y", f"sslpassword={S}",
    f'"SecretString":"{{\\"password\\":\\"{S}\\"}}"', f"db_password={S}", f"mytoken:{S}",
]:
    case("redact", text, "masked", secret=S)

out = pathlib.Path(__file__).resolve().parent / "bad-input.jsonl"
out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases))
print(f"{len(cases)} cases -> {out.name}")
