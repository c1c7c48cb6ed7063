// SPDX-License-Identifier: GPL-2.0
/*
 * The minimal C loop populate's THP first-touch case is held against: mmap
 * a 2 MiB aligned range, MADV_HUGEPAGE, write one byte every 4 KiB, munmap.
 * The timed region is the touch loop, as in faultline's run().  Prints one
 * GB/s figure per repetition.
 *
 *   thp_touch_loop SIZE_MB WARMUP REPS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define SZ_2M (2ul << 20)

static uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t len = (argc > 1 ? strtoul(argv[1], NULL, 0) : 256) << 20;
	int warmup = argc > 2 ? atoi(argv[2]) : 1, reps = argc > 3 ? atoi(argv[3]) : 5;

	for (int r = 0; r < warmup + reps; r++) {
		char *raw = mmap(NULL, len + SZ_2M, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		volatile char *p;
		uint64_t t0, t1;

		if (raw == MAP_FAILED)
			return 1;
		p = (volatile char *)(((uintptr_t)raw + SZ_2M - 1) & ~(SZ_2M - 1));
		madvise((void *)p, len, MADV_HUGEPAGE);
		t0 = now();
		for (size_t off = 0; off < len; off += 4096)
			p[off] = 1;
		t1 = now();
		munmap(raw, len + SZ_2M);
		if (r >= warmup)
			printf("%.6f\n", (double)len / (double)(t1 - t0));
	}
	return 0;
}
