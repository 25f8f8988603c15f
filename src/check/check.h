/* check.h -- deep validators that each module provides for its file kinds.
**
** Each receives a container whose header, table and checksums are already
** verified, and must decode every section and bounds-check every field
** (counts against sizes, ids against ranges, links against node counts),
** returning DS_ERR_CORRUPT with a message naming the first problem.
*/
#ifndef DS_CHECK_H
#define DS_CHECK_H

#include "core/container.h"

/* Name of the lexical index file inside an index directory. */
#define DS_LEXICAL_FILE_NAME "lexical.dsx"

ds_status ds__lexical_check(ds_env *env, const ds__creader *r);  /* src/lexical/ */
ds_status ds__vector_check(ds_env *env, const ds__creader *r);   /* src/vector/  */

#endif /* DS_CHECK_H */
