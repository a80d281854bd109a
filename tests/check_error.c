/* check_error.c - error codes to text (lib/error.c), the version string, and
 * the resolver error mapping tcpchat__sock_eai_error() (lib/sock.c). */
#include "internal.h"

#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "sock.h"

#include "testutil.h"

/* Every code of our own that tcpchat.h defines. */
static const int own_codes[] = {
	TCPCHAT_EOF,
	TCPCHAT_EAI_NONAME,
	TCPCHAT_EAI_AGAIN,
	TCPCHAT_EAI_FAIL,
	TCPCHAT_EAI_FAMILY,
	TCPCHAT_EAI_MEMORY,
	TCPCHAT_EAI_OTHER,
};

/* A sample of errno values the library returns negated. */
static const int errnos[] = {
	EPERM, ENOENT, EINTR, EBADF, EAGAIN, ENOMEM, EACCES, EINVAL, EMFILE,
	ENFILE, EPIPE, EBUSY, EMSGSIZE, EAFNOSUPPORT, EADDRINUSE,
	EADDRNOTAVAIL, ENETUNREACH, ECONNRESET, ENOTCONN, ETIMEDOUT,
	ECONNREFUSED, ECANCELED,
};

/* Codes that are neither 0, nor one of ours, nor a negated errno. */
static const int unknown_codes[] = {
	1, 2, 42, 4095, INT_MAX, -2500, -3000, -3007, -4094, -4096, -100000,
	INT_MIN, INT_MIN + 1,
};

START_TEST(test_strerror_success)
{
	const char *t = tcpchat_strerror(0);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_gt(strlen(t), 0);
}
END_TEST

START_TEST(test_strerror_own_codes)
{
	size_t i, j;
	const char *ti, *tj;

	for (i = 0; i < TCPCHAT__ARRAY_SIZE(own_codes); i++) {
		ti = tcpchat_strerror(own_codes[i]);
		ck_assert_msg(ti != NULL, "NULL text for %d", own_codes[i]);
		ck_assert_msg(ti[0] != '\0', "empty text for %d", own_codes[i]);
		ck_assert_str_ne(ti, tcpchat_strerror(0));
		/* Stable: the same static text each time. */
		ck_assert_str_eq(ti, tcpchat_strerror(own_codes[i]));
		for (j = i + 1; j < TCPCHAT__ARRAY_SIZE(own_codes); j++) {
			tj = tcpchat_strerror(own_codes[j]);
			ck_assert_msg(strcmp(ti, tj) != 0,
			              "codes %d and %d share the text \"%s\"",
			              own_codes[i], own_codes[j], ti);
		}
	}
}
END_TEST

START_TEST(test_strerror_eof)
{
	const char *t = tcpchat_strerror(TCPCHAT_EOF);

	ck_assert_ptr_nonnull(t);
	/* "End of stream", or any text that says so. */
	ck_assert_msg(strcasestr(t, "end") != NULL || strcasestr(t, "eof") != NULL,
	              "TCPCHAT_EOF text \"%s\" does not mention the end", t);
	/* Not the generic text of an unknown code. */
	ck_assert_str_ne(t, tcpchat_strerror(-2500));
}
END_TEST

START_TEST(test_strerror_errno)
{
	char expected[256];
	size_t i;

	/* strerror() may use a static buffer: copy its text first. */
	snprintf(expected, sizeof(expected), "%s", strerror(ECONNREFUSED));
	ck_assert_str_eq(tcpchat_strerror(-ECONNREFUSED), expected);

	for (i = 0; i < TCPCHAT__ARRAY_SIZE(errnos); i++) {
		snprintf(expected, sizeof(expected), "%s", strerror(errnos[i]));
		ck_assert_msg(strcmp(tcpchat_strerror(-errnos[i]), expected) == 0,
		              "-%d: \"%s\", expected \"%s\"", errnos[i],
		              tcpchat_strerror(-errnos[i]), expected);
	}
}
END_TEST

START_TEST(test_strerror_unknown)
{
	size_t i, j;
	const char *t;

	for (i = 0; i < TCPCHAT__ARRAY_SIZE(unknown_codes); i++) {
		t = tcpchat_strerror(unknown_codes[i]);
		ck_assert_msg(t != NULL, "NULL text for %d", unknown_codes[i]);
		ck_assert_msg(t[0] != '\0', "empty text for %d", unknown_codes[i]);
		ck_assert_str_ne(t, tcpchat_strerror(0));
		for (j = 0; j < TCPCHAT__ARRAY_SIZE(own_codes); j++)
			ck_assert_msg(strcmp(t, tcpchat_strerror(own_codes[j])) != 0,
			              "unknown code %d has the text of %d",
			              unknown_codes[i], own_codes[j]);
	}
	/* A generic text: the same for every code nobody knows. */
	ck_assert_str_eq(tcpchat_strerror(-2500), tcpchat_strerror(INT_MIN));
	ck_assert_str_eq(tcpchat_strerror(-2500), tcpchat_strerror(42));
}
END_TEST

START_TEST(test_version)
{
	char expected[64];
	const char *v = tcpchat_version();

	snprintf(expected, sizeof(expected), "%d.%d.%d", TCPCHAT_VERSION_MAJOR,
	         TCPCHAT_VERSION_MINOR, TCPCHAT_VERSION_PATCH);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, expected);
	/* The same static string every time. */
	ck_assert_ptr_eq(v, tcpchat_version());
}
END_TEST

START_TEST(test_eai_error_mapping)
{
	ck_assert_int_eq(tcpchat__sock_eai_error(0), 0);
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_NONAME), TCPCHAT_EAI_NONAME);
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_AGAIN), TCPCHAT_EAI_AGAIN);
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_FAIL), TCPCHAT_EAI_FAIL);
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_FAMILY), TCPCHAT_EAI_FAMILY);
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_MEMORY), TCPCHAT_EAI_MEMORY);
	/* "unknown host or service" */
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_SERVICE), TCPCHAT_EAI_NONAME);
#ifdef EAI_NODATA
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_NODATA), TCPCHAT_EAI_NONAME);
#endif
}
END_TEST

START_TEST(test_eai_error_system)
{
	errno = EMFILE;
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_SYSTEM), -EMFILE);
	errno = ECONNREFUSED;
	ck_assert_int_eq(tcpchat__sock_eai_error(EAI_SYSTEM), -ECONNREFUSED);
	/* EAI_SYSTEM without an errno is still a failure. */
	errno = 0;
	ck_assert_int_lt(tcpchat__sock_eai_error(EAI_SYSTEM), 0);
}
END_TEST

START_TEST(test_eai_error_unknown)
{
	ck_assert_int_eq(tcpchat__sock_eai_error(-12345), TCPCHAT_EAI_OTHER);
	ck_assert_int_eq(tcpchat__sock_eai_error(12345), TCPCHAT_EAI_OTHER);
	ck_assert_int_eq(tcpchat__sock_eai_error(INT_MIN), TCPCHAT_EAI_OTHER);
}
END_TEST

/* Each resolver error maps to a code with its own, specific text. */
START_TEST(test_eai_error_texts)
{
	static const int eais[] = { EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_FAMILY,
	                            EAI_MEMORY, -12345 };
	const char *generic = tcpchat_strerror(-2500);
	size_t i;
	int code;

	for (i = 0; i < TCPCHAT__ARRAY_SIZE(eais); i++) {
		code = tcpchat__sock_eai_error(eais[i]);
		ck_assert_int_lt(code, 0);
		ck_assert_str_ne(tcpchat_strerror(code), generic);
	}
}
END_TEST

static Suite *error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("strerror");

	tcase_add_test(tc, test_strerror_success);
	tcase_add_test(tc, test_strerror_own_codes);
	tcase_add_test(tc, test_strerror_eof);
	tcase_add_test(tc, test_strerror_errno);
	tcase_add_test(tc, test_strerror_unknown);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("eai");
	tcase_add_test(tc, test_eai_error_mapping);
	tcase_add_test(tc, test_eai_error_system);
	tcase_add_test(tc, test_eai_error_unknown);
	tcase_add_test(tc, test_eai_error_texts);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(error_suite)
