// An independent protobuf implementation for tests: libprotobuf-c, driven through code that
// protoc-c generated from Protos/*.proto (see scripts/gen-proto-oracle.sh).
#ifndef C_PROTO_ORACLE_H
#define C_PROTO_ORACLE_H

#include <stddef.h>
#include <stdint.h>

enum {
    ORACLE_OK = 0,
    ORACLE_UNKNOWN_MESSAGE = 1,  // no descriptor has that full name
    ORACLE_UNPACK_FAILED = 2,    // protobuf-c rejected the input
    ORACLE_OUT_OF_MEMORY = 3,
};

// Decodes `in` as the message named `full_name` (e.g. "etcdserverpb.RangeRequest") and encodes the
// result again. On ORACLE_OK, `*out` holds `*out_len` bytes to release with oracle_free.
int oracle_repack(const char *full_name, const uint8_t *in, size_t in_len,
                  uint8_t **out, size_t *out_len);

void oracle_free(uint8_t *bytes);

// The full names of every message the oracle knows, for checking test coverage.
size_t oracle_message_count(void);
const char *oracle_message_name(size_t index);

#endif
