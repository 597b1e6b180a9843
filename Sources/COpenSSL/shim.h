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

static inline long river_SSL_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }
static inline long river_DTLSv1_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }
static inline long river_DTLSv1_get_timeout(SSL *ssl, struct timeval *tv) { return DTLSv1_get_timeout(ssl, tv); }
static inline long river_BIO_set_mem_eof_return(BIO *bio, long v) { return BIO_set_mem_eof_return(bio, v); }
static inline EVP_PKEY *river_EVP_EC_gen(const char *curve) { return EVP_EC_gen(curve); }
#endif
