// SPDX-License-Identifier: GPL-2.0
/*
 * dax-populate's bandwidth passes: reads (and writes) through a DAX
 * mapping with glibc memcpy, timed by the core's clock, into a buffer
 * placed the way fio places its io buffer, so that dax_fio.c can put fio
 * beside them and compare like with like.  Part of the dax-populate
 * workload (dax_populate.c); `faultline describe dax-populate` lists the
 * options (bw_passes, bw_write, bs, read_buf).
 *
 * To use:
 *   faultline run dax-populate --backing fsdax --set bw_passes=4 --set bw_write=persist
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libpmem.h>

#include "dax_populate.h"
#include "mmflags.h"

/*
 * The buffer a bandwidth pass copies into (reads) or out of (writes).
 *
 * B_FIO places it the way fio places its io buffer, so that a read here
 * and a read by fio's mmap engine differ only in who runs the loop: fio
 * malloc()s max_bs * iodepth (backend.c init_io_u_buffers, no alignment
 * without direct=1/mem_align) and glibc serves a request at or above its
 * mmap threshold (128 KiB) with an anonymous mapping of its own:
 * request + 8-byte size field, rounded to 16, + 8, rounded to the page,
 * user data 16 bytes in (@rawio: engines flagged FIO_RAWIO, libpmem,
 * allocate a page more and align the pointer up to the page).  A read job
 * never fills it, so its first copy faults it in (inside fio's timed io).
 * Below the threshold fio's buffer comes from the heap; ours stays an own
 * mapping there too.
 *
 * B_FIO_ASLR: the same buffer at a random page colour within 2 MiB.  fio's
 * is a fresh process's mapping, which ASLR (mmap_base moved by random
 * pages) puts at a new colour every run; B_FIO gets the same hole back
 * every measurement.  Under qemu TCG the colour of the destination against
 * the source moves a 2 MiB copy by up to 1.6x.
 *
 * B_ALIGNED shows a qemu TCG artifact: a 2 MiB-aligned buffer fed from a
 * 2 MiB-aligned DAX mapping puts page i of the destination at the same
 * virtual page colour as page i of the source.  The softmmu TLB is
 * direct-mapped by virtual page number (accel/tcg/cputlb.c tlb_index()),
 * so every access of a byte-wise `rep movsb` evicts the other side's
 * entry; glibc 2.31 (bullseye) copies 2 MiB with `rep movsb` on the
 * -cpu max vCPU (ERMS, below the non-temporal threshold); glibc >= 2.33
 * stops rep movsb at the L2 size on AMD-branded CPUs (QEMU's TCG vCPU is
 * AuthenticAMD) and copies with vector loops, which the collision slows
 * far less.  In the 5.10 guest that made reads ~15x slower than the same
 * memcpy at +4 KiB, and 10x slower than fio, whose malloc'd buffer does
 * not collide.
 */
int dp_xbuf_get(struct xbuf *b, size_t bs, int kind, bool rawio, bool fill)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t req = rawio ? bs + pg - 1 : bs;

	if (kind == B_FIO || kind == B_FIO_ASLR) {
		static unsigned seed;
		char *at = NULL;
		int fixed = 0;

		b->maplen = ((((req + 8 + 15) & ~(size_t)15) + 8) + pg - 1) & ~(pg - 1);
		if (kind == B_FIO_ASLR) {
			if (!seed)
				seed = (unsigned)fl_now_ns() ^ (unsigned)getpid();
			at = fl_reserve_va(b->maplen, SZ_2M, (size_t)rand_r(&seed) % (SZ_2M / SZ_4K) * SZ_4K);
			if (at == MAP_FAILED)
				goto fail;
			fixed = MAP_FIXED;	/* over our own reservation */
		}
		b->map = mmap(at, b->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
		if (b->map == MAP_FAILED) {
			if (at)
				munmap(at, b->maplen);
			goto fail;
		}
		/* FIO_RAWIO engines (libpmem) page-align it inside the allocation. */
		b->p = rawio ? b->map + pg : b->map + 16;
	} else {
		b->maplen = bs + SZ_2M;
		b->map = mmap(NULL, b->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b->map == MAP_FAILED)
			goto fail;
		b->p = (char *)(((uintptr_t)b->map + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
		fill = true;	/* pre-touched: the placement that collides */
	}
	if (fill)
		memset(b->p, 0x5a, bs);
	return 0;
fail:
	b->map = NULL;
	b->p = NULL;
	return -ENOMEM;
}

void dp_xbuf_put(struct xbuf *b)
{
	if (b->map)
		munmap(b->map, b->maplen);
	b->map = NULL;
	b->p = NULL;
}

/* "2 MiB + 510 pages + 16 B": where a buffer sits against the TLB colours. */
static void place_str(const void *p, char *out, size_t n)
{
	uintptr_t a = (uintptr_t)p;

	snprintf(out, n, "2 MiB + %" PRIuPTR " pages + %" PRIuPTR " B", (a & (SZ_2M - 1)) / SZ_4K, a & (SZ_4K - 1));
}

/* fio_mmap_file for a read job: the whole file, PROT_READ, MAP_SHARED, sequential. */
static char *map_read_seq(const struct fl_mapping *m)
{
	char *p = mmap(NULL, m->len, PROT_READ, MAP_SHARED, m->fd, (off_t)m->file_off);

	if (p != MAP_FAILED)
		posix_madvise(p, m->len, POSIX_MADV_SEQUENTIAL);
	return p;
}

/*
 * Read passes the way fio's mmap engine reads (engines/mmap.c
 * fio_mmapio_queue: glibc memcpy of bs bytes from the mapping into the io
 * buffer, one io at a time): the same libc routine, the same buffer
 * placement (dp_xbuf_get), first touch of the buffer inside the timed
 * loop.  Without @remap the source is the populated mapping.  With it each
 * pass maps the file afresh, as fio does per loop (it closes and reopens
 * the file, and the engine maps the whole file, PROT_READ, MAP_SHARED,
 * POSIX_MADV_SEQUENTIAL): each 2 MiB io then starts with a pmd fault, and
 * under qemu TCG every page with an emulated-TLB miss, inside the timing.
 * fio_mmapio_prep takes an io as inside the mapping only when it ends
 * strictly before the mapping's end (`<`), so the last io of every loop
 * unmaps the file and maps it again: we do the same, timed, outside the
 * io.  fio's close_file frees that second mapping's record without
 * munmap (it goes at exit), so our munmap of it is not timed.  Returns
 * GB/s over the passes, -1 with errno when the buffer or a mapping failed.
 */
double dp_bw_read(struct read_pass *rp)
{
	const struct fl_mapping *m = rp->src;
	size_t iosz = rp->bs < m->len ? rp->bs : m->len;
	uint64_t t = 0, t0, ti, in_io = 0;
	struct xbuf b;
	char *src = m->addr;

	rp->fastest = UINT64_MAX;
	if (dp_xbuf_get(&b, rp->bs, rp->buf, rp->rawio, false))
		return -1;
	place_str(b.p, rp->place, sizeof(rp->place));
	for (unsigned p = 0; p < rp->passes; p++) {
		t0 = fl_now_ns();
		if (rp->remap) {
			src = map_read_seq(m);
			if (src == MAP_FAILED)
				goto fail;
		}
		for (size_t off = 0; off < m->len; off += rp->bs) {
			size_t n = m->len - off < rp->bs ? m->len - off : rp->bs;

			if (rp->remap && off && off + n == m->len) {
				munmap(src, m->len);
				src = map_read_seq(m);
				if (src == MAP_FAILED)
					goto fail;
			}
			ti = fl_now_ns();
			memcpy(b.p, src + off, n);
			ti = fl_now_ns() - ti;
			in_io += ti;
			/* A short tail copy is no io of the size compared. */
			if (n == iosz && ti < rp->fastest)
				rp->fastest = ti;
		}
		__asm__ volatile("" ::: "memory");
		t += fl_now_ns() - t0;
		if (rp->remap)
			munmap(src, m->len);
	}
	dp_xbuf_put(&b);
	rp->busy = t ? (double)in_io / (double)t : 0;
	return t ? (double)m->len * rp->passes / (double)t : 0;
fail:
	dp_xbuf_put(&b);
	return -1;
}

static double bw_write(struct dp_case *dc, size_t bs, unsigned passes, bool persist)
{
	char *dst = dc->m.addr;
	size_t len = dc->m.len;
	uint64_t t0 = fl_now_ns(), t;

	for (unsigned p = 0; p < passes; p++) {
		for (size_t off = 0; off < len; off += bs) {
			size_t n = len - off < bs ? len - off : bs;

			if (persist)
				pmem_memcpy_persist(dst + off, dc->bounce.p, n);
			else
				memcpy(dst + off, dc->bounce.p, n);
		}
	}
	t = fl_now_ns() - t0;
	return t ? (double)len * passes / (double)t : 0;
}

int dp_bandwidth(struct fl_case *c, struct dp_case *dc)
{
	const struct dp_conf *cf = c->config;
	struct read_pass rp = { .src = &dc->m, .bs = cf->bs, .passes = (unsigned)cf->bw_passes, .buf = cf->read_buf };
	double rd = dp_bw_read(&rp);

	if (rd < 0)
		return fl_case_error(c, "no memory for a %" PRIu64 "-byte read buffer", cf->bs);
	fl_case_detail(c, "read_buf", rp.place);
	fl_metric(c, "read_GBps", "GB/s", FL_HIGHER_IS_BETTER, rd);
	/* A private mapping's writes are COW to anon memory: not DAX bandwidth. */
	if (cf->bw_write != W_NONE && cf->mode != M_PRIVATE_POPULATE)
		fl_metric(c, cf->bw_write == W_PERSIST ? "persist_write_GBps" : "write_GBps", "GB/s",
			  FL_HIGHER_IS_BETTER,
			  bw_write(dc, cf->bs, (unsigned)cf->bw_passes, cf->bw_write == W_PERSIST));
	return 0;
}
