/*
 * minikern/svmm_config.h - svmm's port configuration (SVMM_PORT_CONFIG, set for every
 * file this kernel compiles, svmm's core included): svmm's locks are this kernel's own
 * struct spinlock, with its holder check. A zeroed spinlock is an unlocked one, as
 * svmm requires.
 */
#ifndef MINIKERN_SVMM_CONFIG_H
#define MINIKERN_SVMM_CONFIG_H

/*
 * WORKAROUND (svmm defect): this header is included by svmm's core files too, and
 * core/vmem.c has a static function named release(), the name of this kernel's (and
 * xv6's) spinlock release. Including spinlock.h here would make vmem.c fail to build
 * ("conflicting types for 'release'"), so only the type's header is included.
 */
#include "spinlock_types.h"

#define SVMM_PORT_LOCK_TYPE struct spinlock
#define SVMM_PORT_LOCK_INIT SPINLOCK_INIT("svmm")

#endif /* MINIKERN_SVMM_CONFIG_H */
