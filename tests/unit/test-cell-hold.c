/* agent_cell_hold_error, agent_cell_error_transient and
 * agent_cell_stat_state (agent/cell-decide.h): every combination of the
 * hold's inputs against the rule written out again, and /proc stat lines. */
#include <string.h>

#include "agent/cell-decide.h"
#include "tests/lib/kktest.h"

KT_CASE(transient_codes)
{
    for (int code = 0; code <= KK_E_UNAUTHENTICATED; code++) {
        bool want = code == KK_E_UNAVAILABLE || code == KK_E_DEADLINE || code == KK_E_ABORTED;
        KT_ASSERT_EQ(agent_cell_error_transient(code), want);
    }
}

KT_CASE(hold_table)
{
    static const int64_t ages[] = {
            0, 1, AGENT_CELL_HOLD_MS - 1, AGENT_CELL_HOLD_MS, AGENT_CELL_HOLD_MS + 1, 60000};
    unsigned held = 0;
    for (int ready = 0; ready <= 1; ready++)
        for (int code = 0; code <= KK_E_UNAUTHENTICATED; code++)
            for (unsigned tries = 1; tries <= AGENT_CELL_HOLD_TRIES + 2; tries++)
                for (size_t i = 0; i < KK_ARRAY_SIZE(ages); i++) {
                    int64_t now = 1000000, since = now - ages[i];
                    bool transient = code == KK_E_UNAVAILABLE || code == KK_E_DEADLINE ||
                                     code == KK_E_ABORTED;
                    bool want = ready && transient && tries < AGENT_CELL_HOLD_TRIES &&
                                ages[i] < AGENT_CELL_HOLD_MS;
                    bool got = agent_cell_hold_error(ready, code, tries, since, now);
                    KT_ASSERT_EQ(got, want);
                    held += got;
                }
    /* 3 codes x 2 tries (1, 2) x 3 ages (0, 1, 4999). */
    KT_ASSERT_EQ(held, 18u);
}

/* The case: a Ready cell, containerd unavailable: held at the
 * first and second try, reported at the third; reported after 5 s even at
 * the second; a Pending cell's failure reported at once. */
KT_CASE(hold_sequence)
{
    KT_ASSERT(agent_cell_hold_error(true, KK_E_UNAVAILABLE, 1, 0, 0));
    KT_ASSERT(agent_cell_hold_error(true, KK_E_UNAVAILABLE, 2, 0, 200));
    KT_ASSERT(!agent_cell_hold_error(true, KK_E_UNAVAILABLE, 3, 0, 400));
    KT_ASSERT(!agent_cell_hold_error(true, KK_E_UNAVAILABLE, 2, 0, 5000));
    KT_ASSERT(!agent_cell_hold_error(false, KK_E_UNAVAILABLE, 1, 0, 0));
    KT_ASSERT(!agent_cell_hold_error(true, KK_E_INTERNAL, 1, 0, 0));
}

static char state_of(const char *line)
{
    return agent_cell_stat_state(line, strlen(line));
}

KT_CASE(stat_state_letter)
{
    KT_ASSERT_EQ(state_of("1234 (sleep) T 1 1234 1234 0 -1 4194560 98 0 0 0"), 'T');
    KT_ASSERT_EQ(state_of("1234 (sleep) S 1 1234 1234 0 -1"), 'S');
    KT_ASSERT_EQ(state_of("7 (a) b) T) R 1 2 3"), 'R'); /* the last ')' */
    KT_ASSERT_EQ(state_of("7 (we ird) t 1"), 't');
    KT_ASSERT_EQ(state_of("7 (x)"), 0);
    KT_ASSERT_EQ(state_of("7 (x) "), 0);
    KT_ASSERT_EQ(state_of("7 (x)T 1"), 0);
    KT_ASSERT_EQ(state_of("7 (x) 5 1"), 0);
    KT_ASSERT_EQ(state_of("7 (x) ~ 1"), 0); /* past 'z' */
    KT_ASSERT_EQ(state_of("no parenthesis T"), 0);
    KT_ASSERT_EQ(state_of(""), 0);
    /* Not NUL-terminated: only len bytes are read. */
    KT_ASSERT_EQ(agent_cell_stat_state("1 (x) TZZZ", 6), 0);
    KT_ASSERT_EQ(agent_cell_stat_state("1 (x) TZZZ", 7), 'T');
}
