/*
 * wberr — see wberr.h.  A short list: entries live from a failed WRITE to
 * the next write(2) of the same inode, and a full disk is rare.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "daemon/wberr.h"

#define WBERR_MAX 1024   /* inodes noted at once; more: the oldest is dropped */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t nodeid;
	int err;
} noted[WBERR_MAX];
static atomic_size_t count;

void wberr_note(uint64_t nodeid, int err)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = atomic_load(&count);
	for (size_t i = 0; i < n; i++) {
		if (noted[i].nodeid == nodeid) {
			noted[i].err = err;
			pthread_mutex_unlock(&lock);
			return;
		}
	}
	if (n == WBERR_MAX) {   /* drop the oldest */
		memmove(&noted[0], &noted[1], (n - 1) * sizeof(noted[0]));
		n--;
	}
	noted[n].nodeid = nodeid;
	noted[n].err = err;
	atomic_store(&count, n + 1);
	pthread_mutex_unlock(&lock);
}

int wberr_take(uint64_t nodeid)
{
	int err = 0;
	size_t n;

	if (!atomic_load_explicit(&count, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&lock);
	n = atomic_load(&count);
	for (size_t i = 0; i < n; i++) {
		if (noted[i].nodeid != nodeid)
			continue;
		err = noted[i].err;
		memmove(&noted[i], &noted[i + 1], (n - i - 1) * sizeof(noted[0]));   /* oldest first */
		atomic_store(&count, n - 1);
		break;
	}
	pthread_mutex_unlock(&lock);
	return err;
}
