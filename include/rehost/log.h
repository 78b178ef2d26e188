/*
 * Logging: one line per event to stderr and/or a file:
 *
 *   2026-11-22T21:30:01.123+00:00 INFO  [inspect] message
 *
 * Time is local ISO-8601 with milliseconds and numeric zone. Debug levels
 * append the source location. Lines are written with a single write(2) so
 * concurrent threads and processes never interleave within a line.
 *
 * Each .c file may `#define RH_LOG_COMPONENT "name"` before including this
 * header; otherwise the component is "rehost".
 */
#ifndef REHOST_LOG_H
#define REHOST_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum rh_log_level {
	RH_LOG_FATAL = 0,
	RH_LOG_ERROR,
	RH_LOG_WARN,
	RH_LOG_INFO,
	RH_LOG_DEBUG1,
	RH_LOG_DEBUG2,
	RH_LOG_DEBUG3,
};

/* Messages above this level are dropped. Default RH_LOG_INFO. */
void rh_log_set_level(enum rh_log_level level);
enum rh_log_level rh_log_get_level(void);

/* Parse "fatal", "error", "warn", "info", "debug", "debug1".."debug3".
 * Returns 0 or RH_ERR_INVAL. */
int rh_log_level_parse(const char *s, enum rh_log_level *out);
const char *rh_log_level_name(enum rh_log_level level);

/* Send log lines to stderr (default on). */
void rh_log_to_stderr(bool on);

/* Also append log lines to the file at path (created 0640). Replaces a
 * previously opened file. NULL closes the file. Returns 0 or RH_ERR_IO. */
int rh_log_open_file(const char *path);

/* Close the log file, if any. */
void rh_log_close(void);

/* Whether a message at level would be written. */
bool rh_log_enabled(enum rh_log_level level);

void rh_log_emit(enum rh_log_level level, const char *component,
		 const char *file, const char *func, int line,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void rh_log_emitv(enum rh_log_level level, const char *component,
		  const char *file, const char *func, int line,
		  const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

/* Format the current time as ISO-8601 with milliseconds and zone into buf
 * (at least 32 bytes). Returns buf. */
char *rh_log_timestamp(char *buf, unsigned long len);

#ifndef RH_LOG_COMPONENT
#define RH_LOG_COMPONENT "rehost"
#endif

#define RH_LOG_(lvl, ...)                                                   \
	do {                                                                \
		if (rh_log_enabled(lvl))                                    \
			rh_log_emit(lvl, RH_LOG_COMPONENT, __FILE__,        \
				    __func__, __LINE__, __VA_ARGS__);       \
	} while (0)

#define rh_log_error(...) RH_LOG_(RH_LOG_ERROR, __VA_ARGS__)
#define rh_log_warn(...) RH_LOG_(RH_LOG_WARN, __VA_ARGS__)
#define rh_log_info(...) RH_LOG_(RH_LOG_INFO, __VA_ARGS__)
#define rh_log_debug(...) RH_LOG_(RH_LOG_DEBUG1, __VA_ARGS__)
#define rh_log_debug2(...) RH_LOG_(RH_LOG_DEBUG2, __VA_ARGS__)
#define rh_log_debug3(...) RH_LOG_(RH_LOG_DEBUG3, __VA_ARGS__)
/* _r variants append the error code's description: "msg: out of range". */
#define rh_log_error_r(err, fmt, ...) \
	RH_LOG_(RH_LOG_ERROR, fmt ": %s", ##__VA_ARGS__, rh_strerror(err))
#define rh_log_warn_r(err, fmt, ...) \
	RH_LOG_(RH_LOG_WARN, fmt ": %s", ##__VA_ARGS__, rh_strerror(err))

#endif
