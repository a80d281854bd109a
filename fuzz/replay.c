/* replay.c - the main() of a fuzz harness built without libFuzzer: feeds
 * files through LLVMFuzzerTestOneInput, one call each, so that `make check`
 * replays the seed corpus and every crash ever found.
 *
 *   fuzz/replay_NAME [FILE|DIR]...
 *
 * Without arguments it replays $top_srcdir/fuzz/corpus/NAME/ and
 * $top_srcdir/fuzz/regressions/NAME/ (top_srcdir from the environment, as
 * `make check` sets it, else "."), and fails if it found no input at all,
 * so that a missing corpus cannot pass as a test.  A failing input aborts
 * (the harness's own checks, or a sanitizer in a sanitizer build); the name
 * of the file being replayed is printed first.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the harness (frame, room)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_MAX_INPUT (1 << 20)

static unsigned long replayed;

static int replay_file(const char *path)
{
	static uint8_t buf[REPLAY_MAX_INPUT];
	uint8_t *copy;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f)) {
		perror(path);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* An exact-size copy, so that a sanitizer sees any read past the end. */
	copy = malloc(n ? n : 1);
	if (!copy)
		return -1;
	memcpy(copy, buf, n);
	fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	replayed++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order; a missing dir is no error
 * unless required. */
static int replay_dir(const char *dir, int required)
{
	char **names = NULL, path[4096];
	size_t count = 0, cap = 0, i;
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d) {
		if (required)
			perror(dir);
		return required ? -1 : 0;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				return -1;
		}
		names[count++] = strdup(e->d_name);
	}
	closedir(d);
	if (count)
		qsort(names, count, sizeof(*names), by_name);
	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && replay_file(path) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char dir[4096];
	struct stat st;
	int i, rc = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (i = 1; i < argc; i++) {
			if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
				rc |= replay_dir(argv[i], 1);
			else
				rc |= replay_file(argv[i]);
		}
	} else {
		if (!top || !*top)
			top = ".";
		snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", top, FUZZ_NAME);
		rc |= replay_dir(dir, 1);
		snprintf(dir, sizeof(dir), "%s/fuzz/regressions/%s", top, FUZZ_NAME);
		rc |= replay_dir(dir, 0);
	}
	printf("fuzz_%s: %lu inputs replayed\n", FUZZ_NAME, replayed);
	if (replayed == 0) {
		printf("FAIL: no input found\n");
		return 1;
	}
	return rc ? 1 : 0;
}
