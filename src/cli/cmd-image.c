/* rehost image: export, convert, inspect and check disk images (raw, qcow2,
 * vpc/VHD, vmdk). */
#define RH_LOG_COMPONENT "image"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/err.h"
#include "rehost/img.h"
#include "rehost/json.h"
#include "rehost/log.h"
#include "rehost/num.h"

static void usage_convert(FILE *out)
{
	fprintf(out,
		"usage: rehost image convert [-f FMT] -O FMT [-o OPTIONS] [-c] [-p] [--sync] IN OUT\n"
		"\n"
		"Convert a disk image. Unallocated and all-zero clusters are not copied.\n"
		"\n"
		"  -f FMT       input format (raw, qcow2, vpc, vmdk; default: detect)\n"
		"  -O FMT       output format (raw, qcow2, vpc or vhd, vmdk)\n"
		"  -o OPTIONS   comma-separated: compression_type=zlib|zstd, cluster_size=SIZE\n"
		"               (qcow2); subformat=dynamic|fixed, force_size (vpc);\n"
		"               subformat=monolithicSparse|streamOptimized (vmdk);\n"
		"               compression_level=N, threads=N\n"
		"  -c           compress (qcow2 clusters; vmdk means streamOptimized)\n"
		"  -p           show a progress bar even when stderr is not a terminal\n"
		"  --sync       return only once the image is on stable storage (fdatasync);\n"
		"               by default the kernel writes it back later, as with qemu-img\n");
}

static void usage_info(FILE *out)
{
	fprintf(out,
		"usage: rehost image info [-f FMT] [--json] IMG\n"
		"\n"
		"Print the format, virtual size, allocated size, cluster size and\n"
		"compression of an image.\n");
}

static void usage_check(FILE *out)
{
	fprintf(out,
		"usage: rehost image check [-f FMT] [--no-contents] IMG\n"
		"\n"
		"Check the image structure (qcow2 refcounts, leaked and overlapping clusters,\n"
		"tables out of bounds; vpc BAT; vmdk grain tables and markers), then the\n"
		"partition table and every filesystem's superblock and allocation metadata.\n"
		"Exit status 1 when the image is corrupt; leaked clusters alone are harmless.\n");
}

static void usage_export(FILE *out)
{
	fprintf(out,
		"usage: rehost image export --disk PATH -O FMT [-o OPTIONS] [-c] [--whole] [-p] [--sync] OUT\n"
		"\n"
		"Export a disk (block device or disk image) as an image: the partition table\n"
		"and the partitions up to the end of the last one, (end sector + 1) x sector\n"
		"size, or the whole disk with --whole (always for GPT). Blocks no filesystem\n"
		"uses are left out (they read as zeros). OUT must not be on the source disk.\n"
		"Options as for convert.\n");
}

static void usage_precheck(FILE *out)
{
	fprintf(out,
		"usage: rehost image precheck [--root DIR] [--disk PATH] [--json]\n"
		"\n"
		"Run the system-disk image pre-checks of the export guide on this machine\n"
		"(or a root tree): partition table type, EFI boot, IPv6 and multiple NICs,\n"
		"root=UUID on the kernel command line, fstab mounting other disks,\n"
		"/etc/shadow permissions, conflicting guest tools, virtio drivers in the\n"
		"initramfs, cloud-init. Exit status 3 when a check blocks the export.\n");
}

void usage_image(FILE *out)
{
	fprintf(out,
		"usage: rehost image COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  export    export a disk as an image (MBR and needed partitions, used blocks)\n"
		"  convert   convert an image between raw, qcow2, vpc and vmdk\n"
		"  info      show an image's format, sizes and compression\n"
		"  check     check an image's structure and its filesystems\n"
		"  precheck  run the system-disk export pre-checks\n"
		"\n");
	usage_export(out);
	fputc('\n', out);
	usage_convert(out);
	fputc('\n', out);
	usage_info(out);
	fputc('\n', out);
	usage_check(out);
	fputc('\n', out);
	usage_precheck(out);
}

/* ---- progress ---- */

struct progress {
	bool on;
	double start, last;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	double t = now_s(), rate, eta;
	char db[32], tb[32], rb[32], bar[31];
	int pct, w;

	if (!p->on || (t - p->last < 0.2 && done < total))
		return;
	p->last = t;
	pct = total ? (int)(100.0 * (double)done / (double)total) : 100;
	pct = pct > 100 ? 100 : pct;
	w = pct * 30 / 100;
	memset(bar, '#', (size_t)w);
	memset(bar + w, '.', (size_t)(30 - w));
	bar[30] = '\0';
	rate = t > p->start ? (double)done / (t - p->start) : 0;
	eta = rate > 0 ? (double)(total - done) / rate : -1;
	rh_format_size(done, db, sizeof db);
	rh_format_size(total, tb, sizeof tb);
	rh_format_size((uint64_t)rate, rb, sizeof rb);
	fprintf(stderr, "\r[%s] %3d%% %s/%s %s/s ETA %s%.0fs   ", bar, pct, db, tb, rb,
		eta < 0 ? "?" : "", eta < 0 ? 0 : eta);
}

static void progress_end(struct progress *p)
{
	if (p->on)
		fputc('\n', stderr);
}

/* ---- shared option handling ---- */

struct write_args {
	const char *out_fmt, *opts;
	bool compress, progress, sync;
};

static int make_create_opts(const char *cmd, const struct write_args *a, uint64_t size,
			    struct rh_img_create_opts *o)
{
	memset(o, 0, sizeof *o);
	if (a->out_fmt == NULL)
		return cli_usage_error(cmd, "-O FMT is required");
	if (rh_img_format_parse(a->out_fmt, &o->format) < 0)
		return cli_usage_error(cmd, "-O: %s", rh_lasterr());
	o->size = size;
	o->sync = a->sync;
	if (a->opts != NULL && rh_img_create_opts_parse(o, a->opts) < 0)
		return cli_usage_error(cmd, "-o: %s", rh_lasterr());
	if (a->compress) {
		if (o->format == RH_IMG_QCOW2)
			o->compress = true;
		else if (o->format == RH_IMG_VMDK)
			o->subformat = RH_IMG_SUB_VMDK_STREAM;
		else
			return cli_usage_error(cmd, "-c: %s images cannot be compressed (qcow2 and vmdk can)",
					       a->out_fmt);
	}
	if (o->format == RH_IMG_QCOW2 && o->compression_type == RH_IMG_COMPRESS_NONE)
		o->compression_type = RH_IMG_COMPRESS_ZLIB;
	return 0;
}

/* Write src (restricted to only, when set) into a new image at out. */
static int write_image(const char *cmd, struct rh_img *src, const char *out,
		       const struct rh_img_create_opts *o, const struct rh_extents *only,
		       bool progress)
{
	struct rh_img_writer *w = NULL;
	struct rh_img_copy_stats st;
	struct progress pg = { .on = progress || isatty(STDERR_FILENO) };
	struct stat sb;
	bool created = !(stat(out, &sb) == 0 && S_ISBLK(sb.st_mode));
	char vs[32], fs[32], rs[32];
	int rc;

	pg.start = pg.last = now_s();
	cli_signals_init(CLI_SIG_STOP, -1);
	rc = rh_img_create(out, o, &w);
	if (rc < 0) {
		cli_report(rc, "%s", out);
		return EXIT_FAIL;
	}
	rc = rh_img_copy(src, w, only, progress_cb, &pg, &cli_stop, &st);
	if (rc == 0)
		rc = rh_img_finalize(w);
	progress_end(&pg);
	if (rc < 0) {
		cli_report(rc, "%s", cmd);
		rh_img_writer_free(w);
		if (created)
			unlink(out);
		return EXIT_FAIL;
	}
	rh_format_size(rh_img_writer_size(w), vs, sizeof vs);
	rh_format_size(rh_img_writer_file_size(w), fs, sizeof fs);
	rh_format_size(st.read_bytes, rs, sizeof rs);
	rh_log_info("wrote %s: %s, virtual size %s, file %s; read %s in %.1f s", out,
		    rh_img_format_name(o->format), vs, fs, rs, now_s() - pg.start);
	rh_img_writer_free(w);
	return EXIT_OK;
}

static int open_image(const char *path, const char *fmt, struct rh_img **img)
{
	enum rh_img_format f = RH_IMG_AUTO;
	int rc;

	if (fmt != NULL && rh_img_format_parse(fmt, &f) < 0)
		return cli_usage_error("image", "-f: %s", rh_lasterr());
	rc = rh_img_open(path, f, img);
	if (rc < 0) {
		cli_report(rc, NULL);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Refuse to write out onto the source src (rh_img_check_output). */
static int guard_output(const char *src, const char *out)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		cli_report(rh_seterr_errno(errno, "%s", src), NULL);
		return EXIT_FAIL;
	}
	rc = rh_img_check_output(fd, out);
	close(fd);
	if (rc < 0) {
		cli_report(rc, "refusing to write %s", out);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* ---- convert ---- */

static int image_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sync", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct write_args a = { 0 };
	struct rh_img_create_opts o;
	const char *in_fmt = NULL;
	struct rh_img *src = NULL;
	struct stat si = { 0 }, so;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:O:o:cp", opts, NULL)) != -1) {
		switch (c) {
		case 'f': in_fmt = optarg; break;
		case 'O': a.out_fmt = optarg; break;
		case 'o': a.opts = optarg; break;
		case 'c': a.compress = true; break;
		case 'p': a.progress = true; break;
		case 's': a.sync = true; break;
		default: return cli_usage_error("image convert", "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("image convert", "expected IN and OUT");
	if (stat(argv[optind], &si) == 0 && stat(argv[optind + 1], &so) == 0 &&
	    si.st_dev == so.st_dev && si.st_ino == so.st_ino)
		return cli_usage_error("image convert", "IN and OUT are the same file");
	if ((rc = open_image(argv[optind], in_fmt, &src)) != EXIT_OK)
		return rc;
	/* A block device source: never write into a filesystem on it. */
	if (S_ISBLK(si.st_mode) && (rc = guard_output(argv[optind], argv[optind + 1])) != EXIT_OK) {
		rh_img_free(src);
		return rc;
	}
	if ((rc = make_create_opts("image convert", &a, rh_img_size(src), &o)) != 0) {
		rh_img_free(src);
		return rc;
	}
	rc = write_image("convert", src, argv[optind + 1], &o, NULL, a.progress);
	rh_img_free(src);
	return rc;
}

/* ---- info ---- */

static const char *compression_name(enum rh_img_compress c)
{
	switch (c) {
	case RH_IMG_COMPRESS_ZLIB: return "zlib";
	case RH_IMG_COMPRESS_ZSTD: return "zstd";
	default: return "none";
	}
}

static int image_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL;
	struct rh_img *img = NULL;
	struct rh_img_info in;
	bool json = false;
	char b1[32], b2[32], b3[32], b4[32];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'j': json = true; break;
		default: return cli_usage_error("image info", "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("image info", "expected one image");
	if ((rc = open_image(argv[optind], fmt, &img)) != EXIT_OK)
		return rc;
	rc = rh_img_get_info(img, &in);
	rh_img_free(img);
	if (rc < 0) {
		cli_report(rc, "%s", argv[optind]);
		return EXIT_FAIL;
	}
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:b}",
				      "filename", argv[optind], "format", rh_img_format_name(in.format),
				      "subformat", in.subformat, "virtual-size", (json_int_t)in.virtual_size,
				      "file-size", (json_int_t)in.file_size,
				      "actual-size", (json_int_t)in.disk_usage,
				      "data-size", (json_int_t)in.data_bytes,
				      "cluster-size", (json_int_t)in.cluster_size,
				      "compression", compression_name(in.compression),
				      "compressed-clusters", (json_int_t)in.compressed_clusters,
				      "dirty", in.dirty);

		if (j == NULL)
			return EXIT_FAIL;
		if (in.format == RH_IMG_QCOW2) {
			json_object_set_new(j, "refcount-bits", json_integer(in.refcount_bits));
			json_object_set_new(j, "corrupt", json_boolean(in.corrupt_flag));
		}
		rc = rh_json_dump_fd(STDOUT_FILENO, j, 1);
		json_decref(j);
		return rc < 0 ? EXIT_FAIL : EXIT_OK;
	}
	printf("image: %s\n", argv[optind]);
	printf("format: %s%s%s%s\n", rh_img_format_name(in.format), in.subformat[0] ? " (" : "",
	       in.subformat, in.subformat[0] ? ")" : "");
	printf("virtual size: %s (%" PRIu64 " bytes)\n", rh_format_size(in.virtual_size, b1, sizeof b1),
	       in.virtual_size);
	printf("file size: %s (%" PRIu64 " bytes)\n", rh_format_size(in.file_size, b2, sizeof b2),
	       in.file_size);
	printf("disk usage: %s\n", rh_format_size(in.disk_usage, b3, sizeof b3));
	printf("allocated data: %s (%.1f%% of the virtual size)\n",
	       rh_format_size(in.data_bytes, b4, sizeof b4),
	       in.virtual_size ? 100.0 * (double)in.data_bytes / (double)in.virtual_size : 0.0);
	if (in.cluster_size)
		printf("cluster size: %u\n", in.cluster_size);
	if (in.format == RH_IMG_QCOW2 || in.compression != RH_IMG_COMPRESS_NONE)
		printf("compression: %s (%" PRIu64 " compressed clusters)\n",
		       compression_name(in.compression), in.compressed_clusters);
	if (in.format == RH_IMG_QCOW2)
		printf("refcount bits: %u\n", in.refcount_bits);
	if (in.dirty)
		printf("dirty: yes (not closed cleanly)\n");
	if (in.corrupt_flag)
		printf("marked corrupt: yes\n");
	return EXIT_OK;
}

/* ---- check ---- */

static void check_print(void *ctx, enum rh_img_problem kind, const char *msg)
{
	const char *tag = kind == RH_IMG_PROBLEM_ERROR ? "ERROR"
			  : kind == RH_IMG_PROBLEM_LEAK ? "Leaked"
			  : kind == RH_IMG_PROBLEM_WARNING ? "Warning"
							   : "ok";

	printf("%-7s %s\n", tag, msg);
}

static int image_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-contents", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL, *path;
	struct rh_img_check_result res = { 0 };
	struct rh_img *img = NULL;
	enum rh_img_format f = RH_IMG_AUTO;
	bool contents = true;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'n': contents = false; break;
		default: return cli_usage_error("image check", "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("image check", "expected one image");
	path = argv[optind];
	if (fmt != NULL && rh_img_format_parse(fmt, &f) < 0)
		return cli_usage_error("image check", "-f: %s", rh_lasterr());
	rc = rh_img_open(path, f, &img);
	if (rc == RH_ERR_CORRUPT || rc == RH_ERR_TOOBIG) {
		printf("ERROR   %s\n", rh_lasterr());
		printf("%s is corrupt: its headers or tables cannot be used.\n", path);
		return EXIT_FAIL;
	}
	if (rc < 0) {
		cli_report(rc, NULL);
		return EXIT_FAIL;
	}
	printf("checking %s (%s, %" PRIu64 " bytes virtual)\n", path,
	       rh_img_format_name(rh_img_get_format(img)), rh_img_size(img));
	rc = rh_img_check(img, check_print, NULL, &res);
	if (rc == 0 && contents)
		rc = rh_img_check_contents(img, check_print, NULL, &res);
	rh_img_free(img);
	if (rc < 0) {
		cli_report(rc, "check %s", path);
		return EXIT_FAIL;
	}
	if (res.errors == 0 && res.leaks == 0)
		printf("No errors were found on the image%s.\n",
		       res.warnings ? " (see the warnings above)" : "");
	else
		printf("%" PRIu64 " error%s and %" PRIu64 " leaked cluster%s found on the image%s.\n",
		       res.errors, res.errors == 1 ? "" : "s", res.leaks, res.leaks == 1 ? "" : "s",
		       res.errors ? ": it is corrupt" : " (harmless: space is wasted, no data is lost)");
	return res.errors ? EXIT_FAIL : EXIT_OK;
}

/* ---- export ---- */

static int image_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "whole", no_argument, NULL, 'w' },
		{ "sync", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct write_args a = { 0 };
	struct rh_img_create_opts o;
	struct rh_img_export_plan *plan = NULL;
	struct rh_img *src = NULL;
	const char *disk = NULL, *out;
	bool whole = false;
	char b1[32], b2[32], b3[32];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "O:o:cp", opts, NULL)) != -1) {
		switch (c) {
		case 'd': disk = optarg; break;
		case 'w': whole = true; break;
		case 'O': a.out_fmt = optarg; break;
		case 'o': a.opts = optarg; break;
		case 'c': a.compress = true; break;
		case 'p': a.progress = true; break;
		case 's': a.sync = true; break;
		default: return cli_usage_error("image export", "bad option");
		}
	}
	if (disk == NULL || argc - optind != 1)
		return cli_usage_error("image export", "--disk PATH and OUT are required");
	out = argv[optind];
	if ((rc = guard_output(disk, out)) != EXIT_OK)
		return rc;
	if ((rc = open_image(disk, NULL, &src)) != EXIT_OK)
		return rc;
	rc = rh_img_export_plan(src, whole, &plan);
	if (rc < 0) {
		cli_report(rc, "%s", disk);
		rh_img_free(src);
		return EXIT_FAIL;
	}
	if (plan->note[0])
		rh_log_info("%s", plan->note);
	for (size_t i = 0; i < plan->nparts; i++) {
		const struct rh_img_export_part *p = &plan->parts[i];

		if (p->container)
			continue;
		rh_log_info("partition %u: sectors %" PRIu64 "-%" PRIu64 ", %s, %s%s, %s used%s",
			    p->number, p->start / plan->sector_size,
			    (p->start + p->size) / plan->sector_size - 1,
			    rh_format_size(p->size, b1, sizeof b1), p->fstype[0] ? p->fstype : "?",
			    p->fallback ? " (unreadable metadata: copied in full)" : "",
			    rh_format_size(p->used, b2, sizeof b2),
			    p->included ? "" : " - outside the exported range");
	}
	rh_format_size(plan->size, b1, sizeof b1);
	rh_format_size(plan->disk_size, b2, sizeof b2);
	rh_format_size(rh_extents_used(plan->used), b3, sizeof b3);
	if (plan->whole) {
		rh_log_info("exporting the whole %s disk (%s); at most %s to read", b2,
			    plan->ptable[0] ? plan->ptable : "no partition table", b3);
	} else {
		const struct rh_img_export_part *last = NULL;

		for (size_t i = 0; i < plan->nparts; i++)
			if (last == NULL || plan->parts[i].start + plan->parts[i].size > last->start + last->size)
				last = &plan->parts[i];
		rh_log_info("exporting %s of the %s disk: the %s partition table and partitions up to the end of partition %u, (%" PRIu64 " + 1) x %u bytes; at most %s to read",
			    b1, b2, plan->ptable, last ? last->number : 0,
			    plan->size / plan->sector_size - 1, plan->sector_size, b3);
	}
	if ((rc = make_create_opts("image export", &a, plan->size, &o)) == 0)
		rc = write_image("export", src, out, &o, plan->used, a.progress);
	rh_img_export_plan_free(plan);
	rh_img_free(src);
	return rc;
}

/* ---- precheck ---- */

static const char *status_tag(enum rh_check_status st)
{
	switch (st) {
	case RH_CHECK_OK: return "OK";
	case RH_CHECK_SKIPPED: return "SKIP";
	case RH_CHECK_WARNING: return "WARN";
	default: return "FAIL";
	}
}

static const char *status_word(enum rh_check_status st)
{
	switch (st) {
	case RH_CHECK_OK: return "ok";
	case RH_CHECK_SKIPPED: return "skipped";
	case RH_CHECK_WARNING: return "warning";
	default: return "error";
	}
}

#define PRECHECK_MAX_DISKS 64

static int image_precheck(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "disk", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = NULL, *disks[PRECHECK_MAX_DISKS];
	struct rh_img_precheck *p = NULL;
	size_t ndisks = 0, errors = 0, warnings = 0;
	bool json = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:d:j", opts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'd':
			if (ndisks == PRECHECK_MAX_DISKS)
				return cli_usage_error("image precheck", "at most %d --disk", PRECHECK_MAX_DISKS);
			disks[ndisks++] = optarg;
			break;
		case 'j': json = true; break;
		default: return cli_usage_error("image precheck", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("image precheck", "unexpected argument '%s'", argv[optind]);
	rc = rh_img_precheck_run(root, disks, ndisks, &p);
	if (rc < 0) {
		cli_report(rc, "precheck");
		return EXIT_FAIL;
	}
	if (json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < rh_img_precheck_count(p); i++) {
			const struct rh_img_precheck_result *r = rh_img_precheck_at(p, i);

			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "id", r->id,
							     "title", r->title, "status",
							     status_word(r->status), "message",
							     r->message, "hint", r->hint));
		}
		rc = rh_json_dump_fd(STDOUT_FILENO, arr, 1);
		json_decref(arr);
		if (rc < 0) {
			rh_img_precheck_free(p);
			return EXIT_FAIL;
		}
	}
	for (size_t i = 0; i < rh_img_precheck_count(p); i++) {
		const struct rh_img_precheck_result *r = rh_img_precheck_at(p, i);

		errors += r->status == RH_CHECK_ERROR;
		warnings += r->status == RH_CHECK_WARNING;
		if (json)
			continue;
		printf("[%-4s] %-26s %s\n", status_tag(r->status), r->title, r->message);
		if (r->hint != NULL && r->status != RH_CHECK_OK)
			printf("       %-26s -> %s\n", "", r->hint);
	}
	if (!json)
		printf("\n%zu error%s, %zu warning%s: %s\n", errors, errors == 1 ? "" : "s", warnings,
		       warnings == 1 ? "" : "s",
		       errors ? "fix the errors before exporting a system disk image"
			      : "a system disk image can be exported (rehost image export)");
	rh_img_precheck_free(p);
	return errors ? EXIT_BLOCKED : EXIT_OK;
}

/* ---- dispatch ---- */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *out);
} subs[] = {
	{ "export", image_export, usage_export },
	{ "convert", image_convert, usage_convert },
	{ "info", image_info, usage_info },
	{ "check", image_check, usage_check },
	{ "precheck", image_precheck, usage_precheck },
};

int cmd_image(int argc, char **argv)
{
	if (argc < 2) {
		usage_image(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		if (cli_wants_help(argc - 1, argv + 1)) {
			subs[i].usage(stdout);
			return EXIT_OK;
		}
		return subs[i].run(argc - 1, argv + 1);
	}
	return cli_usage_error("image", "unknown command '%s' (export, convert, info, check, precheck)",
			       argv[1]);
}
