/*
 * control_int — the control object's state, shared by control.c and
 * control_metrics.c (private to them; control.h is the contract).
 * Threading: as control.c says: prot_lock guards the protected list,
 * roots_lock the root ops' sites; the rest is set before the socket
 * starts and read-only after.
 */
#ifndef GRACEFS_CONTROL_INT_H
#define GRACEFS_CONTROL_INT_H

#include <limits.h>
#include <pthread.h>
#include "ctl/verbs.h"
#include "daemon/control.h"

/* The deleted sites of each root op, remembered while its directory
 * exists (control.c, root_sites). */
#define ROOT_SITES_MAX 1024
struct root_sites {
	char op[NAME_MAX + 1];
	char sites[ROOT_SITES_MAX];
};

struct control {
	struct control_conf conf;
	struct catalog *cat;
	struct audit *audit;
	struct ctl_server *srv;
	struct sweep *sweep;
	struct space *space;
	struct exclusions *excl;
	struct sitedel *sitedel;
	struct brake *brake;
	pthread_rwlock_t prot_lock;
	struct catalog_protected *prot;
	struct ctlcmd_ctx ctx;
	pthread_mutex_t roots_lock;
	struct root_sites *roots;   /* under roots_lock */
	size_t nroots;
};

#endif
