#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>

// OpenSSL's function-like macros, which Swift cannot call, as inline functions.

static inline int copenssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

static inline int copenssl_ctx_set_max_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
}

static inline void copenssl_ctx_set_server_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}

static inline long copenssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline int copenssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline int copenssl_ctx_set_groups(SSL_CTX *ctx, const char *groups) {
    return (int)SSL_CTX_set1_groups_list(ctx, groups);
}

static inline long copenssl_bio_pending(BIO *bio) {
    return BIO_ctrl(bio, BIO_CTRL_PENDING, 0, NULL);
}

static inline void copenssl_bio_set_eof_retry(BIO *bio) {
    // A memory BIO that runs dry asks for more instead of reporting end of file.
    BIO_set_mem_eof_return(bio, -1);
}

static inline long copenssl_ctx_disable_session_cache(SSL_CTX *ctx) {
    return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

static inline int copenssl_x509_stack_count(STACK_OF(X509) *stack) {
    return stack == NULL ? 0 : sk_X509_num(stack);
}

static inline X509 *copenssl_x509_stack_at(STACK_OF(X509) *stack, int index) {
    return sk_X509_value(stack, index);
}

static inline STACK_OF(X509) *copenssl_x509_stack_new(void) {
    return sk_X509_new_null();
}

static inline int copenssl_x509_stack_push(STACK_OF(X509) *stack, X509 *certificate) {
    return sk_X509_push(stack, certificate);
}

static inline void copenssl_x509_stack_free_all(STACK_OF(X509) *stack) {
    sk_X509_pop_free(stack, X509_free);
}

static inline int copenssl_general_names_count(GENERAL_NAMES *names) {
    return names == NULL ? 0 : sk_GENERAL_NAME_num(names);
}

static inline GENERAL_NAME *copenssl_general_names_at(GENERAL_NAMES *names, int index) {
    return sk_GENERAL_NAME_value(names, index);
}

static inline void copenssl_general_names_free(GENERAL_NAMES *names) {
    GENERAL_NAMES_free(names);
}

static inline int copenssl_revoked_count(STACK_OF(X509_REVOKED) *revoked) {
    return revoked == NULL ? 0 : sk_X509_REVOKED_num(revoked);
}

static inline X509_REVOKED *copenssl_revoked_at(STACK_OF(X509_REVOKED) *revoked, int index) {
    return sk_X509_REVOKED_value(revoked, index);
}

static inline int copenssl_ssl_ex_index(void) {
    return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static inline int copenssl_pem_write_traditional_key(BIO *bio, EVP_PKEY *key) {
    return PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL);
}

#endif
