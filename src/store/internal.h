/* internal.h - what store.c shares with the store's other files
 * (traffic.c). Private to src/store/. */
#ifndef INFERD_STORE_INTERNAL_H
#define INFERD_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store/store.h"

/* The connection, for statements the other files prepare themselves. */
sqlite3 *store_db(store_t *s);

/* The database file's path, for messages. */
const char *store_file_path(const store_t *s);

#endif
