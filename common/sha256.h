/*
 * sha256.h - SHA-256 (FIPS 180-2) and the proof of work the cpu-bound
 * designs (12, 13) do for every request.
 *
 * The proof: find the smallest nonce n >= 0 such that
 *	SHA-256(salt || n as 8 big-endian bytes)
 * starts with `bits` zero bits. Each try succeeds with probability
 * 2^-bits, so a proof takes 2^bits hashes on average (n + 1 of them).
 * The servers salt it with the request's 8 bytes, which differ for every
 * request; the original Go suite hashed "hello world N" from N = 0 every
 * time, so every request found the same nonce after 5 hashes.
 */
#ifndef C1M_SHA256_H
#define C1M_SHA256_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32	/* digest bytes */
#define POW_MAX_BITS	32	/* the solver checks the first 32-bit word */
#define POW_MAX_SALT	47	/* salt + 8-byte nonce must fit one 64-byte block */

struct sha256 {
	uint32_t h[8];		/* the chaining state */
	uint64_t len;		/* message bytes so far */
	uint8_t block[64];	/* the partial block */
	size_t fill;		/* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);
/* The whole message at once. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Leading zero bits of a digest (0..256). */
int pow_leading_zeros(const uint8_t digest[SHA256_LEN]);
/*
 * Solve the proof for salt[0..len) (len <= POW_MAX_SALT) and bits
 * (0..POW_MAX_BITS). Stores the nonce and returns the hashes it took
 * (nonce + 1). If *stop becomes non-zero (checked every few thousand
 * hashes; stop may be NULL) it gives up and returns the hashes done so
 * far, with *nonce = UINT64_MAX.
 */
uint64_t pow_solve(const void *salt, size_t len, int bits, uint64_t *nonce,
		   const atomic_int *stop);
/* 1 if nonce meets the target for salt and bits, by a plain sha256(). */
int pow_check(const void *salt, size_t len, int bits, uint64_t nonce);
/* This machine's solver speed, hashes per second, measured for ~0.1 s. */
double pow_hash_rate(void);

#endif
