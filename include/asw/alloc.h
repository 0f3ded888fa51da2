/*
 * alloc.h -- the project's out-of-memory policy.
 *
 * Like Redis's zmalloc, allocation failure is not an error the callers
 * handle: the helpers below print one line to stderr and abort(). A worker
 * that cannot allocate cannot make progress, and aborting before the Kafka
 * transaction commits loses nothing: the restart resumes from the last
 * committed offsets.
 */
#ifndef ASW_ALLOC_H
#define ASW_ALLOC_H

#include <stddef.h>

void *asw_malloc(size_t n);
void *asw_calloc(size_t n, size_t size);
void *asw_realloc(void *p, size_t n);
/* strdup that aborts on OOM; asw_strdup(NULL) returns NULL. */
char *asw_strdup(const char *s);
char *asw_strndup(const char *s, size_t n);

#endif /* ASW_ALLOC_H */
