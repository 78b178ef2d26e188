/* Line-oriented logger: stderr and/or an append-only file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/log.h"

static enum rh_log_level log_level = RH_LOG_INFO;
static bool log_stderr = true;
static int log_fd = -1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	[RH_LOG_FATAL] = "fatal", [RH_LOG_ERROR] = "error",
	[RH_LOG_WARN] = "warn",   [RH_LOG_INFO] = "info",
	[RH_LOG_DEBUG1] = "debug1", [RH_LOG_DEBUG2] = "debug2",
	[RH_LOG_DEBUG3] = "debug3",
};

/* Fixed-width upper-case tags keep columns aligned for grep and eyes. */
static const char *const level_tags[] = {
	[RH_LOG_FATAL] = "FATAL", [RH_LOG_ERROR] = "ERROR",
	[RH_LOG_WARN] = "WARN ",  [RH_LOG_INFO] = "INFO ",
	[RH_LOG_DEBUG1] = "DEBUG", [RH_LOG_DEBUG2] = "DEBUG",
	[RH_LOG_DEBUG3] = "DEBUG",
};

void rh_log_set_level(enum rh_log_level level)
{
	if (level > RH_LOG_DEBUG3)
		level = RH_LOG_DEBUG3;
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

enum rh_log_level rh_log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

bool rh_log_enabled(enum rh_log_level level)
{
	return level <= rh_log_get_level();
}

int rh_log_level_parse(const char *s, enum rh_log_level *out)
{
	*out = RH_LOG_INFO;
	if (s == NULL)
		return RH_ERR_INVAL;
	if (strcmp(s, "debug") == 0) {
		*out = RH_LOG_DEBUG1;
		return 0;
	}
	if (strcmp(s, "warning") == 0) {
		*out = RH_LOG_WARN;
		return 0;
	}
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum rh_log_level)i;
			return 0;
		}
	}
	return rh_seterr(RH_ERR_INVAL,
			 "unknown log level '%s' (allowed: fatal, error, warn, info, debug, debug1, debug2, debug3)",
			 s);
}

const char *rh_log_level_name(enum rh_log_level level)
{
	return level <= RH_LOG_DEBUG3 ? level_names[level] : "?";
}

void rh_log_to_stderr(bool on)
{
	pthread_mutex_lock(&log_lock);
	log_stderr = on;
	pthread_mutex_unlock(&log_lock);
}

int rh_log_open_file(const char *path)
{
	int fd = -1;

	if (path != NULL) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return rh_seterr_errno(errno, "cannot open log file %s", path);
	}
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void rh_log_close(void)
{
	rh_log_open_file(NULL);
}

char *rh_log_timestamp(char *buf, unsigned long len)
{
	struct timeval tv;
	struct tm tm;
	char date[32], zone[8];

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	/* strftime's %z gives "+0000"; ISO-8601 extended format wants "+00:00". */
	strftime(zone, sizeof zone, "%z", &tm);
	snprintf(buf, len, "%s.%03ld%.3s:%.2s", date, (long)(tv.tv_usec / 1000),
		 zone, zone + 3);
	return buf;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report a logging failure */
		}
		p += w;
		n -= (size_t)w;
	}
}

void rh_log_emitv(enum rh_log_level level, const char *component,
		  const char *file, const char *func, int line,
		  const char *fmt, va_list ap)
{
	char line_buf[4096], ts[40];
	int n, m;
	int saved_errno = errno;

	if (level > RH_LOG_DEBUG3)
		level = RH_LOG_DEBUG3;
	rh_log_timestamp(ts, sizeof ts);
	n = snprintf(line_buf, sizeof line_buf, "%s %s [%s] ", ts,
		     level_tags[level], component ? component : "rehost");
	if (n < 0)
		return;
	m = vsnprintf(line_buf + n, sizeof line_buf - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof line_buf - 64)
		n = (int)sizeof line_buf - 64; /* truncated: keep room for the tail */
	if (level >= RH_LOG_DEBUG1 && file != NULL) {
		const char *base = strrchr(file, '/');

		m = snprintf(line_buf + n, sizeof line_buf - (size_t)n,
			     " (%s:%d %s)", base ? base + 1 : file, line,
			     func ? func : "?");
		if (m > 0)
			n += m;
	}
	/* snprintf reports the untruncated length: clamp before the newline. */
	if ((size_t)n > sizeof line_buf - 2)
		n = (int)sizeof line_buf - 2;
	line_buf[n++] = '\n';

	pthread_mutex_lock(&log_lock);
	if (log_stderr)
		write_all(STDERR_FILENO, line_buf, (size_t)n);
	if (log_fd >= 0)
		write_all(log_fd, line_buf, (size_t)n);
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}

void rh_log_emit(enum rh_log_level level, const char *component,
		 const char *file, const char *func, int line,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rh_log_emitv(level, component, file, func, line, fmt, ap);
	va_end(ap);
}
