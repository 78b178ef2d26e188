/* The verify result log: names, escaping, writer and the bounded parser
 * that recheck reads the previous run's mismatches with. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/fileverify.h"
#include "rehost/log.h"
#include "rehost/num.h"
#include "rehost/tsv.h"
#include "verify/verify-internal.h"

#define LOG_MAGIC "# rehost verify result log v1"

static const char *const kind_names[RH_FV_NKINDS] = {
	[RH_FV_MISSING] = "missing", [RH_FV_EXTRA] = "extra",
	[RH_FV_TYPE] = "type",       [RH_FV_SIZE] = "size",
	[RH_FV_MTIME] = "mtime",     [RH_FV_CONTENT] = "content",
	[RH_FV_LINK] = "link",       [RH_FV_UNREADABLE] = "unreadable",
	[RH_FV_SKIPPED] = "skipped",
};

const char *rh_fverify_kind_name(enum rh_fverify_kind kind)
{
	return (unsigned)kind < RH_FV_NKINDS ? kind_names[kind] : "unknown";
}

int rh_fverify_kind_parse(const char *name)
{
	for (int i = 0; i < RH_FV_NKINDS; i++)
		if (strcmp(kind_names[i], name) == 0)
			return i;
	return -1;
}

const char *rh_fverify_mode_name(enum rh_fverify_mode mode)
{
	switch (mode) {
	case RH_FVERIFY_QUICK: return "quick";
	case RH_FVERIFY_CRC: return "crc";
	default: return "default";
	}
}

const char *rh_fverify_skip_name(enum rh_fverify_skip why)
{
	switch (why) {
	case RH_FV_SKIP_MOUNT: return "mount_point";
	case RH_FV_SKIP_PATH: return "path_too_long";
	case RH_FV_SKIP_ENTRIES: return "too_many_entries";
	default: return "unknown";
	}
}

/* ---- writer ---- */

void verifylog_put_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '\\': fputs("\\\\", f); break;
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\x%02x", *p);
			else
				fputc(*p, f);
		}
	}
}

void verifylog_put_header(FILE *f, enum rh_fverify_mode mode, bool recheck,
			  const char *source, const char *target)
{
	char ts[40];

	fputs(LOG_MAGIC "\n", f);
	fprintf(f, "# mode: %s\n# source: ", rh_fverify_mode_name(mode));
	verifylog_put_escaped(f, source);
	fputs("\n# target: ", f);
	verifylog_put_escaped(f, target);
	fprintf(f, "\n# recheck: %s\n# started: %s\n", recheck ? "yes" : "no",
		rh_log_timestamp(ts, sizeof ts));
}

void verifylog_put_entry(FILE *f, enum rh_fverify_kind kind, const char *path,
			 const char *detail)
{
	fputs(rh_fverify_kind_name(kind), f);
	fputc('\t', f);
	verifylog_put_escaped(f, path);
	fputc('\t', f);
	verifylog_put_escaped(f, detail ? detail : "");
	fputc('\n', f);
}

/* ---- reader ---- */

struct rh_fverify_log {
	char *buf; /* owned copy of the text, decoded in place */
	struct rh_fverify_entry *e;
	size_t n, cap;
	enum rh_fverify_mode mode;
	const char *source, *target;
};

bool verifylog_path_ok(const char *path)
{
	size_t len = strlen(path);
	const char *p = path;

	if (len == 0 || len >= RH_FVERIFY_MAX_PATH)
		return false;
	if (strcmp(path, ".") == 0)
		return true;
	if (path[0] == '/' || path[len - 1] == '/')
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);

		if (clen == 0 || (clen == 1 && p[0] == '.') ||
		    (clen == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += clen;
		if (*p == '/')
			p++;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s in place; false on a bad escape or an escaped NUL. */
static bool unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		r++;
		switch (*r) {
		case '\\': *w++ = '\\'; break;
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 'x': {
			int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			*w++ = (char)(hi << 4 | lo);
			r += 2;
			break;
		}
		default:
			return false; /* also a trailing backslash */
		}
	}
	*w = '\0';
	return true;
}

void rh_fverify_log_free(struct rh_fverify_log *log)
{
	if (log == NULL)
		return;
	free(log->e);
	free(log->buf);
	free(log);
}

static int parse_line(struct rh_fverify_log *log, char *line, size_t lineno)
{
	char *f[3], *path, *detail;
	size_t n = rh_tsv_split(line, f, 3);
	int kind;

	if (n < 3)
		return rh_seterr(RH_ERR_PARSE, "line %zu: expected KIND<TAB>PATH<TAB>DETAIL", lineno);
	if (n > 3)
		return rh_seterr(RH_ERR_PARSE, "line %zu: more than three fields", lineno);
	path = f[1];
	detail = f[2];
	kind = rh_fverify_kind_parse(line);
	if (kind < 0)
		return rh_seterr(RH_ERR_PARSE, "line %zu: unknown kind '%.20s'", lineno, line);
	if (!unescape(path) || !unescape(detail))
		return rh_seterr(RH_ERR_PARSE, "line %zu: bad escape sequence", lineno);
	if (!verifylog_path_ok(path))
		return rh_seterr(RH_ERR_PARSE, "line %zu: path is not a relative path inside the tree "
				 "(or is %u bytes or longer)", lineno, RH_FVERIFY_MAX_PATH);
	if (log->n == log->cap) {
		size_t ncap = log->cap ? log->cap * 2 : 64;
		struct rh_fverify_entry *ne = realloc(log->e, ncap * sizeof *ne);

		if (ne == NULL)
			return rh_seterr(RH_ERR_NOMEM, "result log: %zu entries", log->n);
		log->e = ne;
		log->cap = ncap;
	}
	log->e[log->n++] = (struct rh_fverify_entry){ .kind = (enum rh_fverify_kind)kind,
						      .path = path, .detail = detail };
	return 0;
}

static int parse_comment(struct rh_fverify_log *log, char *line, size_t lineno, bool *ended)
{
	uint64_t n;
	char *v;

	if (strncmp(line, "# end: ", 7) == 0) {
		if (rh_parse_u64(line + 7, 0, UINT64_MAX, &n) < 0)
			return rh_seterr(RH_ERR_PARSE, "line %zu: bad '# end' count", lineno);
		if (n != log->n)
			return rh_seterr(RH_ERR_CORRUPT, "result log says %" PRIu64 " entries but has %zu",
					 n, log->n);
		*ended = true;
	} else if (strncmp(line, "# mode: ", 8) == 0) {
		v = line + 8;
		if (strcmp(v, "quick") == 0)
			log->mode = RH_FVERIFY_QUICK;
		else if (strcmp(v, "crc") == 0)
			log->mode = RH_FVERIFY_CRC;
		else
			return rh_seterr(RH_ERR_PARSE, "line %zu: unknown mode", lineno);
	} else if (strncmp(line, "# source: ", 10) == 0 || strncmp(line, "# target: ", 10) == 0) {
		v = line + 10;
		if (!unescape(v))
			return rh_seterr(RH_ERR_PARSE, "line %zu: bad escape sequence", lineno);
		if (line[2] == 's')
			log->source = v;
		else
			log->target = v;
	}
	return 0; /* other comments are informational */
}

int rh_fverify_log_parse(const char *data, size_t len, struct rh_fverify_log **out)
{
	struct rh_fverify_log *log = NULL;
	struct rh_tsv_lines it;
	size_t llen;
	bool ended = false;
	char *line;
	int rc;

	*out = NULL;
	if (len > RH_FVERIFY_LOG_MAX)
		return rh_seterr(RH_ERR_TOOBIG, "result log of %zu bytes exceeds %u", len,
				 RH_FVERIFY_LOG_MAX);
	log = calloc(1, sizeof *log);
	if (log == NULL || (log->buf = malloc(len + 1)) == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "result log of %zu bytes", len);
		goto out;
	}
	if (len > 0)
		memcpy(log->buf, data, len);
	log->buf[len] = '\0';
	log->source = log->target = "";
	if (memchr(log->buf, '\0', len) != NULL) {
		rc = rh_seterr(RH_ERR_PARSE, "result log contains a NUL byte");
		goto out;
	}
	rh_tsv_lines_init(&it, log->buf);
	while ((line = rh_tsv_line_next(&it, &llen)) != NULL) {
		size_t lineno = it.lineno;

		/* The bound counts the line as stored, '\r' included. */
		if (it.rawlen > VERIFYLOG_MAX_LINE) {
			rc = rh_seterr(RH_ERR_PARSE, "line %zu: longer than %u bytes", lineno,
				       VERIFYLOG_MAX_LINE);
			goto out;
		}
		if (lineno == 1) {
			if (strcmp(line, LOG_MAGIC) != 0) {
				rc = rh_seterr(RH_ERR_PARSE, "line 1: not a rehost verify result log");
				goto out;
			}
			continue;
		}
		if (ended) {
			rc = rh_seterr(RH_ERR_PARSE, "line %zu: text after the '# end' trailer", lineno);
			goto out;
		}
		if (llen == 0)
			continue;
		rc = line[0] == '#' ? parse_comment(log, line, lineno, &ended)
				    : parse_line(log, line, lineno);
		if (rc < 0)
			goto out;
	}
	if (it.lineno == 0) {
		rc = rh_seterr(RH_ERR_PARSE, "empty result log");
		goto out;
	}
	if (!ended) {
		rc = rh_seterr(RH_ERR_CORRUPT, "result log has no '# end' trailer: truncated?");
		goto out;
	}
	*out = log;
	log = NULL;
	rc = 0;
out:
	rh_fverify_log_free(log);
	return rc;
}

int rh_fverify_log_load(const char *path, struct rh_fverify_log **out)
{
	struct stat sb;
	char *data = NULL;
	size_t got = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return rh_seterr_errno(errno, "%s", path);
	if (fstat(fd, &sb) < 0) {
		rc = rh_seterr_errno(errno, "%s", path);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = rh_seterr(RH_ERR_INVAL, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)sb.st_size > RH_FVERIFY_LOG_MAX) {
		rc = rh_seterr(RH_ERR_TOOBIG, "%s: %jd bytes exceeds %u", path, (intmax_t)sb.st_size,
			       RH_FVERIFY_LOG_MAX);
		goto out;
	}
	data = malloc((size_t)sb.st_size + 1);
	if (data == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "%s", path);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, data + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = rh_seterr_errno(errno, "%s", path);
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	rc = rh_fverify_log_parse(data, got, out);
	if (rc < 0)
		rh_seterr(rc, "%s: %s", path, rh_lasterr());
out:
	free(data);
	close(fd);
	return rc;
}

size_t rh_fverify_log_count(const struct rh_fverify_log *log)
{
	return log ? log->n : 0;
}

const struct rh_fverify_entry *rh_fverify_log_at(const struct rh_fverify_log *log, size_t i)
{
	return log && i < log->n ? &log->e[i] : NULL;
}

enum rh_fverify_mode rh_fverify_log_mode(const struct rh_fverify_log *log)
{
	return log->mode;
}

const char *rh_fverify_log_source(const struct rh_fverify_log *log)
{
	return log->source;
}

const char *rh_fverify_log_target(const struct rh_fverify_log *log)
{
	return log->target;
}
