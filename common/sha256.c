/*
 * sha256.c - SHA-256 as FIPS 180-2 specifies it (section 6.2), and the
 * proof of work of the cpu-bound designs.
 *
 * The solver hashes salt || nonce, which fits one 64-byte block with its
 * padding: it lays the block out once and, per try, rewrites only the
 * nonce bytes and runs one compression from the initial state.
 */
#include <string.h>

#include "c1m.h"
#include "sha256.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* One block into the state h: the message schedule and 64 rounds. */
static void compress(uint32_t h[8], const uint8_t block[64])
{
	uint32_t w[64], v[8];

	for (int t = 0; t < 16; t++)
		w[t] = load_be32(block + 4 * t);
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = ROR(w[t - 15], 7) ^ ROR(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = ROR(w[t - 2], 17) ^ ROR(w[t - 2], 19) ^ (w[t - 2] >> 10);

		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	memcpy(v, h, sizeof(v));
	for (int t = 0; t < 64; t++) {
		uint32_t a = v[0], e = v[4];
		uint32_t t1 = v[7] + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
			      ((e & v[5]) ^ (~e & v[6])) + K[t] + w[t];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
			      ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));

		/* h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2 */
		v[7] = v[6];
		v[6] = v[5];
		v[5] = e;
		v[4] = v[3] + t1;
		v[3] = v[2];
		v[2] = v[1];
		v[1] = a;
		v[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		h[i] += v[i];
}

void sha256_init(struct sha256 *s)
{
	memcpy(s->h, IV, sizeof(IV));
	s->len = 0;
	s->fill = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->len += len;
	while (len) {
		size_t n = 64 - s->fill < len ? 64 - s->fill : len;

		memcpy(s->block + s->fill, p, n);
		s->fill += n;
		p += n;
		len -= n;
		if (s->fill == 64) {
			compress(s->h, s->block);
			s->fill = 0;
		}
	}
}

void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN])
{
	uint64_t bits = s->len * 8;

	/* Padding: 0x80, zeros up to 56 mod 64, then the length in bits. */
	s->block[s->fill++] = 0x80;
	if (s->fill > 56) {
		memset(s->block + s->fill, 0, 64 - s->fill);
		compress(s->h, s->block);
		s->fill = 0;
	}
	memset(s->block + s->fill, 0, 56 - s->fill);
	store_be64(s->block + 56, bits);
	compress(s->h, s->block);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, out);
}

/* ---- proof of work ---- */

int pow_leading_zeros(const uint8_t d[SHA256_LEN])
{
	int n = 0;

	for (int i = 0; i < SHA256_LEN; i++) {
		if (d[i])
			return n + __builtin_clz(d[i]) - 24;
		n += 8;
	}
	return n;
}

/* Every 4096 tries, look at the stop flag. */
#define POW_STOP_EVERY	4096

uint64_t pow_solve(const void *salt, size_t len, int bits, uint64_t *nonce,
		   const atomic_int *stop)
{
	uint8_t block[64] = { 0 };
	uint32_t mask;

	if (len > POW_MAX_SALT || bits < 0 || bits > POW_MAX_BITS) {
		*nonce = UINT64_MAX;
		return 0;
	}
	mask = bits ? ~0u << (32 - bits) : 0;	/* the bits that must be 0 */
	/* salt || nonce || 0x80 || zeros || length in bits: one block. */
	memcpy(block, salt, len);
	block[len + 8] = 0x80;
	store_be64(block + 56, (len + 8) * 8);
	for (uint64_t n = 0;; n++) {
		uint32_t h[8];

		if (stop && n % POW_STOP_EVERY == POW_STOP_EVERY - 1 &&
		    atomic_load_explicit(stop, memory_order_relaxed)) {
			*nonce = UINT64_MAX;
			return n;
		}
		store_be64(block + len, n);
		memcpy(h, IV, sizeof(h));
		compress(h, block);
		if ((h[0] & mask) == 0) {
			*nonce = n;
			return n + 1;
		}
	}
}

int pow_check(const void *salt, size_t len, int bits, uint64_t nonce)
{
	uint8_t msg[POW_MAX_SALT + 8], d[SHA256_LEN];

	if (len > POW_MAX_SALT)
		return 0;
	memcpy(msg, salt, len);
	store_be64(msg + len, nonce);
	sha256(msg, len + 8, d);
	return pow_leading_zeros(d) >= bits;
}

double pow_hash_rate(void)
{
	uint64_t start = clock_ns(), hashes = 0, salt = 0, nonce;
	double s;

	do {
		salt++;
		hashes += pow_solve(&salt, sizeof(salt), 16, &nonce, NULL);
		s = (clock_ns() - start) / 1e9;
	} while (s < 0.1);
	return hashes / s;
}
