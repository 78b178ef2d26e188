/*
 * The task state machine, in one place. docs/lifecycle.md shows the same
 * table and a diagram; tests/unit/test-store-lifecycle.c walks every
 * (state, event) pair against it.
 *
 * Each cell says what an event does in a state: the next state (or the
 * phase the task was in, for resume), the command the agent must run, and
 * flags. An empty cell is an invalid transition, refused with RH_ERR_STATE.
 */
#include <stdio.h>
#include <string.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/store.h"

static const char *const state_names[RH_TASK_STATE_COUNT] = {
	[RH_TASK_CONFIGURED] = "configured",
	[RH_TASK_RUNNING] = "running",
	[RH_TASK_PAUSED] = "paused",
	[RH_TASK_FAILED] = "failed",
	[RH_TASK_AWAITING_SYNC] = "awaiting_sync",
	[RH_TASK_SYNCING] = "syncing",
	[RH_TASK_CONTINUOUS_SYNC] = "continuous_sync",
	[RH_TASK_CUTTING_OVER] = "cutting_over",
	[RH_TASK_TESTING] = "testing",
	[RH_TASK_COMPLETED] = "completed",
};

static const char *const event_names[RH_EV_COUNT] = {
	[RH_EV_START] = "start", [RH_EV_PAUSE] = "pause", [RH_EV_RESUME] = "resume",
	[RH_EV_SYNC] = "sync", [RH_EV_CUTOVER] = "cutover", [RH_EV_TEST] = "test",
	[RH_EV_DELETE] = "delete", [RH_EV_CLEAR] = "clear",
	[RH_EV_MIGRATED] = "migrated", [RH_EV_SYNCED] = "synced",
	[RH_EV_CUTOVER_DONE] = "cutover_done", [RH_EV_TESTED] = "tested",
	[RH_EV_FAILED] = "failed",
};

/* Targets in the table besides real states. */
enum {
	T_NONE = 0,   /* invalid transition */
	T_STATE,      /* go to .state */
	T_PHASE,      /* go back to the remembered phase */
	T_DELETED,    /* task removed */
	T_MIGRATED,   /* after the full copy: continuous_sync, cutting_over or awaiting_sync */
	T_SAME,       /* stay (command sent, e.g. "sync now" in continuous sync) */
};

struct cell {
	unsigned char kind;
	unsigned char state;
	const char *command;
	unsigned char flags;
};
#define F_RESET 1     /* progress and subtasks start over */
#define F_ROUND 2     /* a new round of work starts */
#define F_SETPHASE 4  /* remember the current state as the phase */

#define GO(s, cmd, fl) { T_STATE, RH_TASK_##s, cmd, fl }
#define BACK(cmd) { T_PHASE, 0, cmd, 0 }
#define DEL(cmd) { T_DELETED, 0, cmd, 0 }
#define SAME(cmd) { T_SAME, 0, cmd, 0 }

static const struct cell table[RH_TASK_STATE_COUNT][RH_EV_COUNT] = {
	[RH_TASK_CONFIGURED] = {
		[RH_EV_START] = GO(RUNNING, "start", F_RESET | F_ROUND),
		[RH_EV_DELETE] = DEL(NULL),
	},
	[RH_TASK_RUNNING] = {
		[RH_EV_PAUSE] = GO(PAUSED, "pause", F_SETPHASE),
		[RH_EV_MIGRATED] = { T_MIGRATED, 0, NULL, 0 },
		[RH_EV_FAILED] = GO(FAILED, NULL, F_SETPHASE),
	},
	[RH_TASK_PAUSED] = {
		[RH_EV_START] = BACK("resume"),
		[RH_EV_RESUME] = BACK("resume"),
		[RH_EV_DELETE] = DEL("delete"),
		[RH_EV_CLEAR] = GO(CONFIGURED, "clear", F_RESET),
	},
	[RH_TASK_FAILED] = {
		[RH_EV_START] = BACK("resume"),
		[RH_EV_RESUME] = BACK("resume"),
		[RH_EV_DELETE] = DEL("delete"),
		[RH_EV_CLEAR] = GO(CONFIGURED, "clear", F_RESET),
	},
	[RH_TASK_AWAITING_SYNC] = {
		[RH_EV_SYNC] = GO(SYNCING, "sync", F_ROUND),
		[RH_EV_CUTOVER] = GO(CUTTING_OVER, "cutover", F_ROUND),
		[RH_EV_TEST] = GO(TESTING, "test", F_SETPHASE),
		[RH_EV_DELETE] = DEL("delete"),
		[RH_EV_CLEAR] = GO(CONFIGURED, "clear", F_RESET),
		[RH_EV_SYNCED] = SAME(NULL),
	},
	[RH_TASK_SYNCING] = {
		[RH_EV_PAUSE] = GO(PAUSED, "pause", F_SETPHASE),
		[RH_EV_SYNCED] = GO(AWAITING_SYNC, NULL, 0),
		[RH_EV_FAILED] = GO(FAILED, NULL, F_SETPHASE),
	},
	[RH_TASK_CONTINUOUS_SYNC] = {
		[RH_EV_PAUSE] = GO(PAUSED, "pause", F_SETPHASE),
		[RH_EV_SYNC] = SAME("sync"),
		[RH_EV_CUTOVER] = GO(CUTTING_OVER, "cutover", F_ROUND),
		[RH_EV_TEST] = GO(TESTING, "test", F_SETPHASE),
		[RH_EV_SYNCED] = SAME(NULL),
		[RH_EV_FAILED] = GO(FAILED, NULL, F_SETPHASE),
	},
	[RH_TASK_CUTTING_OVER] = {
		[RH_EV_PAUSE] = GO(PAUSED, "pause", F_SETPHASE),
		[RH_EV_CUTOVER_DONE] = GO(COMPLETED, NULL, 0),
		[RH_EV_FAILED] = GO(FAILED, NULL, F_SETPHASE),
	},
	[RH_TASK_TESTING] = {
		[RH_EV_TESTED] = BACK(NULL),
		[RH_EV_FAILED] = BACK(NULL),
	},
	[RH_TASK_COMPLETED] = {
		[RH_EV_SYNC] = GO(CONTINUOUS_SYNC, "sync", F_ROUND),
		[RH_EV_DELETE] = DEL(NULL),
		[RH_EV_CLEAR] = GO(CONFIGURED, "clear", F_RESET),
	},
};

const char *rh_task_state_name(enum rh_task_state s)
{
	return (unsigned)s < RH_TASK_STATE_COUNT ? state_names[s] : "unknown";
}

int rh_task_state_parse(const char *s, enum rh_task_state *out)
{
	*out = RH_TASK_CONFIGURED;
	for (unsigned i = 0; s != NULL && i < RH_TASK_STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum rh_task_state)i;
			return 0;
		}
	return rh_seterr(RH_ERR_INVAL, "unknown task state '%s' (expected configured, running, "
			 "paused, failed, awaiting_sync, syncing, continuous_sync, cutting_over, "
			 "testing or completed)", s ? s : "");
}

const char *rh_task_event_name(enum rh_task_event e)
{
	return (unsigned)e < RH_EV_COUNT ? event_names[e] : "unknown";
}

int rh_task_event_parse(const char *s, enum rh_task_event *out)
{
	*out = RH_EV_START;
	for (unsigned i = 0; s != NULL && i < RH_EV_COUNT; i++)
		if (strcmp(s, event_names[i]) == 0) {
			*out = (enum rh_task_event)i;
			return 0;
		}
	return rh_seterr(RH_ERR_INVAL, "unknown action '%s' (expected start, pause, resume, sync, "
			 "cutover, test, delete or clear)", s ? s : "");
}

bool rh_task_event_is_action(enum rh_task_event e)
{
	return e <= RH_EV_CLEAR;
}

/* "running, syncing or continuous_sync" for the states where ev is allowed. */
static void allowed_states(enum rh_task_event ev, char *buf, size_t len)
{
	unsigned n = 0, total = 0, i;
	size_t used = 0;

	for (i = 0; i < RH_TASK_STATE_COUNT; i++)
		total += table[i][ev].kind != T_NONE;
	buf[0] = '\0';
	for (i = 0; i < RH_TASK_STATE_COUNT && used < len; i++) {
		if (table[i][ev].kind == T_NONE)
			continue;
		n++;
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 n == 1 ? "" : n == total ? " or " : ", ", state_names[i]);
	}
}

int rh_task_transition(enum rh_task_state state, enum rh_task_state phase,
		       enum rh_task_event ev, bool continuous_sync, bool auto_cutover,
		       struct rh_task_step *out)
{
	const struct cell *c;
	char allowed[256];

	memset(out, 0, sizeof *out);
	if ((unsigned)state >= RH_TASK_STATE_COUNT || (unsigned)ev >= RH_EV_COUNT)
		return rh_seterr(RH_ERR_INVAL, "bad task state or event");
	out->next = state;
	out->phase = phase;
	c = &table[state][ev];
	switch (c->kind) {
	case T_NONE:
		allowed_states(ev, allowed, sizeof allowed);
		if (rh_task_event_is_action(ev))
			return rh_seterr(RH_ERR_STATE,
					 "cannot %s a task that is %s (%s is allowed when the task is %s)",
					 event_names[ev], state_names[state], event_names[ev], allowed);
		return rh_seterr(RH_ERR_STATE,
				 "agent report '%s' does not apply to a task that is %s "
				 "(expected when %s)", event_names[ev], state_names[state], allowed);
	case T_STATE:
		out->next = (enum rh_task_state)c->state;
		break;
	case T_PHASE:
		/* The phase is a working state; anything else means the task
		 * never got that far, so the full migration runs again. */
		switch (phase) {
		case RH_TASK_RUNNING: case RH_TASK_SYNCING: case RH_TASK_CONTINUOUS_SYNC:
		case RH_TASK_CUTTING_OVER: case RH_TASK_AWAITING_SYNC:
			out->next = phase;
			break;
		default:
			out->next = RH_TASK_RUNNING;
		}
		break;
	case T_DELETED:
		out->deleted = true;
		break;
	case T_MIGRATED:
		out->next = continuous_sync ? RH_TASK_CONTINUOUS_SYNC
			    : auto_cutover ? RH_TASK_CUTTING_OVER : RH_TASK_AWAITING_SYNC;
		out->command = out->next == RH_TASK_CUTTING_OVER ? "cutover" : NULL;
		out->new_round = out->next == RH_TASK_CUTTING_OVER;
		return 0;
	case T_SAME:
		break;
	}
	out->command = c->command;
	out->reset = (c->flags & F_RESET) != 0;
	out->new_round = (c->flags & F_ROUND) != 0;
	if (c->flags & F_SETPHASE)
		out->phase = state;
	if (out->reset)
		out->phase = RH_TASK_CONFIGURED;
	return 0;
}

json_t *rh_task_allowed_actions(enum rh_task_state state)
{
	json_t *a = json_array();

	for (unsigned e = 0; a != NULL && e <= RH_EV_CLEAR && (unsigned)state < RH_TASK_STATE_COUNT; e++)
		if (table[state][e].kind != T_NONE)
			json_array_append_new(a, json_string(event_names[e]));
	return a;
}

bool rh_task_setting_editable(enum rh_task_state state, enum rh_setting_class cls)
{
	switch (cls) {
	case RH_SET_ANYTIME:
		return true;
	case RH_SET_SPECIAL:
		/* S1 §2.29, §2.38, §3.7: configured but not started, paused, or
		 * migration complete awaiting sync. */
		return state == RH_TASK_CONFIGURED || state == RH_TASK_PAUSED ||
		       state == RH_TASK_AWAITING_SYNC;
	case RH_SET_TARGET:
		/* The agent pins the target when migration starts (§4.8). */
		return state == RH_TASK_CONFIGURED;
	}
	return false;
}

const char *rh_task_setting_states(enum rh_setting_class cls)
{
	switch (cls) {
	case RH_SET_ANYTIME:
		return "any state";
	case RH_SET_SPECIAL:
		return "configured, paused or awaiting_sync";
	case RH_SET_TARGET:
		return "configured (clear the task to change the target of a started task)";
	}
	return "";
}
