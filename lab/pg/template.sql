-- cluster lab: PostgreSQL template datadir provisioning (run once, as postgres, on db postgres).
-- psql variables: app_user, app_password, app_db, repl_user, repl_password.
CREATE ROLE :"repl_user" LOGIN REPLICATION PASSWORD :'repl_password';
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
\ir lab_schema.sql
\c template1
\ir lab_schema.sql
\c postgres
CREATE DATABASE :"app_db" OWNER :"app_user" TEMPLATE template1;
