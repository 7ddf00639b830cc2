/*
 * ptpolicy — which opens go passthrough (see ptpolicy.h).
 */
#include <fcntl.h>

#include "daemon/ptpolicy.h"

enum pt_class ptpolicy_class(int flags, const struct stat *st, bool live)
{
	if (!live || !S_ISREG(st->st_mode) || (st->st_mode & (S_ISUID | S_ISGID)))
		return PT_NEVER;
	if ((flags & O_ACCMODE) == O_RDONLY)
		return PT_READ;   /* an O_TRUNC already happened, on the daemon path */
	return st->st_size == 0 ? PT_FRESH : PT_CONTENT;
}

enum pt_decision ptpolicy_decide(enum pt_class c, const struct pt_inode *s, bool on)
{
	if (s->passthru > 0)   /* the kernel takes nothing else now */
		return c == PT_READ || c == PT_FRESH || c == PT_PRESERVED ? PTD_JOIN
									   : PTD_PRESERVE;
	if (!on || s->daemon > 0 || (c != PT_READ && c != PT_FRESH))
		return PTD_DAEMON;
	return PTD_REGISTER;
}
