/*
 * The rehost command-line front end: one binary, one file per subcommand
 * (git builtin/ style). Only code under src/cli, src/agent, src/target and
 * src/server may exit the process.
 */
#ifndef REHOST_CLI_H
#define REHOST_CLI_H

#include <signal.h>
#include <stdio.h>

#include "rehost/repl.h"

/* Exit statuses, fixed; documented in README.md and docs/architecture.md. */
enum {
	EXIT_OK = 0,      /* success */
	EXIT_FAIL = 1,    /* the operation failed; an error was printed */
	EXIT_USAGE = 2,   /* bad command line */
	EXIT_BLOCKED = 3, /* inspect/precheck: migration blocked by an error-level check */
};

/* A word after a command that names one of its own subcommands
 * (`rehost target cutover`): run gets argv[0] = the word. */
struct cli_sub {
	const char *word;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *out);
};

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
	const char *summary;
	void (*usage)(FILE *out);
	const struct cli_sub *subs; /* NULL-word-terminated, or NULL for none */
};

/* Subcommands (cmd-NAME.c). Each returns an EXIT_* status. */
/* The configuration file read when --config is not given (if it exists). */
#define DEFAULT_CONFIG "/etc/rehost/rehost.conf"

int cmd_inspect(int argc, char **argv);
void usage_inspect(FILE *out);
int cmd_version(int argc, char **argv);
void usage_version(FILE *out);
int cmd_errors(int argc, char **argv);
void usage_errors(FILE *out);
int cmd_config(int argc, char **argv);
void usage_config(FILE *out);
int cmd_keygen(int argc, char **argv);
void usage_keygen(FILE *out);
int cmd_target(int argc, char **argv);
void usage_target(FILE *out);
extern const struct cli_sub target_subcommands[];
int cmd_migrate(int argc, char **argv);
void usage_migrate(FILE *out);
int cmd_verify(int argc, char **argv);
void usage_verify(FILE *out);
int cmd_verify_block(int argc, char **argv);
int cmd_sync(int argc, char **argv);
void usage_sync(FILE *out);
void usage_verify_block(FILE *out);
int cmd_postconf(int argc, char **argv);
void usage_postconf(FILE *out);
int cmd_image(int argc, char **argv);
void usage_image(FILE *out);
int cmd_server(int argc, char **argv);
void usage_server(FILE *out);
int cmd_boot_test(int argc, char **argv);
void usage_boot_test(FILE *out);
int cmd_ctl(int argc, char **argv);
void usage_ctl(FILE *out);

/* migrate, sync and block verify share one option parser (cmd-migrate.c). */
int cli_repl_run(const char *cmd, enum rh_repl_mode mode, int argc, char **argv);

/* repl-progress.c: --progress of migrate, sync and block verify. */
enum cli_progress_mode { CLI_PROGRESS_BAR, CLI_PROGRESS_LOG, CLI_PROGRESS_JSON, CLI_PROGRESS_NONE };

struct cli_repl_progress {
	enum cli_progress_mode mode;
	unsigned interval_s; /* seconds between log lines, > 0 */
	double last_s;       /* elapsed_s of the previous call, 0 at the start of a run */
	const char *cmd;     /* "sync" or "verify": names the hashing phase's log line */
};

/* The mode named by a --progress argument; NULL: bar on a terminal, else
 * log. Returns 0, or -1 for an unknown name. */
int cli_repl_progress_mode(const char *arg, enum cli_progress_mode *out);
/* The rh_migrate_opts progress callback; arg is a struct cli_repl_progress. */
void cli_repl_progress_show(const struct rh_repl_progress *p, void *arg);

/* Print the thread's last library error as
 *   rehost: error: <context>: <detail> [SMS.xxxx]
 *   rehost: hint: <catalogue action>
 * err is the code returned by the library. */
void cli_report(int err, const char *context_fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "rehost CMD: <message>" and a pointer to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Common options handled by every subcommand: returns 1 and prints usage
 * when argv holds -h/--help. */
int cli_wants_help(int argc, char **argv);

/* The signals a command stops on (cli_signals_init). */
enum cli_sig_flags {
	CLI_SIG_INT = 1 << 0,
	CLI_SIG_TERM = 1 << 1,
	CLI_SIG_HUP = 1 << 2,
	/* SIGPIPE ignored: a peer that went away is an EPIPE error to
	 * report, not the death of the process. */
	CLI_SIG_IGNORE_PIPE = 1 << 3,
	CLI_SIG_STOP = CLI_SIG_INT | CLI_SIG_TERM,
};

/* The number of the signal that asked the command to stop; 0 until one
 * came. It is the stop flag handed to the library (every library stop
 * flag is a `const volatile sig_atomic_t *`). */
extern volatile sig_atomic_t cli_stop;

/* Catch the signals in flags (enum cli_sig_flags): each sets cli_stop
 * (cleared here) and, when wake_fd >= 0, writes one byte to wake_fd (the
 * non-blocking write end of a self-pipe, for a poll loop that must wake
 * even when another thread took the signal). Without SA_RESTART, so a
 * blocking read, poll or pause returns EINTR and the caller sees
 * cli_stop at once. Signals not in flags are left as they are. */
void cli_signals_init(unsigned flags, int wake_fd);

#endif
