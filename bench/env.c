// SPDX-License-Identifier: GPL-2.0
/*
 * Environment capture.  Everything that can change a result and differ
 * between two runs belongs here, so that the report can show what differs
 * before it shows any number.
 */
#include <cpuid.h>
#include <stdbool.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <daxctl/libdaxctl.h>
#include <hwloc.h>
#include <ndctl/libndctl.h>
#include <numa.h>
#include <zlib.h>

#include "env.h"
#include "driver.h"
#include "sysfs.h"

/* Kernel options that decide which paths exist or how they behave. */
static const char *const relevant_config[] = {
	"CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS",
	"CONFIG_TRANSPARENT_HUGEPAGE_MADVISE", "CONFIG_HUGETLBFS", "CONFIG_HUGETLB_PAGE",
	"CONFIG_MMU_NOTIFIER", "CONFIG_HMM_MIRROR", "CONFIG_ZONE_DEVICE",
	"CONFIG_DEVICE_PRIVATE", "CONFIG_DEVICE_MIGRATION", "CONFIG_MIGRATION",
	"CONFIG_NUMA", "CONFIG_NUMA_EMU", "CONFIG_FS_DAX", "CONFIG_FS_DAX_PMD",
	"CONFIG_DEV_DAX", "CONFIG_DEV_DAX_PMEM", "CONFIG_X86_PMEM_LEGACY",
	"CONFIG_BLK_DEV_PMEM", "CONFIG_NVDIMM_PFN", "CONFIG_NVDIMM_DAX",
	"CONFIG_TEST_HMM", "CONFIG_GUP_TEST", "CONFIG_IO_URING", "CONFIG_USERFAULTFD",
	"CONFIG_MEMCG", "CONFIG_COMPACTION", "CONFIG_KSM", "CONFIG_LRU_GEN",
	"CONFIG_PREEMPT", "CONFIG_PREEMPT_VOLUNTARY", "CONFIG_PREEMPT_NONE",
	"CONFIG_PREEMPT_DYNAMIC", "CONFIG_KASAN", "CONFIG_DEBUG_VM",
	"CONFIG_PROVE_LOCKING", "CONFIG_PAGE_TABLE_CHECK", "CONFIG_INIT_ON_ALLOC_DEFAULT_ON",
	"CONFIG_PER_VMA_LOCK", "CONFIG_MODULE_SIG_FORCE", "CONFIG_MODULES", NULL
};

static json_t *kernel_config(const char **source)
{
	struct utsname u;
	char path[256], line[512];
	json_t *cfg = json_object();
	gzFile gz = NULL;

	uname(&u);
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	if (!access(path, R_OK))
		gz = gzopen(path, "r");
	if (!gz && !access("/proc/config.gz", R_OK)) {
		gz = gzopen("/proc/config.gz", "r");
		snprintf(path, sizeof(path), "/proc/config.gz");
	}
	if (!gz) {
		*source = NULL;
		json_decref(cfg);
		return json_null();
	}
	*source = strdup(path);
	for (int i = 0; relevant_config[i]; i++)
		json_object_set_new(cfg, relevant_config[i], json_null());
	while (gzgets(gz, line, sizeof(line))) {
		char *eq = strchr(line, '=');

		if (line[0] != 'C' || !eq)
			continue;
		*eq = '\0';
		line[strcspn(line, "\0")] = '\0';
		eq[1 + strcspn(eq + 1, "\n")] = '\0';
		if (json_object_get(cfg, line))
			json_object_set_new(cfg, line, json_string(eq + 1));
	}
	gzclose(gz);
	return cfg;
}

const char *fl_hypervisor(void)
{
	unsigned a, b, c, d;
	char vendor[13];

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 31)))
		return "none";
	__cpuid(0x40000000, a, b, c, d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &c, 4);
	memcpy(vendor + 8, &d, 4);
	vendor[12] = '\0';
	if (!strncmp(vendor, "KVMKVMKVM", 9))
		return "kvm";
	if (!strcmp(vendor, "TCGTCGTCGTCG"))
		return "tcg";
	if (!strcmp(vendor, "Microsoft Hv"))
		return "hyperv";
	if (!strcmp(vendor, "VMwareVMware"))
		return "vmware";
	if (!strncmp(vendor, "XenVMMXenVMM", 12))
		return "xen";
	return "unknown";
}

static json_t *virt_json(void)
{
	char product[128] = "";
	const char *hv = fl_hypervisor();

	fl_sysfs_read("/sys/class/dmi/id/product_name", product, sizeof(product));
	return json_pack("{s:s, s:s, s:s}", "hypervisor", hv,
			 "accel", !strcmp(hv, "tcg") ? "tcg" : !strcmp(hv, "none") ? "none" :
				  !strcmp(hv, "kvm") ? "kvm" : "unknown",
			 "product", product);
}

static json_t *cpu_json(void)
{
	char line[512], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	hwloc_topology_t t;
	json_t *o;
	hwloc_obj_t l3;
	long long l3size = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10)) {
			char *v = strchr(line, ':');

			snprintf(model, sizeof(model), "%.200s", v ? v + 2 : line);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	o = json_pack("{s:s, s:i}", "model", model, "logical", (int)sysconf(_SC_NPROCESSORS_ONLN));
	if (!hwloc_topology_init(&t) && !hwloc_topology_load(t)) {
		json_object_set_new(o, "packages", json_integer(hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE)));
		json_object_set_new(o, "cores", json_integer(hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE)));
		json_object_set_new(o, "pus", json_integer(hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU)));
		json_object_set_new(o, "numa_nodes", json_integer(hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE)));
		l3 = hwloc_get_obj_by_type(t, HWLOC_OBJ_L3CACHE, 0);
		if (l3 && l3->attr)
			l3size = (long long)l3->attr->cache.size;
		json_object_set_new(o, "l3_bytes", json_integer(l3size));
		json_object_set_new(o, "topology_source", json_string("hwloc"));
		hwloc_topology_destroy(t);
	}
	return o;
}

static json_t *hugetlb_json(void)
{
	json_t *o = json_object();
	DIR *d = opendir("/sys/kernel/mm/hugepages");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[512];
		long long nr = -1, fr = -1, resv = -1;

		if (strncmp(e->d_name, "hugepages-", 10))
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/nr_hugepages", e->d_name);
		fl_sysfs_read_ll(path, &nr);
		snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/free_hugepages", e->d_name);
		fl_sysfs_read_ll(path, &fr);
		snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/resv_hugepages", e->d_name);
		fl_sysfs_read_ll(path, &resv);
		json_object_set_new(o, e->d_name + 10, json_pack("{s:I, s:I, s:I}", "nr", (json_int_t)nr,
								  "free", (json_int_t)fr, "resv", (json_int_t)resv));
	}
	if (d)
		closedir(d);
	return o;
}

static json_t *thp_json(void)
{
	static const char *const files[] = { "enabled", "defrag", "shmem_enabled", NULL };
	json_t *o = json_object();

	for (int i = 0; files[i]; i++) {
		char path[128], v[64];

		snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/%s", files[i]);
		if (!fl_sysfs_bracketed(path, v, sizeof(v)))
			json_object_set_new(o, files[i], json_string(v));
		else
			json_object_set_new(o, files[i], json_null());
	}
	return o;
}

static json_t *numa_json(void)
{
	json_t *mem = json_array();
	int n;

	if (numa_available() < 0)
		return json_pack("{s:b, s:i}", "available", 0, "nodes", 1);
	n = numa_num_configured_nodes();
	for (int i = 0; i <= numa_max_node(); i++) {
		long long sz = numa_node_size64(i, NULL);

		if (sz > 0)
			json_array_append_new(mem, json_integer(sz >> 10));
	}
	return json_pack("{s:b, s:i, s:o}", "available", 1, "nodes", n, "node_mem_kb", mem);
}

static const char *ns_mode(enum ndctl_namespace_mode m)
{
	switch (m) {
	case NDCTL_NS_MODE_MEMORY:	return "fsdax";
	case NDCTL_NS_MODE_SECTOR:	return "sector";
	case NDCTL_NS_MODE_RAW:		return "raw";
	case NDCTL_NS_MODE_DAX:		return "devdax";
	default:			return "unknown";
	}
}

static json_t *pmem_json(void)
{
	json_t *nss = json_array(), *daxs = json_array(), *mounts = json_array();
	struct ndctl_ctx *ctx;
	struct daxctl_ctx *dctx;
	FILE *f;
	char src[256], mnt[256], type[64], opts[256];

	if (!ndctl_new(&ctx)) {
		struct ndctl_bus *bus;
		struct ndctl_region *region;
		struct ndctl_namespace *ns;

		ndctl_bus_foreach(ctx, bus) {
			ndctl_region_foreach(bus, region) {
				ndctl_namespace_foreach(region, ns) {
					struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ns);
					struct ndctl_dax *dax = ndctl_namespace_get_dax(ns);
					const char *blk = ndctl_namespace_get_block_device(ns);
					unsigned long align = pfn ? ndctl_pfn_get_align(pfn) :
							      dax ? ndctl_dax_get_align(dax) : 0;

					if (!ndctl_namespace_is_active(ns))
						continue;
					json_array_append_new(nss, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
						"dev", ndctl_namespace_get_devname(ns),
						"region", ndctl_region_get_devname(region),
						"provider", ndctl_bus_get_provider(bus),
						"mode", ns_mode(ndctl_namespace_get_mode(ns)),
						"size", (json_int_t)ndctl_namespace_get_size(ns),
						"align", (json_int_t)align,
						"blockdev", blk ? blk : ""));
				}
			}
		}
		ndctl_unref(ctx);
	}
	if (!daxctl_new(&dctx)) {
		struct daxctl_region *region;
		struct daxctl_dev *dev;

		daxctl_region_foreach(dctx, region) {
			daxctl_dev_foreach(region, dev) {
				json_array_append_new(daxs, json_pack("{s:s, s:I, s:I}",
					"dev", daxctl_dev_get_devname(dev),
					"size", (json_int_t)daxctl_dev_get_size(dev),
					"align", (json_int_t)daxctl_dev_get_align(dev)));
			}
		}
		daxctl_unref(dctx);
	}
	f = fopen("/proc/mounts", "r");
	while (f && fscanf(f, "%255s %255s %63s %255s %*d %*d", src, mnt, type, opts) == 4) {
		if (strstr(opts, "dax"))
			json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:s}", "dir", mnt,
							       "fstype", type, "source", src,
							       "options", opts));
	}
	if (f)
		fclose(f);
	return json_pack("{s:o, s:o, s:o}", "namespaces", nss, "dax_devices", daxs,
			 "dax_mounts", mounts);
}

/* The companion driver: ABI, build, and each feature with why not. */
static json_t *driver_json(void)
{
	struct fl_driver d;
	char why[256];
	json_t *caps;

	if (fl_driver_open(&d, why, sizeof(why)))
		return json_pack("{s:b, s:n, s:n, s:s}", "present", 0, "abi", "capabilities",
				 "reason", why);
	caps = json_object();
	for (int f = 0; f < FL_FEAT_COUNT; f++) {
		const char *no = fl_driver_why(&d, (enum fl_feature)f);

		json_object_set_new(caps, fl_driver_feature_name((enum fl_feature)f),
				    json_string(no ? no : "yes"));
	}
	json_t *o = json_pack("{s:b, s:i, s:s, s:o, s:s}", "present", 1, "abi", (int)d.version.abi,
			      "built_for", d.version.release, "capabilities", caps, "reason", "");
	fl_driver_close(&d);
	return o;
}

json_t *fl_env_json(void)
{
	struct utsname u;
	char cmdline[4096] = "", host[256] = "";
	const char *cfgsrc = NULL;
	json_t *cfg, *kernel;
	long long memkb = 0;
	char line[256];
	FILE *f;

	uname(&u);
	gethostname(host, sizeof(host) - 1);
	fl_sysfs_read("/proc/cmdline", cmdline, sizeof(cmdline));
	cfg = kernel_config(&cfgsrc);
	kernel = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "release", u.release,
			   "version", u.version, "machine", u.machine, "cmdline", cmdline,
			   "config_source", cfgsrc ? json_string(cfgsrc) : json_null(), "config", cfg);
	free((char *)cfgsrc);	/* kernel_config() strdup()s it */
	f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lld kB", &memkb) == 1)
			break;
	if (f)
		fclose(f);
	return json_pack("{s:s, s:o, s:o, s:o, s:{s:I}, s:o, s:o, s:o, s:o, s:o, s:s}",
			 "hostname", host, "kernel", kernel, "virt", virt_json(), "cpu", cpu_json(),
			 "memory", "total_kb", (json_int_t)memkb,
			 "thp", thp_json(), "hugetlb", hugetlb_json(), "numa", numa_json(),
			 "pmem", pmem_json(), "driver", driver_json(),
			 "faultline_version", FL_VERSION);
}
