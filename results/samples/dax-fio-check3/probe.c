// SPDX-License-Identifier: GPL-2.0
/*
 * probe: which copy routine and destination placement make reads out of a
 * DAX mapping slow under qemu TCG (issue 5 check 3, the 5.10 10x).  Copies
 * LEN MiB from a populated MAP_SHARED mapping of PATH (and from anonymous
 * memory) in 2 MiB units with glibc memcpy, rep movsb/movsq, SSE2/AVX2
 * loops into destinations at 2 MiB, 2 MiB + 16 B / 4 KiB / 64 KiB and a
 * malloc(2M) buffer like fio's.  Build it in the oldest guest root (it
 * needs only GLIBC_2.2.5-2.17 symbols, so one binary runs in every guest):
 *   chroot /var/cache/faultline/roots/bullseye gcc -O2 -o probe probe.c
 *   scripts/vm run ... --exec '/host/probe /mnt/pmem/probe 32 [ROUTINES]'
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define M2 (2ul << 20)

static uint64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void c_glibc(void *d, const void *s, size_t n) { memcpy(d, s, n); }
static void c_movsb(void *d, const void *s, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
static void c_movsq(void *d, const void *s, size_t n)
{
	n /= 8;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
static void c_sse2(void *d, const void *s, size_t n)
{
	for (size_t i = 0; i < n; i += 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)((const char *)s + i));
		__m128i b = _mm_loadu_si128((const __m128i *)((const char *)s + i + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)((const char *)s + i + 32));
		__m128i e = _mm_loadu_si128((const __m128i *)((const char *)s + i + 48));
		_mm_storeu_si128((__m128i *)((char *)d + i), a);
		_mm_storeu_si128((__m128i *)((char *)d + i + 16), b);
		_mm_storeu_si128((__m128i *)((char *)d + i + 32), c);
		_mm_storeu_si128((__m128i *)((char *)d + i + 48), e);
	}
}
static void c_ntsse2(void *d, const void *s, size_t n)
{
	for (size_t i = 0; i < n; i += 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)((const char *)s + i));
		__m128i b = _mm_loadu_si128((const __m128i *)((const char *)s + i + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)((const char *)s + i + 32));
		__m128i e = _mm_loadu_si128((const __m128i *)((const char *)s + i + 48));
		if (((uintptr_t)d & 15) == 0) {
			_mm_stream_si128((__m128i *)((char *)d + i), a);
			_mm_stream_si128((__m128i *)((char *)d + i + 16), b);
			_mm_stream_si128((__m128i *)((char *)d + i + 32), c);
			_mm_stream_si128((__m128i *)((char *)d + i + 48), e);
		} else {
			_mm_storeu_si128((__m128i *)((char *)d + i), a);
			_mm_storeu_si128((__m128i *)((char *)d + i + 16), b);
			_mm_storeu_si128((__m128i *)((char *)d + i + 32), c);
			_mm_storeu_si128((__m128i *)((char *)d + i + 48), e);
		}
	}
	_mm_sfence();
}
__attribute__((target("avx2"))) static void c_avx2(void *d, const void *s, size_t n)
{
	for (size_t i = 0; i < n; i += 128) {
		__m256i a = _mm256_loadu_si256((const __m256i *)((const char *)s + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)((const char *)s + i + 32));
		__m256i c = _mm256_loadu_si256((const __m256i *)((const char *)s + i + 64));
		__m256i e = _mm256_loadu_si256((const __m256i *)((const char *)s + i + 96));
		_mm256_storeu_si256((__m256i *)((char *)d + i), a);
		_mm256_storeu_si256((__m256i *)((char *)d + i + 32), b);
		_mm256_storeu_si256((__m256i *)((char *)d + i + 64), c);
		_mm256_storeu_si256((__m256i *)((char *)d + i + 96), e);
	}
	_mm256_zeroupper();
}

struct routine { const char *name; void (*fn)(void *, const void *, size_t); };
static const struct routine routines[] = {
	{ "glibc-memcpy", c_glibc }, { "rep-movsb", c_movsb }, { "rep-movsq", c_movsq },
	{ "sse2-loop", c_sse2 }, { "sse2-nt", c_ntsse2 }, { "avx2-loop", c_avx2 },
};

static double bw(void (*fn)(void *, const void *, size_t), char *dst, const char *src, size_t len,
		 size_t bs, int passes)
{
	uint64_t t0 = now();
	for (int p = 0; p < passes; p++)
		for (size_t o = 0; o < len; o += bs)
			fn(dst, src + o, bs);
	__asm__ volatile("" ::: "memory");
	return (double)len * passes / (double)(now() - t0);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/mnt/pmem/probe";
	size_t len = (argc > 2 ? strtoul(argv[2], NULL, 0) : 32) << 20;
	const char *only = argc > 3 ? argv[3] : "";
	int passes = 2;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *big, *src, *anon;
	struct { const char *name; char *p; } dsts[8];
	int nd = 0;

	if (fd < 0 || fallocate(fd, 0, 0, len)) { perror(path); return 1; }
	big = aligned_alloc(M2, M2);
	memset(big, 0x5a, M2);
	for (size_t o = 0; o < len; o += M2)
		if (pwrite(fd, big, M2, o) != (ssize_t)M2) { perror("pwrite"); return 1; }
	src = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	anon = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	memset(anon, 1, len);
	printf("src %p (2M+%lu), anon %p\n", src, ((uintptr_t)src & (M2 - 1)), anon);

	/* destinations: 4 MiB regions, 2 MiB-aligned, offset inside */
	char *region = aligned_alloc(M2, 8 * M2);
	memset(region, 0x33, 8 * M2);
	dsts[nd].name = "dst-2M-aligned"; dsts[nd++].p = big;
	dsts[nd].name = "dst-2M+16"; dsts[nd++].p = region + 16;
	dsts[nd].name = "dst-2M+4K"; dsts[nd++].p = region + 2 * M2 + 4096;
	dsts[nd].name = "dst-2M+64K"; dsts[nd++].p = region + 4 * M2 + 65536;
	char *m = malloc(M2);
	memset(m, 0x44, M2);
	dsts[nd].name = "dst-malloc(2M)"; dsts[nd++].p = m;
	printf("malloc(2M) = %p (page +%lu, 2M +%lu)\n", m, (uintptr_t)m & 4095, (uintptr_t)m & (M2 - 1));

	for (size_t r = 0; r < sizeof(routines) / sizeof(routines[0]); r++) {
		if (*only && !strstr(only, routines[r].name))
			continue;
		for (int d = 0; d < nd; d++) {
			double dax = bw(routines[r].fn, dsts[d].p, src, len, M2, passes);
			double an = bw(routines[r].fn, dsts[d].p, anon, len, M2, passes);
			printf("%-14s %-16s dax %7.3f GB/s  anon %7.3f GB/s\n", routines[r].name, dsts[d].name, dax, an);
			fflush(stdout);
		}
	}
	/* memset like bench/calibrate.c */
	{
		uint64_t t0 = now();
		memset(anon, 7, len);
		printf("memset anon %zu MiB: %.3f GB/s\n", len >> 20, (double)len / (double)(now() - t0));
	}
	unlink(path);
	return 0;
}
