/* The floor under CURVE's cost at the proxy: one XSalsa20-Poly1305 decrypt and one encrypt of a
 * frame, which is what libzmq's CURVE (through libsodium's crypto_box) does to every message the
 * proxy forwards. No libzmq and no sockets: what is left of the proxy's added latency above this is
 * its own. libsodium-dev comes with libzmq3-dev (scripts/setup.sh).
 *
 *   cc -O2 Benchmarks/CurveFloor/curve_floor.c -lsodium -o /tmp/curve_floor && /tmp/curve_floor
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const size_t sizes[] = {1024, 256 * 192 * 3 / 2, 640 * 480 * 3 / 2};
    const char *names[] = {"1 KiB", "256x192 I420", "640x480 I420"};
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    unsigned char key[crypto_box_BEFORENMBYTES], nonce[crypto_box_NONCEBYTES] = {0};
    crypto_box_keypair(pk, sk);
    if (crypto_box_beforenm(key, pk, sk) != 0) return 1;
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        unsigned char *plain = calloc(1, n), *sealed = calloc(1, n + crypto_box_MACBYTES);
        int rounds = (int)(200000000 / n) + 10;
        double best = 1e9;
        for (int attempt = 0; attempt < 5; attempt++) {  /* best of 5: a shared machine is noisy */
            double start = seconds();
            for (int i = 0; i < rounds; i++) {
                crypto_box_easy_afternm(sealed, plain, n, nonce, key);
                if (crypto_box_open_easy_afternm(plain, sealed, n + crypto_box_MACBYTES, nonce, key) != 0)
                    return 1;
            }
            double each = (seconds() - start) / rounds;
            if (each < best) best = each;
        }
        printf("curve floor %s (%zu bytes): decrypt + encrypt %.1f us (%.0f MB/s a pass)\n", names[s], n,
               best * 1e6, 2 * n / best / 1e6);
        free(plain);
        free(sealed);
    }
    return 0;
}
