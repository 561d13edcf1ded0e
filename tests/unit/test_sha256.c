/*
 * test_sha256.c - SHA-256 against the FIPS 180-2 vectors (and the padding
 * edges), and the proof of work: every nonce found meets its target, is the
 * first that does, and a proof really averages 2^bits hashes.
 */
#include <stdlib.h>
#include <string.h>

#include "c1m.h"
#include "check.h"
#include "sha256.h"

static void hex(const uint8_t d[SHA256_LEN], char out[2 * SHA256_LEN + 1])
{
	for (int i = 0; i < SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_digest(const char *what, const uint8_t d[SHA256_LEN], const char *want)
{
	char got[2 * SHA256_LEN + 1];

	hex(d, got);
	CHECK(strcmp(got, want) == 0, "%s: got %s, want %s", what, got, want);
}

/* FIPS 180-2 appendix B: "abc", the 448-bit message, a million 'a'. */
static void test_fips(void)
{
	static const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char *million = malloc(1000000);
	uint8_t d[SHA256_LEN];
	struct sha256 s;

	sha256("abc", 3, d);
	check_digest("abc", d,
		     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256(m448, strlen(m448), d);
	check_digest("448-bit message", d,
		     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', 1000000);
	sha256(million, 1000000, d);
	check_digest("a million 'a'", d,
		     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* The same million fed in uneven pieces: update's buffering. */
	sha256_init(&s);
	for (size_t off = 0, step = 1; off < 1000000; off += step, step = step % 131 + 1)
		sha256_update(&s, million + off, off + step > 1000000 ? 1000000 - off : step);
	sha256_final(&s, d);
	check_digest("a million 'a' in pieces", d,
		     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/* Lengths around the padding boundary (55/56 bytes fit one block or not). */
static void test_padding(void)
{
	static const struct {
		size_t len;
		const char *want;
	} v[] = {
		{ 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
		{ 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
	};
	char a[128], what[32];
	uint8_t d[SHA256_LEN];

	memset(a, 'a', sizeof(a));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(what, sizeof(what), "%zu x 'a'", v[i].len);
		sha256(a, v[i].len, d);
		check_digest(what, d, v[i].want);
	}
}

static void test_leading_zeros(void)
{
	uint8_t d[SHA256_LEN];

	memset(d, 0, sizeof(d));
	CHECK(pow_leading_zeros(d) == 256, "all zero: %d", pow_leading_zeros(d));
	for (int bit = 0; bit < 256; bit++) {
		memset(d, 0, sizeof(d));
		d[bit / 8] = (uint8_t)(0x80 >> (bit % 8));
		d[31] |= 1;	/* bits further on do not count */
		CHECK(pow_leading_zeros(d) == bit, "first one at bit %d: got %d", bit,
		      pow_leading_zeros(d));
	}
}

/* A request as the client sends it: an 8-byte big-endian timestamp. */
static void frame_of(uint64_t v, uint8_t f[FRAME_SIZE])
{
	for (int i = FRAME_SIZE - 1; i >= 0; i--, v >>= 8)
		f[i] = (uint8_t)v;
}

/* The nonce meets the target, no smaller one does, and hashes = nonce + 1. */
static void test_pow_solutions(void)
{
	for (int bits = 0; bits <= 16; bits++) {
		for (uint64_t k = 0; k < 4; k++) {
			uint8_t f[FRAME_SIZE];
			uint64_t nonce, hashes;

			frame_of(1700000000000000000ull + k * 7919 + (uint64_t)bits, f);
			hashes = pow_solve(f, sizeof(f), bits, &nonce, NULL);
			CHECK(nonce != UINT64_MAX, "bits %d: no nonce", bits);
			CHECK(hashes == nonce + 1, "bits %d: %llu hashes for nonce %llu", bits,
			      (unsigned long long)hashes, (unsigned long long)nonce);
			CHECK(pow_check(f, sizeof(f), bits, nonce), "bits %d nonce %llu misses",
			      bits, (unsigned long long)nonce);
			if (bits > 12)
				continue;
			for (uint64_t n = 0; n < nonce; n++)
				if (pow_check(f, sizeof(f), bits, n)) {
					CHECK(0, "bits %d: %llu also meets it, solver said %llu",
					      bits, (unsigned long long)n, (unsigned long long)nonce);
					break;
				}
		}
	}
	/* The check can fail: a 10-bit nonce does not meet 64 bits. */
	{
		uint8_t f[FRAME_SIZE];
		uint64_t nonce;

		frame_of(42, f);
		pow_solve(f, sizeof(f), 10, &nonce, NULL);
		CHECK(pow_check(f, sizeof(f), 10, nonce) && !pow_check(f, sizeof(f), 64, nonce),
		      "nonce %llu: check does not discriminate", (unsigned long long)nonce);
	}
}

/*
 * The work is real: over 512 different requests an 8-bit proof averages
 * 256 hashes (the standard deviation of that mean is ~11), and requests
 * find different nonces, unlike the original's fixed "hello world N".
 */
static void test_pow_average(void)
{
	const int n = 512, bits = 8;
	uint64_t total = 0, first = 0;
	int same = 0;

	for (int k = 0; k < n; k++) {
		uint8_t f[FRAME_SIZE];
		uint64_t nonce;

		frame_of(1700000000123456789ull + (uint64_t)k * 1000003, f);
		total += pow_solve(f, sizeof(f), bits, &nonce, NULL);
		if (k == 0)
			first = nonce;
		else
			same += nonce == first;
	}
	CHECK(total / n > 200 && total / n < 312, "mean %llu hashes, want ~256",
	      (unsigned long long)(total / n));
	CHECK(same < n / 8, "%d of %d requests found the same nonce", same, n);
	printf("pow: %d-bit proofs averaged %.1f hashes over %d requests\n", bits,
	       (double)total / n, n);
}

/* The stop flag ends a hopeless proof quickly. */
static void test_pow_stop(void)
{
	atomic_int stop = 1;
	uint8_t f[FRAME_SIZE] = { 1 };
	uint64_t nonce = 0, hashes;

	hashes = pow_solve(f, sizeof(f), POW_MAX_BITS, &nonce, &stop);
	CHECK(nonce == UINT64_MAX, "stopped proof returned nonce %llu",
	      (unsigned long long)nonce);
	CHECK(hashes <= 4096, "stopped after %llu hashes", (unsigned long long)hashes);
	CHECK(pow_solve(f, POW_MAX_SALT + 1, 1, &nonce, NULL) == 0 && nonce == UINT64_MAX,
	      "too long a salt is refused");
	CHECK(pow_solve(f, sizeof(f), POW_MAX_BITS + 1, &nonce, NULL) == 0,
	      "too many bits are refused");
}

int main(void)
{
	test_fips();
	test_padding();
	test_leading_zeros();
	test_pow_solutions();
	test_pow_average();
	test_pow_stop();
	printf("pow: %.2fM hashes/s\n", pow_hash_rate() / 1e6);
	if (failures) {
		printf("%d failure(s)\n", failures);
		return 1;
	}
	printf("sha256: all vectors and proofs pass\n");
	return 0;
}
