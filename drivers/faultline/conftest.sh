#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Compile-time feature probes for faultline.ko (the ZFS/NVIDIA conftest
# approach): every probe is a tiny translation unit compiled with the
# target kernel's own Kbuild and -Werror; the ones that compile become
# "#define FL_HAVE_<NAME> 1" in the generated header.  compat.h is the only
# consumer.  Distributions backport API changes, so a version number would
# lie where a probe does not.
#
# usage: conftest.sh KDIR OUT.h
set -eu
kdir=$1
out=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/fl-conftest.XXXXXX")
trap 'rm -rf "$work"' EXIT

probe() {	# probe NAME <<'C' ... C  (body: includes + one function)
	{
		cat
		printf '\nMODULE_LICENSE("GPL");\n'
	} > "$work/$1.c"
	names="${names:-} $1"
}

probe PIN_USER_PAGES_NO_VMAS <<'C'
#include <linux/module.h>
#include <linux/mm.h>
/* 6.5 "mm/gup: remove vmas parameter from pin_user_pages()" */
long fl_probe(struct page **p);
long fl_probe(struct page **p) { return pin_user_pages(0, 1, FOLL_WRITE, p); }
C

probe GET_USER_PAGES_NO_VMAS <<'C'
#include <linux/module.h>
#include <linux/mm.h>
/* 6.5 "mm/gup: remove vmas parameter from get_user_pages()" */
long fl_probe(struct page **p);
long fl_probe(struct page **p) { return get_user_pages(0, 1, FOLL_WRITE, p); }
C

probe GET_USER_PAGES_FAST <<'C'
#include <linux/module.h>
#include <linux/mm.h>
int fl_probe(struct page **p);
int fl_probe(struct page **p) { return get_user_pages_fast(0, 1, FOLL_WRITE, p); }
C

probe MMAP_READ_LOCK <<'C'
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
/* 5.8 mmap locking API */
void fl_probe(struct mm_struct *mm);
void fl_probe(struct mm_struct *mm) { mmap_read_lock(mm); mmap_read_unlock(mm); }
C

probe FOLIO_MAYBE_DMA_PINNED <<'C'
#include <linux/module.h>
#include <linux/mm.h>
bool fl_probe(struct page *p);
bool fl_probe(struct page *p) { return folio_maybe_dma_pinned(page_folio(p)); }
C

probe PAGE_MAYBE_DMA_PINNED <<'C'
#include <linux/module.h>
#include <linux/mm.h>
bool fl_probe(struct page *p);
bool fl_probe(struct page *p) { return page_maybe_dma_pinned(p); }
C

probe IS_HUGE_ZERO_FOLIO <<'C'
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/huge_mm.h>
/* 6.10 folio conversion of is_huge_zero_page() */
bool fl_probe(struct page *p);
bool fl_probe(struct page *p) { return is_huge_zero_folio(page_folio(p)); }
C

probe IS_HUGE_ZERO_PAGE <<'C'
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/huge_mm.h>
bool fl_probe(struct page *p);
bool fl_probe(struct page *p) { return is_huge_zero_page(p); }
C

probe KMAP_LOCAL_PAGE <<'C'
#include <linux/module.h>
#include <linux/highmem.h>
/* 5.11 */
void fl_probe(struct page *p);
void fl_probe(struct page *p) { void *v = kmap_local_page(p); kunmap_local(v); }
C

probe HMM_PFN_ORDER <<'C'
#include <linux/module.h>
#include <linux/hmm.h>
/* 5.12 "mm/hmm: provide the page mapping order in hmm_range_fault()" */
unsigned int fl_probe(unsigned long pfn);
unsigned int fl_probe(unsigned long pfn) { return hmm_pfn_to_map_order(pfn); }
C

probe MMU_NOTIFY_MIGRATE <<'C'
#include <linux/module.h>
#include <linux/mmu_notifier.h>
int fl_probe(void);
int fl_probe(void) { return MMU_NOTIFY_MIGRATE; }
C

probe MMU_NOTIFY_EXCLUSIVE <<'C'
#include <linux/module.h>
#include <linux/mmu_notifier.h>
/* 5.14 device-exclusive entries */
int fl_probe(void);
int fl_probe(void) { return MMU_NOTIFY_EXCLUSIVE; }
C

probe MAKE_DEVICE_EXCLUSIVE <<'C'
#include <linux/module.h>
#include <linux/rmap.h>
/* 6.15 "mm/rmap: convert make_device_exclusive_range() to make_device_exclusive()" */
struct page *fl_probe(struct mm_struct *mm, void *owner);
struct page *fl_probe(struct mm_struct *mm, void *owner)
{
	struct folio *folio;

	return make_device_exclusive(mm, 0, owner, &folio);
}
C

probe MAKE_DEVICE_EXCLUSIVE_RANGE <<'C'
#include <linux/module.h>
#include <linux/rmap.h>
int fl_probe(struct mm_struct *mm, struct page **p, void *owner);
int fl_probe(struct mm_struct *mm, struct page **p, void *owner)
{
	return make_device_exclusive_range(mm, 0, PAGE_SIZE, p, owner);
}
C

probe IS_ZERO_FOLIO <<'C'
#include <linux/module.h>
#include <linux/mm.h>
bool fl_probe(struct page *p);
bool fl_probe(struct page *p) { return is_zero_folio(page_folio(p)); }
C

probe DEVICE_PRIVATE_API <<'C'
#include <linux/module.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
/*
 * The shape of device-private migration devmem.c is written for (6.1+):
 * migrate_device_range/pages/finalize() and migrate_vma.fault_page.  How a
 * device page is initialised and freed changed later (probes below).
 */
int fl_probe(unsigned long *src, struct vm_fault *vmf);
int fl_probe(unsigned long *src, struct vm_fault *vmf)
{
	struct migrate_vma args = { .fault_page = vmf->page,
				    .pgmap_owner = (void *)src,
				    .flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE };

	migrate_device_pages(src, src, 1);
	migrate_device_finalize(src, src, 1);
	return migrate_device_range(src, 0, 1) + (int)args.flags;
}
C

probe ZONE_DEVICE_PAGE_INIT <<'C'
#include <linux/module.h>
#include <linux/memremap.h>
/* 6.1: zone_device_page_init(page) */
void fl_probe(struct page *p);
void fl_probe(struct page *p) { zone_device_page_init(p); }
C

probe ZONE_DEVICE_PAGE_INIT_PGMAP <<'C'
#include <linux/module.h>
#include <linux/memremap.h>
/* 6.18+: zone_device_page_init(page, pgmap, order), for device THPs */
void fl_probe(struct page *p, struct dev_pagemap *pgmap);
void fl_probe(struct page *p, struct dev_pagemap *pgmap) { zone_device_page_init(p, pgmap, 0); }
C

probe PGMAP_PAGE_FREE <<'C'
#include <linux/module.h>
#include <linux/memremap.h>
void fl_probe_free(struct page *p);
void fl_probe_free(struct page *p) { }
const struct dev_pagemap_ops fl_probe_ops = { .page_free = fl_probe_free };
C

probe PGMAP_FOLIO_FREE <<'C'
#include <linux/module.h>
#include <linux/memremap.h>
/* 6.18+: dev_pagemap_ops.page_free(page) became folio_free(folio) */
void fl_probe_free(struct folio *f);
void fl_probe_free(struct folio *f) { }
const struct dev_pagemap_ops fl_probe_ops = { .folio_free = fl_probe_free };
C

objs=
for n in $names; do objs="$objs $n.o"; done
{
	echo 'ccflags-y := -Werror'
	echo "obj-m := $objs"
} > "$work/Kbuild"

# -k: a failing probe must not stop the others.  Output kept for diagnosis.
make -k -C "$kdir" M="$work" $objs > "$work/conftest.log" 2>&1 || true

# Symbol probes: declared in a header is not the same as exported to
# modules (is_huge_zero_page() reads huge_zero_page, which is not exported).
export_probe() {	# export_probe NAME SYMBOL
	if grep -q "^0x[0-9a-f]*	$2	" "$kdir/Module.symvers" 2>/dev/null; then
		exports="${exports:-}#define FL_HAVE_$1 1
"
	else
		exports="${exports:-}/* #undef FL_HAVE_$1 */
"
	fi
}
export_probe EXPORTED_HUGE_ZERO_PAGE huge_zero_page
export_probe EXPORTED_HUGE_ZERO_FOLIO huge_zero_folio
# rmap.h declares these whether or not CONFIG_DEVICE_PRIVATE defines them.
export_probe EXPORTED_MAKE_DEVICE_EXCLUSIVE make_device_exclusive
export_probe EXPORTED_MAKE_DEVICE_EXCLUSIVE_RANGE make_device_exclusive_range

release=$(sed -n 's/.*UTS_RELEASE "\(.*\)".*/\1/p' "$kdir/include/generated/utsrelease.h" 2>/dev/null || true)
tmp="$out.tmp"
{
	echo "/* Generated by conftest.sh for KDIR=$kdir release=${release:-unknown}; do not edit. */"
	echo '#ifndef FL_CONFTEST_H'
	echo '#define FL_CONFTEST_H'
	for n in $names; do
		if [ -s "$work/$n.o" ]; then
			echo "#define FL_HAVE_$n 1"
		else
			echo "/* #undef FL_HAVE_$n */"
		fi
	done
	printf '%s' "${exports:-}"
	echo '#endif'
} > "$tmp"
mv "$tmp" "$out"
if [ -n "${FL_CONFTEST_LOG:-}" ]; then cp "$work/conftest.log" "$FL_CONFTEST_LOG"; fi
