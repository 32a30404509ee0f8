// Repacks protobuf messages with libprotobuf-c; see include/CProtoOracle.h.
#include "CProtoOracle.h"

#include <stdlib.h>
#include <string.h>

#include "generated/descriptors.h"

static const ProtobufCMessageDescriptor *const descriptors[] = { ORACLE_MESSAGE_DESCRIPTORS };
static const size_t descriptor_count = sizeof descriptors / sizeof descriptors[0];

static const ProtobufCMessageDescriptor *find_descriptor(const char *full_name) {
    for (size_t i = 0; i < descriptor_count; i++) {
        if (strcmp(descriptors[i]->name, full_name) == 0) return descriptors[i];
    }
    return NULL;
}

int oracle_repack(const char *full_name, const uint8_t *in, size_t in_len,
                  uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    const ProtobufCMessageDescriptor *descriptor = find_descriptor(full_name);
    if (descriptor == NULL) return ORACLE_UNKNOWN_MESSAGE;

    ProtobufCMessage *message = protobuf_c_message_unpack(descriptor, NULL, in_len, in);
    if (message == NULL) return ORACLE_UNPACK_FAILED;

    size_t size = protobuf_c_message_get_packed_size(message);
    uint8_t *bytes = malloc(size > 0 ? size : 1);
    if (bytes == NULL) {
        protobuf_c_message_free_unpacked(message, NULL);
        return ORACLE_OUT_OF_MEMORY;
    }
    size_t written = protobuf_c_message_pack(message, bytes);
    protobuf_c_message_free_unpacked(message, NULL);
    if (written != size) {
        free(bytes);
        return ORACLE_UNPACK_FAILED;
    }
    *out = bytes;
    *out_len = written;
    return ORACLE_OK;
}

void oracle_free(uint8_t *bytes) { free(bytes); }

size_t oracle_message_count(void) { return descriptor_count; }

const char *oracle_message_name(size_t index) {
    return index < descriptor_count ? descriptors[index]->name : NULL;
}
