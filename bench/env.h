/* SPDX-License-Identifier: GPL-2.0 */
/* The environment record of run.json and `faultline env`. */
#ifndef FL_ENV_H
#define FL_ENV_H

#include <jansson.h>

json_t *fl_env_json(void);
/* "kvm", "tcg", "hyperv", "vmware", "none", ... from CPUID leaf 0x40000000. */
const char *fl_hypervisor(void);

#endif
