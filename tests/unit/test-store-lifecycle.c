/* The task state machine against the table in docs/lifecycle.md: every
 * (state, event) pair, the phase rules, the edit windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/store.h"

/* docs/lifecycle.md, "Transitions": the next state for each event, with
 * continuous sync on, phase "running" for paused/failed, phase
 * "awaiting_sync" for testing. "-" = refused; "X" = deleted. Columns:
 * start pause resume sync cutover test delete clear | migrated synced
 * cutover_done tested failed */
static const char *const expected[RH_TASK_STATE_COUNT][RH_EV_COUNT] = {
	[RH_TASK_CONFIGURED] = { "running", "-", "-", "-", "-", "-", "X", "-",
				 "-", "-", "-", "-", "-" },
	[RH_TASK_RUNNING] = { "-", "paused", "-", "-", "-", "-", "-", "-",
			      "continuous_sync", "-", "-", "-", "failed" },
	[RH_TASK_PAUSED] = { "running", "-", "running", "-", "-", "-", "X", "configured",
			     "-", "-", "-", "-", "-" },
	[RH_TASK_FAILED] = { "running", "-", "running", "-", "-", "-", "X", "configured",
			     "-", "-", "-", "-", "-" },
	[RH_TASK_AWAITING_SYNC] = { "-", "-", "-", "syncing", "cutting_over", "testing", "X",
				    "configured", "-", "awaiting_sync", "-", "-", "-" },
	[RH_TASK_SYNCING] = { "-", "paused", "-", "-", "-", "-", "-", "-",
			      "-", "awaiting_sync", "-", "-", "failed" },
	[RH_TASK_CONTINUOUS_SYNC] = { "-", "paused", "-", "continuous_sync", "cutting_over",
				      "testing", "-", "-", "-", "continuous_sync", "-", "-", "failed" },
	[RH_TASK_CUTTING_OVER] = { "-", "paused", "-", "-", "-", "-", "-", "-",
				   "-", "-", "completed", "-", "failed" },
	[RH_TASK_TESTING] = { "-", "-", "-", "-", "-", "-", "-", "-",
			      "-", "-", "-", "awaiting_sync", "awaiting_sync" },
	[RH_TASK_COMPLETED] = { "-", "-", "-", "continuous_sync", "-", "-", "X", "configured",
				"-", "-", "-", "-", "-" },
};

static void test_every_pair(void **state)
{
	for (unsigned s = 0; s < RH_TASK_STATE_COUNT; s++) {
		for (unsigned e = 0; e < RH_EV_COUNT; e++) {
			enum rh_task_state phase = s == RH_TASK_TESTING ? RH_TASK_AWAITING_SYNC
						   : RH_TASK_RUNNING;
			struct rh_task_step st;
			const char *want = expected[s][e];
			int rc = rh_task_transition(s, phase, e, true, false, &st);

			if (strcmp(want, "-") == 0) {
				if (rc != RH_ERR_STATE)
					fail_msg("%s + %s: expected refusal, got %d", rh_task_state_name(s),
						 rh_task_event_name(e), rc);
				/* The refusal says what is allowed. */
				assert_non_null(strstr(rh_lasterr(), rh_task_state_name(s)));
				assert_non_null(strstr(rh_lasterr(), "allowed") ? "" : strstr(rh_lasterr(), "expected"));
			} else if (strcmp(want, "X") == 0) {
				assert_int_equal(rc, 0);
				assert_true(st.deleted);
			} else {
				if (rc != 0)
					fail_msg("%s + %s: refused: %s", rh_task_state_name(s),
						 rh_task_event_name(e), rh_lasterr());
				assert_false(st.deleted);
				if (strcmp(rh_task_state_name(st.next), want) != 0)
					fail_msg("%s + %s -> %s, expected %s", rh_task_state_name(s),
						 rh_task_event_name(e), rh_task_state_name(st.next), want);
			}
		}
	}
}

static void test_messages_and_commands(void **state)
{
	struct rh_task_step st;

	assert_int_equal(rh_task_transition(RH_TASK_CONFIGURED, RH_TASK_CONFIGURED, RH_EV_PAUSE,
					    true, false, &st), RH_ERR_STATE);
	assert_string_equal(rh_lasterr(), "cannot pause a task that is configured (pause is allowed "
			    "when the task is running, syncing, continuous_sync or cutting_over)");
	assert_int_equal(rh_task_transition(RH_TASK_PAUSED, RH_TASK_RUNNING, RH_EV_TESTED, true,
					    false, &st), RH_ERR_STATE);
	assert_non_null(strstr(rh_lasterr(), "agent report 'tested' does not apply"));

	/* Commands for the agent. */
	assert_int_equal(rh_task_transition(RH_TASK_CONFIGURED, 0, RH_EV_START, true, false, &st), 0);
	assert_string_equal(st.command, "start");
	assert_true(st.reset);
	assert_int_equal(rh_task_transition(RH_TASK_RUNNING, 0, RH_EV_PAUSE, true, false, &st), 0);
	assert_string_equal(st.command, "pause");
	assert_int_equal(st.phase, RH_TASK_RUNNING);
	assert_int_equal(rh_task_transition(RH_TASK_PAUSED, RH_TASK_SYNCING, RH_EV_RESUME, true,
					    false, &st), 0);
	assert_int_equal(st.next, RH_TASK_SYNCING);
	assert_string_equal(st.command, "resume");
	assert_int_equal(rh_task_transition(RH_TASK_FAILED, RH_TASK_CUTTING_OVER, RH_EV_START, true,
					    false, &st), 0);
	assert_int_equal(st.next, RH_TASK_CUTTING_OVER);
	/* A phase that is not a working state restarts the full copy. */
	assert_int_equal(rh_task_transition(RH_TASK_PAUSED, RH_TASK_CONFIGURED, RH_EV_RESUME, true,
					    false, &st), 0);
	assert_int_equal(st.next, RH_TASK_RUNNING);
	assert_int_equal(rh_task_transition(RH_TASK_RUNNING, 0, RH_EV_FAILED, true, false, &st), 0);
	assert_null(st.command);
	assert_int_equal(st.phase, RH_TASK_RUNNING);
	assert_int_equal(rh_task_transition(RH_TASK_CONTINUOUS_SYNC, 0, RH_EV_SYNC, true, false, &st), 0);
	assert_string_equal(st.command, "sync");
	assert_int_equal(st.next, RH_TASK_CONTINUOUS_SYNC);
	assert_int_equal(rh_task_transition(RH_TASK_PAUSED, 0, RH_EV_CLEAR, true, false, &st), 0);
	assert_string_equal(st.command, "clear");
	assert_true(st.reset);
	assert_int_equal(rh_task_transition(RH_TASK_PAUSED, 0, RH_EV_DELETE, true, false, &st), 0);
	assert_string_equal(st.command, "delete");
	assert_int_equal(rh_task_transition(RH_TASK_CONFIGURED, 0, RH_EV_DELETE, true, false, &st), 0);
	assert_null(st.command);
}

static void test_after_full_copy(void **state)
{
	struct rh_task_step st;

	/* Continuous sync on: keep syncing until the operator cuts over. */
	assert_int_equal(rh_task_transition(RH_TASK_RUNNING, 0, RH_EV_MIGRATED, true, false, &st), 0);
	assert_int_equal(st.next, RH_TASK_CONTINUOUS_SYNC);
	assert_null(st.command);
	/* Off (seed default then): the target is started automatically. */
	assert_int_equal(rh_task_transition(RH_TASK_RUNNING, 0, RH_EV_MIGRATED, false, true, &st), 0);
	assert_int_equal(st.next, RH_TASK_CUTTING_OVER);
	assert_string_equal(st.command, "cutover");
	/* Off, and automatic cutover off: wait for the operator. */
	assert_int_equal(rh_task_transition(RH_TASK_RUNNING, 0, RH_EV_MIGRATED, false, false, &st), 0);
	assert_int_equal(st.next, RH_TASK_AWAITING_SYNC);
	/* A test returns to where it started from. */
	assert_int_equal(rh_task_transition(RH_TASK_CONTINUOUS_SYNC, 0, RH_EV_TEST, true, false, &st), 0);
	assert_int_equal(st.phase, RH_TASK_CONTINUOUS_SYNC);
	assert_int_equal(rh_task_transition(RH_TASK_TESTING, st.phase, RH_EV_TESTED, true, false, &st), 0);
	assert_int_equal(st.next, RH_TASK_CONTINUOUS_SYNC);
}

static void test_names_and_windows(void **state)
{
	enum rh_task_state s;
	enum rh_task_event e;
	json_t *a;

	for (unsigned i = 0; i < RH_TASK_STATE_COUNT; i++) {
		assert_int_equal(rh_task_state_parse(rh_task_state_name(i), &s), 0);
		assert_int_equal(s, i);
	}
	for (unsigned i = 0; i < RH_EV_COUNT; i++) {
		assert_int_equal(rh_task_event_parse(rh_task_event_name(i), &e), 0);
		assert_int_equal(e, i);
	}
	assert_int_equal(rh_task_state_parse("Running", &s), RH_ERR_INVAL);
	assert_int_equal(rh_task_event_parse(NULL, &e), RH_ERR_INVAL);
	a = rh_task_allowed_actions(RH_TASK_FAILED);
	assert_int_equal(json_array_size(a), 4);
	json_decref(a);
	a = rh_task_allowed_actions(RH_TASK_TESTING);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	/* §2.3/§2.6/§2.7: configured, paused, awaiting sync. */
	for (unsigned i = 0; i < RH_TASK_STATE_COUNT; i++) {
		bool special = i == RH_TASK_CONFIGURED || i == RH_TASK_PAUSED || i == RH_TASK_AWAITING_SYNC;

		assert_int_equal(rh_task_setting_editable(i, RH_SET_SPECIAL), special);
		assert_int_equal(rh_task_setting_editable(i, RH_SET_TARGET), i == RH_TASK_CONFIGURED);
		assert_true(rh_task_setting_editable(i, RH_SET_ANYTIME));
	}
	assert_int_equal(rh_taskcfg_setting_class("compress_threads"), RH_SET_SPECIAL);
	assert_int_equal(rh_taskcfg_setting_class("limits"), RH_SET_SPECIAL);
	assert_int_equal(rh_taskcfg_setting_class("target"), RH_SET_TARGET);
	assert_int_equal(rh_taskcfg_setting_class("rate_limit"), RH_SET_ANYTIME);
	assert_int_equal(rh_taskcfg_setting_class("source_id"), -1);
	assert_int_equal(rh_taskcfg_setting_class("nope"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pair),
		cmocka_unit_test(test_messages_and_commands),
		cmocka_unit_test(test_after_full_copy),
		cmocka_unit_test(test_names_and_windows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
