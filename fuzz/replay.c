/*
 * Corpus replay driver: a plain main() that feeds every file of the given
 * corpus directories to LLVMFuzzerTestOneInput, so `make check` exercises
 * each fuzz target without libFuzzer (zstd tests/fuzz/regression_driver.c
 * style). With libFuzzer, build the fuzz-*.c file alone with
 * -fsanitize=fuzzer instead of linking this file.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Corpus files are small by construction; refuse anything absurd. */
#define REPLAY_MAX_INPUT (64u << 20)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long len;
	int rc = -1;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > (long)REPLAY_MAX_INPUT ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: cannot size file\n", path);
		goto out;
	}
	/* +1 so a zero-length input still has a valid, distinct pointer. */
	data = malloc((size_t)len + 1);
	if (data == NULL || fread(data, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "replay: %s: read failed\n", path);
		goto out;
	}
	LLVMFuzzerTestOneInput(data, (size_t)len);
	rc = 0;
out:
	free(data);
	fclose(f);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	size_t total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent *de;
		char **names = NULL;
		size_t n = 0, cap = 0;
		DIR *d;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) != 0)
				return 1;
			total++;
			continue;
		}
		d = opendir(argv[i]);
		if (d == NULL) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (n == cap) {
				char **nn;

				cap = cap ? cap * 2 : 64;
				nn = realloc(names, cap * sizeof *names);
				if (nn == NULL)
					return 1;
				names = nn;
			}
			if (asprintf(&names[n], "%s/%s", argv[i], de->d_name) < 0)
				return 1;
			n++;
		}
		closedir(d);
		/* Sorted order makes a crash reproducible from the log line. */
		qsort(names, n, sizeof *names, cmp_names);
		for (size_t j = 0; j < n; j++) {
			if (stat(names[j], &st) == 0 && S_ISREG(st.st_mode)) {
				if (replay_file(names[j]) != 0)
					return 1;
				total++;
			}
			free(names[j]);
		}
		free(names);
	}
	if (total == 0) {
		fprintf(stderr, "replay: no corpus inputs found\n");
		return 1;
	}
	printf("replayed %zu inputs\n", total);
	return 0;
}
