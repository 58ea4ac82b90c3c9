// Small SQLite helpers shared by the store and its id index: a task id as a
// 16-byte blob, big-endian (hi, then lo), so that blobs sort like the ids;
// a statement owned for one use.
#pragma once

#include "actorq/gateway.hpp" // task_id

#include <sqlite3.h>

namespace actorq {

inline void bind_id(sqlite3_stmt* st, int col, const task_id& id) {
  unsigned char bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(id.hi >> (56 - 8 * i));
    bytes[8 + i] = static_cast<unsigned char>(id.lo >> (56 - 8 * i));
  }
  sqlite3_bind_blob(st, col, bytes, 16, SQLITE_TRANSIENT);
}

/// The id in column `col`; the nil id if that is not a 16-byte blob.
inline task_id column_id(sqlite3_stmt* st, int col) {
  task_id id;
  auto bytes = static_cast<const unsigned char*>(sqlite3_column_blob(st, col));
  if (bytes == nullptr || sqlite3_column_bytes(st, col) != 16)
    return id;
  for (int i = 0; i < 8; ++i) {
    id.hi = (id.hi << 8) | bytes[i];
    id.lo = (id.lo << 8) | bytes[8 + i];
  }
  return id;
}

/// Owns a statement prepared for one use.
struct stmt_owner {
  sqlite3_stmt* st = nullptr;
  ~stmt_owner() {
    sqlite3_finalize(st);
  }
};

} // namespace actorq
