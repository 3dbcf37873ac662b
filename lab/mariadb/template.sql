-- cluster lab: MariaDB template datadir provisioning (run once, as root over the socket, with the
-- binary log off so that nothing of it is replayed by replicas). Placeholders @APP_USER@ etc. are
-- substituted by scripts/cluster-lab.sh.
CREATE DATABASE `@APP_DB@` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- What the Multi-AZ DB cluster (MySQL) dialect reads: SELECT id, endpoint, port FROM mysql.rds_topology
-- (id = @@server_id of each member). Filled on the writer by `cluster-lab.sh up`, replicated.
CREATE TABLE mysql.rds_topology (
    id       BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    endpoint VARCHAR(255) NOT NULL,
    port     INT UNSIGNED NOT NULL
) ENGINE=InnoDB;

CREATE DATABASE lab;
CREATE TABLE lab.events (
    id   BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    what VARCHAR(255) NOT NULL
) ENGINE=InnoDB;

CREATE USER '@APP_USER@'@'127.%' IDENTIFIED BY '@APP_PASSWORD@';
CREATE USER '@APP_USER@'@'localhost' IDENTIFIED BY '@APP_PASSWORD@';
GRANT ALL PRIVILEGES ON `@APP_DB@`.* TO '@APP_USER@'@'127.%', '@APP_USER@'@'localhost';
GRANT SELECT ON mysql.rds_topology TO '@APP_USER@'@'127.%', '@APP_USER@'@'localhost';
GRANT SELECT ON lab.* TO '@APP_USER@'@'127.%', '@APP_USER@'@'localhost';
-- SHOW REPLICA STATUS (the Multi-AZ writer check) needs SLAVE MONITOR (alias REPLICA MONITOR).
GRANT SLAVE MONITOR ON *.* TO '@APP_USER@'@'127.%', '@APP_USER@'@'localhost';

CREATE USER '@REPL_USER@'@'127.%' IDENTIFIED BY '@REPL_PASSWORD@';
GRANT REPLICATION SLAVE ON *.* TO '@REPL_USER@'@'127.%';
