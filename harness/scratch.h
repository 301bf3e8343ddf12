/*
 * scratch.h — the one private directory a framespec command keeps its temporary files in
 * (server logs): mkdtemp("$TMPDIR/framespec-XXXXXX"), TMPDIR defaulting to
 * /tmp, mode 0700. Files are created in it with O_CREAT|O_EXCL|O_NOFOLLOW, so a name planted
 * in advance or a symlink is refused rather than followed. The directory and everything
 * framespec made in it are removed at exit, and on SIGINT/SIGTERM/SIGHUP, unless --keep-logs
 * asked to keep them (scratch_keep()).
 */
#ifndef FRAMESPEC_SCRATCH_H
#define FRAMESPEC_SCRATCH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The directory, created on first use (and the cleanup registered with atexit and for
 * SIGINT/SIGTERM/SIGHUP in this process only, not in forked children). Returns its path (static
 * storage), or NULL with errno set and a message on stderr naming $TMPDIR.
 */
const char *scratch_dir(void);

/*
 * Create the file NAME (no slash) in the directory: O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|
 * O_CLOEXEC, mode 0600. path[0..n) gets its full path. Returns the descriptor, or -1 with errno
 * (EEXIST when the name is taken). At most 32 files per process are tracked for removal.
 */
int scratch_create(const char *name, char *path, size_t n);

/* Rename FROM to TO inside the directory (both names, no slash), replacing TO. Returns 0 or -1. */
int scratch_rename(const char *from, const char *to);

/* Keep everything at exit (--keep-logs); the directory is named on stderr then. */
void scratch_keep(bool keep);

/* True when scratch_keep(true) was called. */
bool scratch_kept(void);

/* Remove the tracked files and the directory now, unless kept (idempotent; does nothing in a
 * forked child). Called at exit. */
void scratch_cleanup(void);

/*
 * --timeout SECONDS for a whole command (replay, bench): when it expires (ITIMER_REAL, SIGALRM),
 * the handler prints "framespec CMD: the --timeout of S s was reached" on stderr, removes the
 * private directory (unless kept) and _exit(exit_code)s. Keepers of --exec servers see their
 * parent die (PR_SET_PDEATHSIG) and stop everything below them. seconds <= 0 does nothing.
 */
void scratch_deadline(const char *cmd, double seconds, int exit_code);

#endif
