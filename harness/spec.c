/*
 * spec.c — the requirement ids of docs/spec.md with their levels, so that a case's level (and a
 * failing case's verdict: fail or warn) follows from the requirements it names. docs/spec.md
 * owns the wording; pytest/test_20_catalogue.py checks that this table matches it.
 */
#include <string.h>

#include "fs.h"

const fs_requirement fs_requirements[] = {
    {"FRAMING-1", FS_MUST},        {"FRAMING-2", FS_MUST},        {"FRAMING-3", FS_MUST},
    {"FRAMING-4", FS_MUST},        {"SEGMENTATION-1", FS_MUST},   {"SEGMENTATION-2", FS_MUST},
    {"SEGMENTATION-3", FS_MUST},   {"SEGMENTATION-4", FS_MUST},   {"SEGMENTATION-5", FS_MUST},
    {"LIMITS-1", FS_MUST},         {"LIMITS-2", FS_MUST},         {"LIMITS-3", FS_MUST},
    {"LIMITS-4", FS_SHOULD},       {"LIMITS-5", FS_MUST},         {"LIMITS-6", FS_MUST},
    {"LIMITS-7", FS_MUST},         {"HALFCLOSE-1", FS_MUST},
    {"HALFCLOSE-2", FS_MUST},      {"HALFCLOSE-3", FS_MUST},      {"HALFCLOSE-4", FS_SHOULD},
    {"HALFCLOSE-5", FS_MUST},      {"RESET-1", FS_MUST},          {"RESET-2", FS_MUST},
    {"RESET-3", FS_MUST},          {"RESET-4", FS_MUST},          {"RESET-5", FS_MUST},
    {"IDLE-1", FS_MUST},           {"IDLE-2", FS_MUST},           {"IDLE-3", FS_MUST},
    {"BACKPRESSURE-1", FS_MUST},   {"BACKPRESSURE-2", FS_MUST},   {"BACKPRESSURE-3", FS_MUST},
    {"BACKPRESSURE-4", FS_SHOULD}, {"CONCURRENCY-1", FS_MUST},    {"CONCURRENCY-2", FS_MUST},
    {"CONCURRENCY-3", FS_MUST},    {"LATENCY-1", FS_MUST},        {"LATENCY-2", FS_MUST},
    {"RESOURCES-1", FS_MUST},      {"RESOURCES-2", FS_MUST},      {"RESOURCES-3", FS_SHOULD},
    {"LIFECYCLE-1", FS_MUST},      {"LIFECYCLE-2", FS_SHOULD},    {"DEADPEER-1", FS_MUST},
    {"DEADPEER-2", FS_MUST},       {"DEADPEER-3", FS_SHOULD},     {"DEADPEER-4", FS_MUST},
    {"DEADPEER-5", FS_MUST},
};

const size_t fs_nrequirements = sizeof fs_requirements / sizeof fs_requirements[0];

int fs_requirement_level(const char *id, size_t len)
{
    for (size_t i = 0; i < fs_nrequirements; i++)
        if (strlen(fs_requirements[i].id) == len && memcmp(fs_requirements[i].id, id, len) == 0)
            return (int)fs_requirements[i].level;
    return -1;
}

fs_level fs_case_level(const fs_case *c)
{
    const char *p = c->requirements;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (fs_requirement_level(p, l) != FS_SHOULD)
            return FS_MUST; /* MUST, or an unknown id (the catalogue test rejects those) */
        p += l + (comma ? 1 : 0);
    }
    return FS_SHOULD;
}

const char *fs_level_name(fs_level level)
{
    return level == FS_SHOULD ? "SHOULD" : "MUST";
}
