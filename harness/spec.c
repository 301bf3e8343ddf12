/*
 * spec.c — the requirement table and the engine's check table (spec.h).
 */
#include "spec.h"

#include <string.h>

const fs_requirement fs_requirements[REQ_COUNT] = {
    [REQ_NONE] = {"", FS_MUST},
#define FS_REQ_ROW(name, id, level) [REQ_##name] = {id, level},
    FS_REQUIREMENTS(FS_REQ_ROW)
#undef FS_REQ_ROW
};

const fs_req fs_check_req[CHK_COUNT] = {
    [CHK_PING_ECHO] = REQ_FRAMING_1,
    [CHK_FLOOD_BOUND] = REQ_BACKPRESSURE_1,
    [CHK_FLOOD_ECHOES] = REQ_BACKPRESSURE_2,
    [CHK_SHUT_QUEUED] = REQ_HALFCLOSE_5,
    [CHK_SHUT_FIN] = REQ_HALFCLOSE_1,
    [CHK_SHUT_PARTIAL] = REQ_HALFCLOSE_2,
    [CHK_TERM_PREFIX] = REQ_LIFECYCLE_2,
    [CHK_TERM_EXIT] = REQ_LIFECYCLE_2,
};

fs_req fs_req_find(const char *id, size_t len)
{
    for (int r = 1; r < REQ_COUNT; r++)
        if (strlen(fs_requirements[r].id) == len && memcmp(fs_requirements[r].id, id, len) == 0)
            return (fs_req)r;
    return REQ_NONE;
}

const char *fs_req_id(fs_req r)
{
    return r > REQ_NONE && r < REQ_COUNT ? fs_requirements[r].id : "";
}

fs_level fs_req_level(fs_req r)
{
    return r > REQ_NONE && r < REQ_COUNT ? fs_requirements[r].level : FS_MUST;
}

const char *fs_level_name(fs_level level)
{
    return level == FS_SHOULD ? "SHOULD" : "MUST";
}
