// SPDX-License-Identifier: GPL-2.0
/*
 * Memory backings (see backing.h).  Mapping is done in two steps so that
 * alignment never costs population: reserve PROT_NONE address space at
 * the aligned address (fl_map_open), then mmap(MAP_FIXED) the real
 * mapping over it, with MAP_POPULATE if asked (fl_map_mmap).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include "backing.h"
#include "mmflags.h"
#include "sysfs.h"
#include "workload.h"

/* /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
#define KPF_ANON	12
#define KPF_HUGE	17
#define KPF_THP		22

static const char *thp_available(const struct fl_backing_conf *conf, size_t len,
				 char *buf, size_t n)
{
	char mode[64];

	if (fl_sysfs_bracketed("/sys/kernel/mm/transparent_hugepage/enabled",
			       mode, sizeof(mode)))
		return "kernel without CONFIG_TRANSPARENT_HUGEPAGE (no /sys/kernel/mm/transparent_hugepage)";
	if (!strcmp(mode, "never")) {
		snprintf(buf, n, "THP disabled (transparent_hugepage/enabled=never): --prepare --set thp_mode=madvise, or write madvise to /sys/kernel/mm/transparent_hugepage/enabled");
		return buf;
	}
	return NULL;
}

static const char *hugetlb_available(size_t page, size_t len, char *buf, size_t n)
{
	char path[128];
	long long nfree;
	uint64_t need = (len + page - 1) / page;
	const char *sz = page == SZ_2M ? "2M" : "1G";

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%zukB/free_hugepages",
		 page >> 10);
	if (fl_sysfs_read_ll(path, &nfree)) {
		snprintf(buf, n, "kernel has no %s hugetlb pages (%s missing: CONFIG_HUGETLBFS%s)",
			 sz, path, page == SZ_1G ? " and a CPU with pdpe1gb" : "");
		return buf;
	}
	if ((uint64_t)nfree < need) {
		snprintf(buf, n, "needs %" PRIu64 " free %s hugetlb pages, %lld free: run with --prepare or set %s",
			 need, sz, nfree, page == SZ_2M ? "vm.nr_hugepages" :
			 "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages");
		return buf;
	}
	return NULL;
}

static const char *hugetlb2m_available(const struct fl_backing_conf *conf, size_t len,
				       char *buf, size_t n)
{
	return hugetlb_available(SZ_2M, len, buf, n);
}

static const char *hugetlb1g_available(const struct fl_backing_conf *conf, size_t len,
				       char *buf, size_t n)
{
	return hugetlb_available(SZ_1G, len, buf, n);
}

static const char *file_available(const struct fl_backing_conf *conf, size_t len,
				  char *buf, size_t n)
{
	struct statfs sfs;

	if (statfs(conf->file_dir, &sfs)) {
		snprintf(buf, n, "file_dir %s: %s", conf->file_dir, strerror(errno));
		return buf;
	}
	/* tmpfs "files" are shmem, not page cache of a real filesystem. */
	if (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC) {
		snprintf(buf, n, "file_dir %s is tmpfs/ramfs (shmem, not page cache): set file_dir to a disk filesystem",
			 conf->file_dir);
		return buf;
	}
	if ((uint64_t)sfs.f_bavail * sfs.f_bsize < len + (64ull << 20)) {
		snprintf(buf, n, "file_dir %s has %" PRIu64 " MiB free, needs %zu MiB",
			 conf->file_dir, (uint64_t)sfs.f_bavail * sfs.f_bsize >> 20, len >> 20);
		return buf;
	}
	return NULL;
}

/* First mount in /proc/mounts with a dax option ("dax", "dax=always"). */
int fl_find_dax_mount(char *dir, size_t len)
{
	FILE *f = fopen("/proc/mounts", "r");
	char src[256], mnt[256], type[64], opts[512];
	int ret = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%255s %255s %63s %511s %*d %*d", src, mnt, type, opts) == 4) {
		char *o, *save = NULL;

		for (o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			if (!strcmp(o, "dax") || !strcmp(o, "dax=always")) {
				snprintf(dir, len, "%s", mnt);
				ret = 0;
				goto out;
			}
		}
	}
out:
	fclose(f);
	return ret;
}

static const char *dax_dir(const struct fl_backing_conf *conf, char *dir, size_t len)
{
	if (conf->dax_dir[0]) {
		snprintf(dir, len, "%s", conf->dax_dir);
		return NULL;
	}
	if (fl_find_dax_mount(dir, len))
		return "no filesystem mounted with -o dax (needs PMEM: see scripts/pmem-setup, or set dax_dir)";
	return NULL;
}

static const char *fsdax_available(const struct fl_backing_conf *conf, size_t len,
				   char *buf, size_t n)
{
	char dir[256];
	const char *why = dax_dir(conf, dir, sizeof(dir));
	struct statfs sfs;

	if (why)
		return why;
	if (statfs(dir, &sfs)) {
		snprintf(buf, n, "dax_dir %s: %s", dir, strerror(errno));
		return buf;
	}
	if ((uint64_t)sfs.f_bavail * sfs.f_bsize < len + SZ_2M) {
		snprintf(buf, n, "dax_dir %s has %" PRIu64 " MiB free, needs %zu MiB",
			 dir, (uint64_t)sfs.f_bavail * sfs.f_bsize >> 20, len >> 20);
		return buf;
	}
	return NULL;
}

int fl_find_devdax(char *dev, size_t len)
{
	char path[64];

	for (int r = 0; r < 8; r++) {
		for (int i = 0; i < 8; i++) {
			snprintf(path, sizeof(path), "/dev/dax%d.%d", r, i);
			if (!access(path, F_OK)) {
				snprintf(dev, len, "%s", path);
				return 0;
			}
		}
	}
	return -1;
}

static const char *devdax_available(const struct fl_backing_conf *conf, size_t len,
				    char *buf, size_t n)
{
	char dev[256];
	struct stat st;
	char path[256];
	long long size;

	if (conf->devdax[0])
		snprintf(dev, sizeof(dev), "%s", conf->devdax);
	else if (fl_find_devdax(dev, sizeof(dev)))
		return "no /dev/daxX.Y devdax device (needs PMEM in devdax mode: see scripts/pmem-setup, or set devdax)";
	if (stat(dev, &st) || !S_ISCHR(st.st_mode)) {
		snprintf(buf, n, "devdax %s is not a character device", dev);
		return buf;
	}
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/size", major(st.st_rdev),
		 minor(st.st_rdev));
	if (!fl_sysfs_read_ll(path, &size) && (uint64_t)size < len) {
		snprintf(buf, n, "devdax %s has %lld MiB, needs %zu MiB", dev, size >> 20, len >> 20);
		return buf;
	}
	return NULL;
}

const struct fl_backing fl_backings[FL_BACKING_COUNT] = {
	[FL_BACKING_ANON_4K] = { FL_BACKING_ANON_4K, "anon-4k",
		"private anonymous memory, MADV_NOHUGEPAGE (4 KiB pages)", SZ_4K, NULL },
	[FL_BACKING_THP] = { FL_BACKING_THP, "thp",
		"private anonymous memory, 2 MiB aligned, MADV_HUGEPAGE", SZ_2M, thp_available },
	[FL_BACKING_HUGETLB_2M] = { FL_BACKING_HUGETLB_2M, "hugetlb-2m",
		"MAP_HUGETLB|MAP_HUGE_2MB from the hugetlb pool", SZ_2M, hugetlb2m_available },
	[FL_BACKING_HUGETLB_1G] = { FL_BACKING_HUGETLB_1G, "hugetlb-1g",
		"MAP_HUGETLB|MAP_HUGE_1GB from the hugetlb pool", SZ_1G, hugetlb1g_available },
	[FL_BACKING_SHMEM] = { FL_BACKING_SHMEM, "shmem",
		"memfd (shmem) mapped MAP_SHARED, MADV_NOHUGEPAGE", SZ_4K, NULL },
	[FL_BACKING_FILE] = { FL_BACKING_FILE, "file",
		"page cache of a sparse file on a disk filesystem (file_dir)", SZ_4K, file_available },
	[FL_BACKING_FSDAX] = { FL_BACKING_FSDAX, "fsdax",
		"fully allocated file on a filesystem mounted -o dax (dax_dir)", SZ_2M, fsdax_available },
	[FL_BACKING_DEVDAX] = { FL_BACKING_DEVDAX, "devdax",
		"device-dax character device /dev/daxX.Y (devdax)", SZ_2M, devdax_available },
};

const struct fl_backing *fl_backing_by_name(const char *name)
{
	for (int i = 0; i < FL_BACKING_COUNT; i++)
		if (!strcasecmp(fl_backings[i].name, name))
			return &fl_backings[i];
	return NULL;
}

void fl_backing_mask_str(unsigned mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < FL_BACKING_COUNT && off < len; i++)
		if (mask & FL_B(i))
			off += snprintf(buf + off, len - off, "%s%s", off ? "," : "",
					fl_backings[i].name);
}

/* Give the new file @m->fd its @flen bytes as @lay asks. */
static int alloc_file(struct fl_mapping *m, size_t flen, const struct fl_map_layout *lay,
		      const char *dir, char *why, size_t whylen)
{
	bool written = lay->alloc == FL_ALLOC_WRITTEN;
	int e;

	/* pmd faults need allocated, 2 MiB aligned extents: fsdax files are fallocated. */
	if (lay->alloc == FL_ALLOC_SPARSE || (lay->alloc == FL_ALLOC_DEFAULT && m->backing != FL_BACKING_FSDAX)) {
		if (!ftruncate(m->fd, (off_t)flen))
			return 0;
		e = errno;
		return snprintf(why, whylen, "ftruncate %s: %s", m->path, strerror(e)), -e;
	}
	if (written && (!lay->fill || !lay->fill_len))
		return snprintf(why, whylen, "FL_ALLOC_WRITTEN without data to write"), -EINVAL;
	if (fallocate(m->fd, 0, 0, (off_t)flen)) {
		e = errno;
		return snprintf(why, whylen, "fallocate %zu MiB on %s: %s", flen >> 20, dir, strerror(e)), -e;
	}
	for (size_t off = 0; written && off < flen; off += lay->fill_len) {
		size_t n = flen - off < lay->fill_len ? flen - off : lay->fill_len;

		if (pwrite(m->fd, lay->fill, n, (off_t)off) != (ssize_t)n) {
			e = errno ? errno : EIO;
			return snprintf(why, whylen, "pwrite %s at %zu: %s", dir, off, strerror(e)), -e;
		}
	}
	return 0;
}

static int open_backing_file(const struct fl_backing_conf *conf, enum fl_backing_id b,
			     size_t flen, const struct fl_map_layout *lay, struct fl_mapping *m,
			     char *why, size_t whylen)
{
	char dir[256];
	const char *err;
	int fd;

	if (b == FL_BACKING_DEVDAX) {
		if (conf->devdax[0])
			snprintf(m->path, sizeof(m->path), "%s", conf->devdax);
		else if (fl_find_devdax(m->path, sizeof(m->path)))
			return snprintf(why, whylen, "no devdax device"), -ENODEV;
		m->fd = open(m->path, O_RDWR | O_CLOEXEC);
		if (m->fd < 0)
			return snprintf(why, whylen, "open %s: %s", m->path, strerror(errno)), -errno;
		return 0;
	}
	if (b == FL_BACKING_SHMEM) {
		snprintf(dir, sizeof(dir), "memfd");
		snprintf(m->path, sizeof(m->path), "memfd:faultline");
		fd = memfd_create("faultline", MFD_CLOEXEC);
	} else {
		if (b == FL_BACKING_FSDAX) {
			err = dax_dir(conf, dir, sizeof(dir));
			if (err)
				return snprintf(why, whylen, "%s", err), -ENODEV;
		} else {
			snprintf(dir, sizeof(dir), "%s", conf->file_dir);
		}
		snprintf(m->path, sizeof(m->path), "%s/faultline.XXXXXX", dir);
		fd = mkostemp(m->path, O_CLOEXEC);
		/* Unlinked at once: a killed run leaves no file behind. */
		if (fd >= 0 && !(m->flags & FL_MAP_KEEP_NAME))
			unlink(m->path);
	}
	if (fd < 0)
		return snprintf(why, whylen, "create %s: %s", m->path, strerror(errno)), -errno;
	m->fd = fd;
	return alloc_file(m, flen, lay, dir, why, whylen);
}

static bool is_anon(enum fl_backing_id b)
{
	return b == FL_BACKING_ANON_4K || b == FL_BACKING_THP ||
	       b == FL_BACKING_HUGETLB_2M || b == FL_BACKING_HUGETLB_1G;
}

size_t fl_map_len(enum fl_backing_id b, size_t len, unsigned flags)
{
	size_t unit = flags & FL_MAP_EXACT ? SZ_4K : fl_backings[b].page_size;

	return (len + unit - 1) & ~(unit - 1);
}

uint64_t fl_map_size_as_run(struct fl_case *c, uint64_t *size, unsigned flags)
{
	size_t len = fl_map_len(c->backing, *size, flags);
	char asked[32];

	if (len != *size) {
		fl_format_size(*size, asked, sizeof(asked));
		fl_case_detail(c, "size_asked", asked);
		*size = len;
	}
	return *size;
}

void *fl_reserve_va(size_t len, size_t align, size_t off)
{
	size_t rlen = len + 2 * align;
	char *r = mmap(NULL, rlen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), *at;

	if (r == MAP_FAILED)
		return r;
	at = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1)) + off;
	/* Give back the head and tail around it. */
	if (at > r)
		munmap(r, (size_t)(at - r));
	if (at + len < r + rlen)
		munmap(at + len, (size_t)(r + rlen - (at + len)));
	return at;
}

int fl_map_open(const struct fl_backing_conf *conf, enum fl_backing_id b, size_t len,
		unsigned flags, const struct fl_map_layout *lay, struct fl_mapping *m,
		char *why, size_t whylen)
{
	static const struct fl_map_layout plain;
	size_t align = fl_backings[b].page_size;
	int ret;

	if (!lay)
		lay = &plain;
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->backing = b;
	m->flags = flags;
	m->len = fl_map_len(b, len, flags);
	if (!is_anon(b)) {
		m->file_off = lay->file_off;
		ret = open_backing_file(conf, b, (size_t)lay->file_off + m->len, lay, m, why, whylen);
		if (ret)
			goto out_close;
	}
	if (flags & FL_MAP_VA_ANY)
		return 0;
	/*
	 * Reserve first, then map over it: alignment never costs population
	 * (an oversized populated mapping trimmed afterwards would measure
	 * the trimmed part too).
	 */
	m->map_addr = fl_reserve_va(m->len, align, lay->va_off);
	if (m->map_addr == MAP_FAILED) {
		ret = -errno;
		m->map_addr = NULL;
		snprintf(why, whylen, "reserve %zu MiB of address space: %s", (m->len + 2 * align) >> 20,
			 strerror(-ret));
		goto out_close;
	}
	m->map_len = m->len;
	return 0;

out_close:
	fl_unmap(m);
	return ret;
}

int fl_map_mmap(struct fl_mapping *m)
{
	const struct fl_backing *bk = &fl_backings[m->backing];
	int mflags;
	void *p;

	if (is_anon(m->backing)) {
		mflags = MAP_PRIVATE | MAP_ANONYMOUS;
		if (m->backing == FL_BACKING_HUGETLB_2M)
			mflags |= MAP_HUGETLB | MAP_HUGE_2MB;
		if (m->backing == FL_BACKING_HUGETLB_1G)
			mflags |= MAP_HUGETLB | MAP_HUGE_1GB;
	} else {
		mflags = (m->flags & FL_MAP_PRIVATE) ? MAP_PRIVATE : MAP_SHARED;
		if (m->flags & FL_MAP_SYNC)
			mflags = MAP_SHARED_VALIDATE | MAP_SYNC;
	}
	if (m->flags & FL_MAP_POPULATE)
		mflags |= MAP_POPULATE;
	if (m->flags & FL_MAP_LOCKED)
		mflags |= MAP_LOCKED;
	if (m->map_addr)
		mflags |= MAP_FIXED;	/* over our own reservation */
	/*
	 * With MAP_POPULATE the first faults happen inside this mmap(), before
	 * any madvise() can apply: a THP map-populate case only gets huge
	 * pages with transparent_hugepage/enabled=always (populate.c says so
	 * in its skip reason).  fl_verify() reports what was actually given.
	 */
	p = mmap(m->map_addr, m->len, PROT_READ | PROT_WRITE, mflags, m->fd, (off_t)m->file_off);
	if (p == MAP_FAILED)
		return -errno;
	m->addr = m->map_addr = p;
	m->map_len = m->len;
	if (!(m->flags & FL_MAP_NO_ADVISE)) {
		if (bk->id == FL_BACKING_THP)
			madvise(p, m->len, MADV_HUGEPAGE);
		else if (bk->id == FL_BACKING_ANON_4K || bk->id == FL_BACKING_SHMEM)
			madvise(p, m->len, MADV_NOHUGEPAGE);
	}
	return 0;
}

int fl_map(const struct fl_backing_conf *conf, enum fl_backing_id b,
	   size_t len, unsigned flags, struct fl_mapping *m, char *why, size_t whylen)
{
	int ret = fl_map_open(conf, b, len, flags, NULL, m, why, whylen);

	if (ret)
		return ret;
	ret = fl_map_mmap(m);
	if (ret) {
		snprintf(why, whylen, "mmap %zu MiB %s: %s", m->len >> 20, fl_backings[b].name,
			 strerror(-ret));
		fl_unmap(m);
	}
	return ret;
}

void fl_unmap(struct fl_mapping *m)
{
	/* The mapping, or the reservation it was to replace. */
	if (m->map_addr)
		munmap(m->map_addr, m->map_len);
	if (m->fd >= 0)
		close(m->fd);
	if ((m->flags & FL_MAP_KEEP_NAME) && m->path[0] == '/' && m->backing != FL_BACKING_DEVDAX)
		unlink(m->path);
	m->map_addr = m->addr = NULL;
	m->fd = -1;
	m->path[0] = '\0';
}

long fl_map_extents(const struct fl_mapping *m, uint64_t *base, uint8_t **ok)
{
	enum { NEXT = 512 };
	struct fiemap *fm = calloc(1, sizeof(*fm) + NEXT * sizeof(struct fiemap_extent));
	uint64_t off = m->file_off, end = off + m->len;
	uint64_t first = (off + SZ_2M - 1) & ~(SZ_2M - 1), pos = first;
	uint64_t run_l = 0, run_p = 0, run_len = 0;
	size_t n = end > first ? (size_t)((end - first) / SZ_2M) : 0;
	uint8_t *flags = calloc(n ? n : 1, 1);
	long ret = -1;

	if (!fm || !flags)
		goto out;
	*base = first;
	while (pos < end) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = pos;
		fm->fm_length = end - pos;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = NEXT;
		if (ioctl(m->fd, FS_IOC_FIEMAP, fm))
			goto out;
		if (!fm->fm_mapped_extents)
			break;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];

			/* Merge runs contiguous in both file and device. */
			if (run_len && e->fe_logical == run_l + run_len && e->fe_physical == run_p + run_len) {
				run_len += e->fe_length;
			} else {
				run_l = e->fe_logical;
				run_p = e->fe_physical;
				run_len = e->fe_length;
			}
			for (size_t c = 0; c < n; c++) {
				uint64_t cl = first + c * SZ_2M;

				if (cl >= run_l && cl + SZ_2M <= run_l + run_len &&
				    !((run_p + (cl - run_l)) & (SZ_2M - 1)))
					flags[c] = 1;
			}
			pos = e->fe_logical + e->fe_length;
			if (e->fe_flags & FIEMAP_EXTENT_LAST)
				pos = end;
		}
	}
	*ok = flags;
	flags = NULL;
	ret = (long)n;
out:
	free(fm);
	free(flags);
	return ret;
}

/* Sum the smaps fields of every VMA overlapping [start, end). */
static int smaps_stat(uintptr_t start, uintptr_t end, struct fl_range_stat *st)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;
	unsigned long lo, hi, kb;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = lo < end && hi > start;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			st->anon_huge_kb += kb;
		else if (sscanf(line, "FilePmdMapped: %lu kB", &kb) == 1)
			st->file_pmd_kb += kb;
		else if (sscanf(line, "ShmemPmdMapped: %lu kB", &kb) == 1)
			st->shmem_pmd_kb += kb;
		else if (sscanf(line, "Rss: %lu kB", &kb) == 1)
			st->rss_kb += kb;
	}
	fclose(f);
	return 0;
}

/*
 * Walk /proc/self/pagemap and, as root, /proc/kpageflags, reading runs of
 * contiguous PFNs with one pread so that a 1 GiB THP range costs ~512 reads.
 */
static int pagemap_stat(uintptr_t start, size_t len, struct fl_range_stat *st)
{
	size_t npages = len / SZ_4K, chunk = 4096;
	uint64_t *pm = malloc(chunk * sizeof(uint64_t));
	uint64_t *kf = malloc(chunk * sizeof(uint64_t));
	int pmfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int kffd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	int ret = -1;

	if (!pm || !kf || pmfd < 0)
		goto out;
	st->have_kpageflags = kffd >= 0;
	for (size_t i = 0; i < npages; i += chunk) {
		size_t n = npages - i < chunk ? npages - i : chunk;
		off_t off = (off_t)((start / SZ_4K + i) * sizeof(uint64_t));

		if (pread(pmfd, pm, n * sizeof(uint64_t), off) != (ssize_t)(n * sizeof(uint64_t)))
			goto out;
		for (size_t j = 0; j < n;) {
			uint64_t pfn = pm[j] & ((1ull << 55) - 1);
			size_t run = 1;

			if (!(pm[j] >> 63)) {
				if ((pm[j] >> 62) & 1)
					st->swap_pages++;
				j++;
				continue;
			}
			st->present_pages++;
			if (kffd < 0 || !pfn) {
				j++;
				continue;
			}
			while (j + run < n && (pm[j + run] >> 63) &&
			       (pm[j + run] & ((1ull << 55) - 1)) == pfn + run)
				run++;
			st->present_pages += run - 1;
			if (pread(kffd, kf, run * sizeof(uint64_t), (off_t)(pfn * sizeof(uint64_t))) !=
			    (ssize_t)(run * sizeof(uint64_t))) {
				j += run;
				continue;
			}
			for (size_t k = 0; k < run; k++) {
				if (kf[k] & (1ull << KPF_THP))
					st->thp_pages++;
				if (kf[k] & (1ull << KPF_HUGE))
					st->huge_pages++;
			}
			j += run;
		}
	}
	ret = 0;
out:
	if (pmfd >= 0)
		close(pmfd);
	if (kffd >= 0)
		close(kffd);
	free(pm);
	free(kf);
	return ret;
}

int fl_range_stat(const void *addr, size_t len, struct fl_range_stat *st)
{
	uintptr_t start = (uintptr_t)addr;

	memset(st, 0, sizeof(*st));
	if (smaps_stat(start, start + len, st))
		return -1;
	return pagemap_stat(start, len, st);
}

/* Share of present memory mapped huge must reach this to count as huge. */
#define HUGE_SHARE_MIN 0.99

/*
 * PR_SET_THP_DISABLE survives fork and execve, so a launcher that set it
 * (some container runtimes and job schedulers do) denies THP to every case
 * while the sysfs settings say yes; /proc/self/status shows it (4.19+).
 */
static bool thp_disabled_by_prctl(void)
{
	char line[128];
	bool off = false;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "THP_enabled:", 12))
			off = atoi(line + 12) == 0;
	if (f)
		fclose(f);
	return off;
}

const char *fl_verify(const struct fl_mapping *m, char *why, size_t whylen)
{
	struct fl_range_stat st;
	uint64_t len_kb = m->len >> 10, huge_kb;
	struct statx stx;

	if (fl_range_stat(m->addr, m->len, &st))
		return snprintf(why, whylen, "cannot read /proc/self/smaps or pagemap"), why;

	switch (m->backing) {
	case FL_BACKING_ANON_4K:
		huge_kb = st.have_kpageflags ? st.thp_pages * 4 : st.anon_huge_kb;
		if (huge_kb)
			return snprintf(why, whylen, "asked for 4 KiB pages, kernel mapped %" PRIu64 " kB as THP despite MADV_NOHUGEPAGE", huge_kb), why;
		break;
	case FL_BACKING_THP:
		if (!st.present_pages)
			return snprintf(why, whylen, "nothing present to verify"), why;
		/* AnonHugePages counts pmd-mapped THP only: the mapping we asked for. */
		if ((double)st.anon_huge_kb < HUGE_SHARE_MIN * (double)(st.present_pages * 4))
			return snprintf(why, whylen,
					"asked for THP, got %" PRIu64 " of %" PRIu64 " kB pmd-mapped (AnonHugePages): %s",
					st.anon_huge_kb, st.present_pages * 4, thp_disabled_by_prctl() ?
					"THP disabled for this process (PR_SET_THP_DISABLE inherited from its parent: /proc/self/status THP_enabled: 0)" :
					"THP unavailable or memory fragmented (try --prepare to compact)"), why;
		break;
	case FL_BACKING_HUGETLB_2M:
	case FL_BACKING_HUGETLB_1G:
		/* MAP_HUGETLB cannot fall back; kpageflags confirms when readable. */
		if (st.have_kpageflags && st.present_pages && st.huge_pages != st.present_pages)
			return snprintf(why, whylen, "hugetlb mapping has %" PRIu64 " of %" PRIu64 " pages not KPF_HUGE",
					st.present_pages - st.huge_pages, st.present_pages), why;
		break;
	case FL_BACKING_SHMEM:
		if (st.shmem_pmd_kb)
			return snprintf(why, whylen, "asked for 4 KiB shmem, kernel pmd-mapped %" PRIu64 " kB (shmem_enabled)", st.shmem_pmd_kb), why;
		break;
	case FL_BACKING_FILE:
		break;
	case FL_BACKING_FSDAX:
		/* STATX_ATTR_DAX exists since 5.8; older kernels leave it clear. */
		if (!statx(m->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) &&
		    (stx.stx_attributes_mask & STATX_ATTR_DAX) &&
		    !(stx.stx_attributes & STATX_ATTR_DAX))
			return snprintf(why, whylen, "file on the dax mount is not DAX (statx STATX_ATTR_DAX clear)"), why;
		break;
	case FL_BACKING_DEVDAX:
	case FL_BACKING_COUNT:
		break;
	}
	(void)len_kb;
	return NULL;
}
