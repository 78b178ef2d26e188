/* Helpers shared by the subcommands: error reporting, usage errors and
 * the stop signals. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/err.h"
#include "rehost/errcat.h"

void cli_report(int err, const char *context_fmt, ...)
{
	const char *detail = rh_lasterr();
	const char *sms = rh_lasterr_code() == err ? rh_lasterr_sms() : rh_err_sms_code(err);
	const struct rh_errcat_entry *e;
	va_list ap;

	fputs("rehost: error: ", stderr);
	if (context_fmt != NULL && *context_fmt != '\0') {
		va_start(ap, context_fmt);
		vfprintf(stderr, context_fmt, ap);
		va_end(ap);
		fputs(": ", stderr);
	}
	/* The detail is only meaningful if it belongs to this error. */
	if (rh_lasterr_code() == err && *detail != '\0')
		fputs(detail, stderr);
	else
		fputs(rh_strerror(err), stderr);
	if (sms != NULL)
		fprintf(stderr, " [%s]", sms);
	fputc('\n', stderr);
	if (sms != NULL && (e = rh_errcat_find(rh_errcat_builtin(), sms)) != NULL)
		fprintf(stderr, "rehost: hint: %s (rehost errors %s)\n", e->action, e->code);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rehost%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'rehost %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

volatile sig_atomic_t cli_stop;
static volatile sig_atomic_t wake_fd = -1;

static void on_stop_signal(int sig)
{
	int saved = errno;

	cli_stop = sig;
	/* A full pipe already means "wake up": it never blocks. */
	if (wake_fd >= 0)
		(void)!write(wake_fd, "x", 1);
	errno = saved;
}

void cli_signals_init(unsigned flags, int fd)
{
	static const struct { unsigned flag; int sig; } stops[] = {
		{ CLI_SIG_INT, SIGINT }, { CLI_SIG_TERM, SIGTERM }, { CLI_SIG_HUP, SIGHUP },
	};
	struct sigaction sa = { .sa_handler = on_stop_signal };

	cli_stop = 0;
	wake_fd = fd;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
		if (flags & stops[i].flag)
			sigaction(stops[i].sig, &sa, NULL);
	if (flags & CLI_SIG_IGNORE_PIPE)
		signal(SIGPIPE, SIG_IGN);
}
