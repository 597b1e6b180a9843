// OpenSSL for river: DTLS 1.2 with use_srtp, HMAC/SHA for STUN, EC keys for certificates.
// Function-like macros cannot be imported into Swift; they are wrapped as static inline functions here.
#ifndef RIVER_COPENSSL_SHIM_H
#define RIVER_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static inline long river_SSL_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }
static inline long river_DTLSv1_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }
static inline long river_DTLSv1_get_timeout(SSL *ssl, struct timeval *tv) { return DTLSv1_get_timeout(ssl, tv); }
static inline long river_BIO_set_mem_eof_return(BIO *bio, long v) { return BIO_set_mem_eof_return(bio, v); }
static inline EVP_PKEY *river_EVP_EC_gen(const char *curve) { return EVP_EC_gen(curve); }
static inline long river_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_min_proto_version(ctx, version); }
static inline long river_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_max_proto_version(ctx, version); }
static inline uint64_t river_SSL_OP_NO_QUERY_MTU(void) { return SSL_OP_NO_QUERY_MTU; }
static inline uint64_t river_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline int river_MBSTRING_ASC(void) { return MBSTRING_ASC; }
static inline ASN1_TIME *river_X509_getm_notBefore(X509 *x) { return X509_getm_notBefore(x); }
static inline ASN1_TIME *river_X509_getm_notAfter(X509 *x) { return X509_getm_notAfter(x); }
#endif
