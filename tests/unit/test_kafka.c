/*
 * test_kafka.c -- kafka.c's helpers that need no broker: reading a consumer
 * group member's assignment (the ledger query's 404 names the owner).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "asw/kafka.h"

/* ConsumerProtocol Assignment v1: topics "in" [0, 3] and "other" [1], no
 * user data. */
static const unsigned char assignment[] = {
    0,    1,                                 /* version */
    0,    0,    0,    2,                     /* topics */
    0,    2,    'i',  'n', 0,   0,   0,   2, /* "in", 2 partitions */
    0,    0,    0,    0,   0,   0,   0,   3, /* 0, 3 */
    0,    5,    'o',  't', 'h', 'e', 'r',    /* "other" */
    0,    0,    0,    1,   0,   0,   0,   1, /* 1 partition: 1 */
    0xff, 0xff, 0xff, 0xff};                 /* user data: null */

Test(kafka, an_assignment_tells_which_partitions_a_member_holds) {
    size_t n = sizeof assignment;
    cr_assert_eq(asw_kafka_assignment_has(assignment, n, "in", 0), 1);
    cr_assert_eq(asw_kafka_assignment_has(assignment, n, "in", 3), 1);
    cr_assert_eq(asw_kafka_assignment_has(assignment, n, "in", 1), 0, "1 is other's");
    cr_assert_eq(asw_kafka_assignment_has(assignment, n, "other", 1), 1);
    cr_assert_eq(asw_kafka_assignment_has(assignment, n, "i", 0), 0, "a prefix is not the topic");
    cr_assert_eq(asw_kafka_assignment_has(assignment, n, "none", 0), 0);
}

Test(kafka, truncated_or_absent_assignments_are_not_read_past_their_end) {
    for (size_t n = 0; n < 30; n++)
        cr_assert_eq(asw_kafka_assignment_has(assignment, n, "other", 1), -1, "%zu bytes", n);
    cr_assert_eq(asw_kafka_assignment_has(NULL, 0, "in", 0), -1);
    /* Enough to find "in" 0 before the cut is still an answer. */
    cr_assert_eq(asw_kafka_assignment_has(assignment, 18, "in", 0), 1);
}
