/*
 * svmm_host_config.h - the host port's configuration (SVMM_PORT_CONFIG, see
 * include/svmm/port.h): the host supplies its own lock type, as a kernel would.
 *
 * The lock records which thread holds it, so that every host test catches a lock the
 * core takes twice or releases without holding it (port_host.c panics), the kind of
 * check a kernel's own spinlock makes.
 */
#ifndef SVMM_HOST_CONFIG_H
#define SVMM_HOST_CONFIG_H

#include <stdint.h>

struct hostsim_lock {
	uint32_t word;      /* 0 free, 1 held */
	uint32_t holder;    /* token of the holding thread, 0 when free */
};

#define SVMM_PORT_LOCK_TYPE struct hostsim_lock
#define SVMM_PORT_LOCK_INIT { 0, 0 }

#endif /* SVMM_HOST_CONFIG_H */
