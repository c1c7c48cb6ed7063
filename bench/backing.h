/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory backings: the kind of memory a case runs on is a dimension of the
 * case, not something each workload re-implements.  Every backing maps
 * memory the same way (fl_map) and then *verifies* what the kernel actually
 * gave (smaps, pagemap + kpageflags, hugetlb counters, statx DAX flag).  A
 * mismatch turns the case into a skip with the reason: a THP run that got
 * 4 KiB pages is not a THP number.
 */
#ifndef FL_BACKING_H
#define FL_BACKING_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum fl_backing_id {
	FL_BACKING_ANON_4K,
	FL_BACKING_THP,
	FL_BACKING_HUGETLB_2M,
	FL_BACKING_HUGETLB_1G,
	FL_BACKING_SHMEM,
	FL_BACKING_FILE,	/* page cache of a file on a real filesystem */
	FL_BACKING_FSDAX,	/* file on a filesystem mounted -o dax */
	FL_BACKING_DEVDAX,	/* /dev/daxX.Y character device */
	FL_BACKING_COUNT
};

#define FL_B(id)	(1u << (id))
#define FL_BACKINGS_ANON (FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP) | \
			  FL_B(FL_BACKING_HUGETLB_2M) | FL_B(FL_BACKING_HUGETLB_1G))
#define FL_BACKINGS_RAM	(FL_BACKINGS_ANON | FL_B(FL_BACKING_SHMEM) | \
			 FL_B(FL_BACKING_FILE))
#define FL_BACKINGS_DAX	(FL_B(FL_BACKING_FSDAX) | FL_B(FL_BACKING_DEVDAX))
#define FL_BACKINGS_ALL	((1u << FL_BACKING_COUNT) - 1)

/* Where file-like backings live; set from core options (file_dir, dax_dir, devdax). */
struct fl_backing_conf {
	char file_dir[256];	/* page-cache files; must not be tmpfs */
	char dax_dir[256];	/* fsdax mount; "" = auto-detect a -o dax mount */
	char devdax[256];	/* /dev/daxX.Y; "" = auto-detect */
};

/* Flags for fl_map(). */
#define FL_MAP_POPULATE	0x1	/* MAP_POPULATE */
#define FL_MAP_PRIVATE	0x2	/* MAP_PRIVATE for file/shmem/dax backings */
#define FL_MAP_SYNC	0x4	/* MAP_SHARED_VALIDATE|MAP_SYNC (fsdax only) */
#define FL_MAP_LOCKED	0x8	/* MAP_LOCKED */
#define FL_MAP_NO_ADVISE 0x10	/* skip the backing's madvise (tests) */
#define FL_MAP_EXACT	0x20	/* round @len to 4 KiB only, not to the backing's page */
#define FL_MAP_VA_ANY	0x40	/* VA wherever mmap(NULL) puts it: no alignment, no va_off */
#define FL_MAP_KEEP_NAME 0x80	/* file backings: the file keeps its name until fl_unmap */

/* How fl_map_open() allocates a file backing's blocks. */
enum fl_alloc {
	FL_ALLOC_DEFAULT,	/* fsdax: fallocate (unwritten extents); others: ftruncate */
	FL_ALLOC_WRITTEN,	/* fallocate, then every byte written (fill) */
	FL_ALLOC_SPARSE,	/* ftruncate only: holes */
};

/* Where a mapping lies, beyond fl_map()'s defaults (all zero). */
struct fl_map_layout {
	size_t va_off;		/* VA = a boundary of the backing's page + va_off (< the page) */
	uint64_t file_off;	/* file/device offset mapped; a file is file_off + len long */
	enum fl_alloc alloc;
	const void *fill;	/* FL_ALLOC_WRITTEN: the data written, fill_len bytes at a time */
	size_t fill_len;
};

struct fl_mapping {
	enum fl_backing_id backing;
	void *addr;		/* what the workload uses; NULL until mapped */
	size_t len;
	void *map_addr;		/* what was mmap()ed, or the reservation before */
	size_t map_len;
	int fd;			/* file/shmem/dax backings, else -1 */
	uint64_t file_off;
	unsigned flags;		/* FL_MAP_* */
	char path[512];		/* file backings: the file (unlinked at once unless KEEP_NAME) */
};

struct fl_backing {
	enum fl_backing_id id;
	const char *name;	/* "anon-4k", "thp", ... as used on the CLI */
	const char *summary;
	size_t page_size;	/* the unit the kernel should map it with */
	/*
	 * NULL if @len bytes of this backing can be had on this system,
	 * otherwise the precise missing piece and how to get it.  Does not
	 * change any system setting.
	 */
	const char *(*available)(const struct fl_backing_conf *conf, size_t len,
				 char *buf, size_t buflen);
};

extern const struct fl_backing fl_backings[FL_BACKING_COUNT];

const struct fl_backing *fl_backing_by_name(const char *name);
/* "anon-4k, thp, ..." of the backings in @mask. */
void fl_backing_mask_str(unsigned mask, char *buf, size_t len);

/*
 * Map @len bytes (rounded up to the backing's page size), aligned to the
 * backing's page size, and apply the advice that asks for that page size
 * (MADV_HUGEPAGE, MADV_NOHUGEPAGE).  Returns 0, or -errno with a reason in
 * @why.  m->len is the length mapped: record that, not @len.
 */
int fl_map(const struct fl_backing_conf *conf, enum fl_backing_id b,
	   size_t len, unsigned flags, struct fl_mapping *m,
	   char *why, size_t whylen);
void fl_unmap(struct fl_mapping *m);
/* The length fl_map() maps for @len with @flags. */
size_t fl_map_len(enum fl_backing_id b, size_t len, unsigned flags);

/*
 * For a case whose @size option fl_map() rounds up (8K on thp maps
 * 2 MiB): set @size, in the case's config, to the length that is mapped,
 * so that its record gives the size that ran, and keep the asked one in
 * details.size_asked.  Call from setup(); returns the new size.
 */
struct fl_case;
uint64_t fl_map_size_as_run(struct fl_case *c, uint64_t *size, unsigned flags);

/*
 * fl_map() in two steps, for a workload that times the mmap() itself:
 * fl_map_open() opens (creates, allocates) the file and reserves the
 * address range laid out by @lay (NULL: fl_map()'s); fl_map_mmap() maps
 * there.  A failed fl_map_mmap() returns -errno and leaves @m to
 * fl_unmap(), which also takes an @m that was never mapped.
 */
int fl_map_open(const struct fl_backing_conf *conf, enum fl_backing_id b, size_t len,
		unsigned flags, const struct fl_map_layout *lay, struct fl_mapping *m,
		char *why, size_t whylen);
int fl_map_mmap(struct fl_mapping *m);

/*
 * PROT_NONE reservation of [VA, VA + @len) with VA an @align boundary +
 * @off, for a MAP_FIXED mapping over it; MAP_FAILED with errno on failure.
 */
void *fl_reserve_va(size_t len, size_t align, size_t off);

/*
 * Which 2 MiB chunks of a file backing's mapped range could be pmd mapped
 * as far as the filesystem goes (FIEMAP): for each 2 MiB-aligned file
 * chunk inside [file_off, file_off + len), whether one physically
 * contiguous run of blocks backs it at a 2 MiB-aligned device offset.
 * Returns the number of chunks with their flags in *ok (malloc'd) and the
 * file offset of the first in *base; -1 if FIEMAP is not available.
 */
long fl_map_extents(const struct fl_mapping *m, uint64_t *base, uint8_t **ok);

/*
 * After the memory was made present: check that the kernel gave what the
 * backing promises.  Returns NULL if so, otherwise writes the mismatch to
 * @why and returns it (the case becomes a skip).
 */
const char *fl_verify(const struct fl_mapping *m, char *why, size_t whylen);

/* Statistics of a mapped range, as read from the kernel. */
struct fl_range_stat {
	uint64_t present_pages;	/* 4 KiB pages present (pagemap) */
	uint64_t swap_pages;	/* swap or migration entries (pagemap bit 62) */
	uint64_t thp_pages;	/* 4 KiB pages inside THPs (kpageflags) */
	uint64_t huge_pages;	/* 4 KiB pages inside hugetlb (kpageflags) */
	uint64_t anon_huge_kb;	/* smaps AnonHugePages of the VMA */
	uint64_t file_pmd_kb;	/* smaps FilePmdMapped */
	uint64_t shmem_pmd_kb;	/* smaps ShmemPmdMapped */
	uint64_t rss_kb;	/* smaps Rss */
	bool have_kpageflags;	/* needs root (CAP_SYS_ADMIN) */
};
int fl_range_stat(const void *addr, size_t len, struct fl_range_stat *st);

#endif
