#pragma once
#include <mysql.h>

/* mariadb_get_infov is variadic, which Swift cannot call: these wrappers can. */
static inline unsigned int wrapper_mariadb_server_status(MYSQL *mysql) {
    unsigned int status = 0;
    mariadb_get_infov(mysql, MARIADB_CONNECTION_SERVER_STATUS, &status);
    return status;
}
