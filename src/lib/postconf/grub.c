/*
 * /etc/default/grub and /etc/default/grub.d/NAME.cfg (sourced after it, in
 * name order, by grub-mkconfig on Debian and Ubuntu): the kernel command
 * line and terminal settings the caller's grub-mkconfig run will use.
 *
 * - The caller's arguments (console=tty0 console=ttyS0,115200n8) are added
 *   to the GRUB_CMDLINE_LINUX assignment in effect (the last one). A
 *   literal value is rewritten; one built with expansions is extended by a
 *   line GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ..." after it.
 * - root= and resume= naming a kernel device (/dev/sda2, /dev/xvda1,
 *   /dev/vda1, /dev/nvme0n1p2) are dropped from GRUB_CMDLINE_LINUX and
 *   GRUB_CMDLINE_LINUX_DEFAULT: disk names change with the hypervisor, and
 *   grub-mkconfig adds root=UUID= itself. root=UUID= and resume=UUID= are
 *   pointed at the UUIDs rh_pc_fstab was given.
 * - With a serial console added, GRUB_TERMINAL becomes "console serial"
 *   (every assignment that lacks serial: Ubuntu cloud images set
 *   GRUB_TERMINAL=console in grub.d) and GRUB_SERIAL_COMMAND is added when
 *   none is set.
 * - GRUB_DISABLE_LINUX_UUID=true (which would make grub-mkconfig write
 *   root=/dev/sdX) and GRUB_FORCE_PARTUUID (Ubuntu's initrd-less boot by a
 *   PARTUUID that a file-level copy does not keep) are commented out.
 * Values are written double-quoted with ", \, $ and ` escaped, so the files
 * stay valid shell.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define GRUB_MAIN "/etc/default/grub"
#define GRUB_DIR "/etc/default/grub.d"
#define GRUB_MAX_FILES 64u
#define GRUB_VALUE 8192u

struct gfile {
	char path[PATH_MAX];
	char *text;
	size_t len;
	struct rh_buf *out;
	struct pc_detail d;
	bool appended_header;
};

struct grub {
	struct gfile f[GRUB_MAX_FILES];
	size_t n;
	/* The GRUB_CMDLINE_LINUX assignment in effect: file and line (1-based;
	 * 0 = none anywhere). */
	size_t cmd_file;
	unsigned cmd_line;
	bool cmd_literal;
	bool have_terminal, have_serial_cmd;
	bool serial;            /* a console=ttyS* is being added */
	unsigned serial_unit;
	unsigned long serial_speed;
};

/* A kernel argument naming a disk by its kernel name. */
static bool kernel_dev(const char *v)
{
	static const char *const prefixes[] = { "/dev/sd", "/dev/hd", "/dev/xvd", "/dev/vd",
						"/dev/nvme", NULL };

	for (const char *const *p = prefixes; *p; p++)
		if (strncmp(v, *p, strlen(*p)) == 0)
			return true;
	return false;
}

/* Rewrite the words of a command line: drop or repoint root=/resume=, and
 * (add != NULL) append the arguments not yet there. Returns whether the
 * value changed. */
static bool edit_cmdline(const struct rh_pc *pc, const char *value, const char *const *add,
			 char *out, size_t outlen, struct pc_detail *d)
{
	char buf[GRUB_VALUE], *save = NULL, *w;
	size_t o = 0;
	bool changed = false;

	snprintf(buf, sizeof buf, "%s", value);
	out[0] = '\0';
	for (w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char repl[128];
		const char *word = w;

		if ((strncmp(w, "root=", 5) == 0 && kernel_dev(w + 5)) ||
		    (strncmp(w, "resume=", 7) == 0 && kernel_dev(w + 7))) {
			pc_detail_add(d, "dropped %s", w);
			changed = true;
			continue;
		}
		if (strncmp(w, "root=UUID=", 10) == 0 && pc->root_uuid[0] &&
		    strcasecmp(w + 10, pc->root_uuid) != 0) {
			snprintf(repl, sizeof repl, "root=UUID=%s", pc->root_uuid);
			word = repl;
		} else if (strncmp(w, "resume=UUID=", 12) == 0 && pc->swap_uuid[0] &&
			   strcasecmp(w + 12, pc->swap_uuid) != 0) {
			snprintf(repl, sizeof repl, "resume=UUID=%s", pc->swap_uuid);
			word = repl;
		}
		if (word != w) {
			pc_detail_add(d, "%s -> %s", w, word);
			changed = true;
		}
		o += (size_t)snprintf(out + o, o < outlen ? outlen - o : 0, "%s%s", o ? " " : "", word);
	}
	for (; add && *add; add++) {
		bool there = false;

		snprintf(buf, sizeof buf, "%s", out);
		for (w = strtok_r(buf, " \t", &save); w && !there; w = strtok_r(NULL, " \t", &save))
			there = strcmp(w, *add) == 0;
		if (there)
			continue;
		o += (size_t)snprintf(out + o, o < outlen ? outlen - o : 0, "%s%s", o ? " " : "", *add);
		pc_detail_add(d, "added %s", *add);
		changed = true;
	}
	if (o >= outlen)
		return false; /* absurdly long: leave it */
	return changed;
}

static int put_assignment(struct rh_buf *out, const char *line, size_t value_off, const char *v)
{
	int rc = rh_buf_put(out, line, value_off);

	if (rc == 0)
		rc = pc_shquote(out, v);
	return rc < 0 ? rc : rh_buf_put(out, "\n", 1);
}

static int put_commented(struct rh_buf *out, const char *line, size_t n)
{
	int rc = rh_buf_putf(out, "# rehost: ");

	return rc < 0 ? rc : pc_out_line(out, line, n);
}

/* First pass: where things are set. */
static void scan(struct grub *g)
{
	for (size_t i = 0; i < g->n; i++) {
		const char *cur = g->f[i].text, *end = cur + g->f[i].len, *line;
		char name[64], v[GRUB_VALUE];
		unsigned lineno = 0;
		size_t n, off;

		while ((line = pc_next_line(&cur, end, &n)) != NULL) {
			lineno++;
			if (!pc_shvar_name(line, n, name, sizeof name, &off))
				continue;
			if (strcmp(name, "GRUB_CMDLINE_LINUX") == 0) {
				g->cmd_file = i;
				g->cmd_line = lineno;
				g->cmd_literal = pc_shvar_value(line + off, n - off, v, sizeof v);
			} else if (strcmp(name, "GRUB_TERMINAL") == 0) {
				g->have_terminal = true;
			} else if (strcmp(name, "GRUB_SERIAL_COMMAND") == 0) {
				g->have_serial_cmd = true;
			}
		}
	}
}

static int append(struct gfile *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int append(struct gfile *f, const char *fmt, ...)
{
	char line[GRUB_VALUE + 256];
	va_list ap;
	int rc = 0;

	if (!f->appended_header) {
		size_t l = rh_buf_len(f->out);

		if (l > 0 && rh_buf_str(f->out)[l - 1] != '\n')
			rc = rh_buf_put(f->out, "\n", 1);
		if (rc == 0)
			rc = rh_buf_putf(f->out, "\n# rehost: settings for the KVM target\n");
		f->appended_header = true;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	return rc < 0 ? rc : rh_buf_putf(f->out, "%s\n", line);
}

static int edit_file(struct rh_pc *pc, struct grub *g, size_t fi, const char *const *add)
{
	struct gfile *f = &g->f[fi];
	const char *cur = f->text, *end = cur + f->len, *line;
	char name[64], v[GRUB_VALUE], nv[GRUB_VALUE];
	unsigned lineno = 0;
	size_t n, off;
	int rc = 0;

	while (rc == 0 && (line = pc_next_line(&cur, end, &n)) != NULL) {
		bool target, lit;

		lineno++;
		if (!pc_shvar_name(line, n, name, sizeof name, &off)) {
			rc = pc_out_line(f->out, line, n);
			continue;
		}
		lit = pc_shvar_value(line + off, n - off, v, sizeof v);
		target = fi == g->cmd_file && lineno == g->cmd_line;
		if (lit && (strcmp(name, "GRUB_CMDLINE_LINUX") == 0 ||
			    strcmp(name, "GRUB_CMDLINE_LINUX_DEFAULT") == 0)) {
			struct pc_detail d = { .n = 0 };

			if (edit_cmdline(pc, v, target ? add : NULL, nv, sizeof nv, &d)) {
				rc = put_assignment(f->out, line, off, nv);
				pc_detail_add(&f->d, "%s: %s", name, d.s);
				continue;
			}
		} else if (!lit && target && add && *add) {
			/* Expansions: extend after it with what the raw text lacks. */
			char raw[GRUB_VALUE], *save = NULL, *w, missing[GRUB_VALUE] = "";
			size_t o = 0;

			rc = pc_out_line(f->out, line, n);
			for (const char *const *a = add; *a && rc == 0; a++) {
				bool there = false;

				snprintf(raw, sizeof raw, "%.*s", (int)(n - off), line + off);
				for (char *p = raw; *p; p++)
					if (*p == '"' || *p == '\'')
						*p = ' ';
				for (w = strtok_r(raw, " \t", &save); w && !there;
				     w = strtok_r(NULL, " \t", &save))
					there = strcmp(w, *a) == 0;
				if (!there)
					o += (size_t)snprintf(missing + o, o < sizeof missing ? sizeof missing - o : 0,
							      "%s%s", o ? " " : "", *a);
			}
			if (rc == 0 && o > 0 && o < sizeof missing) {
				rc = rh_buf_putf(f->out, "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX ");
				/* missing holds only caller arguments (checked to be plain). */
				if (rc == 0)
					rc = rh_buf_putf(f->out, "%s\"\n", missing);
				pc_detail_add(&f->d, "GRUB_CMDLINE_LINUX: added %s", missing);
			}
			continue;
		} else if (lit && strcmp(name, "GRUB_TERMINAL") == 0 && g->serial &&
			   strstr(v, "serial") == NULL) {
			rc = put_assignment(f->out, line, off, "console serial");
			pc_detail_add(&f->d, "GRUB_TERMINAL %s -> console serial", v[0] ? v : "(empty)");
			continue;
		} else if (lit && strcmp(name, "GRUB_DISABLE_LINUX_UUID") == 0 &&
			   strcmp(v, "true") == 0) {
			rc = put_commented(f->out, line, n);
			pc_detail_add(&f->d, "GRUB_DISABLE_LINUX_UUID=true commented out");
			continue;
		} else if (strcmp(name, "GRUB_FORCE_PARTUUID") == 0 && (!lit || v[0])) {
			rc = put_commented(f->out, line, n);
			pc_detail_add(&f->d, "GRUB_FORCE_PARTUUID commented out");
			continue;
		}
		rc = pc_out_line(f->out, line, n);
	}
	return rc;
}

static int load(struct rh_pc *pc, struct grub *g, const char *path)
{
	struct gfile *f;
	int rc;

	if (g->n == GRUB_MAX_FILES)
		return 0;
	f = &g->f[g->n];
	snprintf(f->path, sizeof f->path, "%s", path);
	rc = pc_read(pc, path, PC_MAX_FILE, &f->text, &f->len, NULL, NULL);
	if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL)
		return 0;
	if (rc < 0)
		return rc;
	rc = pc_out_new(&f->out);
	if (rc < 0) {
		free(f->text);
		return rc;
	}
	g->n++;
	return 0;
}

static int check_args(const char *const *add)
{
	for (; add && *add; add++)
		if ((*add)[0] == '\0' || strlen(*add) > 256 || strpbrk(*add, " \t\n\"'\\$`") != NULL)
			return rh_seterr(RH_ERR_INVAL,
					 "kernel argument '%s': one word without quotes, "
					 "backslashes, $ or ` is expected",
					 *add);
	return 0;
}

int rh_pc_grub_defaults(struct rh_pc *pc, const char *const *add_args)
{
	struct grub *g;
	char **names = NULL, path[PATH_MAX];
	size_t nn = 0;
	int rc;

	rc = check_args(add_args);
	if (rc < 0)
		return rc;
	if (!pc_exists(pc, GRUB_MAIN))
		return 0; /* GRUB legacy or another loader: the caller's business */
	g = calloc(1, sizeof *g);
	if (g == NULL)
		return RH_ERR_NOMEM;
	g->serial_speed = 115200;
	for (const char *const *a = add_args; a && *a; a++) {
		if (strncmp(*a, "console=ttyS", 12) == 0) {
			const char *p = *a + 12, *comma;

			g->serial = true;
			g->serial_unit = (unsigned)strtoul(p, NULL, 10) % 32;
			comma = strchr(p, ',');
			if (comma && comma[1] >= '1' && comma[1] <= '9') {
				unsigned long s = strtoul(comma + 1, NULL, 10);

				if (s >= 300 && s <= 4000000)
					g->serial_speed = s;
			}
		}
	}
	rc = load(pc, g, GRUB_MAIN);
	if (rc == 0 && g->n == 0) /* not a regular file */
		goto out;
	if (rc == 0) {
		rc = pc_list(pc, GRUB_DIR, &names, &nn);
		if (rc == RH_ERR_NOTFOUND)
			rc = 0;
	}
	for (size_t i = 0; i < nn && rc == 0; i++) {
		size_t l = strlen(names[i]);

		if (l < 5 || strcmp(names[i] + l - 4, ".cfg") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", GRUB_DIR, names[i]);
		rc = load(pc, g, path);
	}
	if (rc < 0)
		goto out;
	scan(g);
	for (size_t i = 0; i < g->n && rc == 0; i++)
		rc = edit_file(pc, g, i, add_args);
	/* Settings set nowhere go at the end of the main file. */
	if (rc == 0 && g->cmd_line == 0 && add_args && *add_args) {
		char v[GRUB_VALUE];
		size_t o = 0;
		struct rh_buf *q = NULL;

		v[0] = '\0';
		for (const char *const *a = add_args; *a; a++)
			o += (size_t)snprintf(v + o, o < sizeof v ? sizeof v - o : 0, "%s%s", o ? " " : "", *a);
		rc = rh_buf_new(GRUB_VALUE * 2, &q);
		if (rc == 0)
			rc = pc_shquote(q, v);
		if (rc == 0)
			rc = append(&g->f[0], "GRUB_CMDLINE_LINUX=%s", rh_buf_str(q));
		pc_detail_add(&g->f[0].d, "GRUB_CMDLINE_LINUX=%s added", v);
		rh_buf_free(q);
	}
	if (rc == 0 && g->serial && !g->have_terminal) {
		rc = append(&g->f[0], "GRUB_TERMINAL=\"console serial\"");
		pc_detail_add(&g->f[0].d, "GRUB_TERMINAL=\"console serial\" added");
	}
	if (rc == 0 && g->serial && !g->have_serial_cmd) {
		rc = append(&g->f[0], "GRUB_SERIAL_COMMAND=\"serial --unit=%u --speed=%lu\"",
			    g->serial_unit, g->serial_speed);
		pc_detail_add(&g->f[0].d, "GRUB_SERIAL_COMMAND added");
	}
	for (size_t i = 0; i < g->n && rc >= 0; i++)
		if (g->f[i].d.n)
			rc = pc_update(pc, g->f[i].path, rh_buf_str(g->f[i].out),
				       rh_buf_len(g->f[i].out), 0644, "modified", "%s", g->f[i].d.s);
out:
	pc_names_free(names);
	for (size_t i = 0; i < g->n; i++) {
		free(g->f[i].text);
		rh_buf_free(g->f[i].out);
	}
	free(g);
	return rc < 0 ? rc : 0;
}
