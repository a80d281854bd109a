/* error.c - error codes to text, and the library's version. */
#include "internal.h"

#include <string.h>

static const struct {
	int code;
	const char *text;
} own_errors[] = {
	{ TCPCHAT_EOF, "End of stream" },
	{ TCPCHAT_EQUEUE, "Output queue limit exceeded (the peer does not read)" },
	{ TCPCHAT_EIDLE, "Idle timeout" },
	{ TCPCHAT_EFULL, "Server full (too many clients)" },
	{ TCPCHAT_ESLOW, "Line not completed in time" },
	{ TCPCHAT_EAI_NONAME, "Unknown host" },
	{ TCPCHAT_EAI_AGAIN, "Temporary failure in name resolution" },
	{ TCPCHAT_EAI_FAIL, "Non-recoverable failure in name resolution" },
	{ TCPCHAT_EAI_FAMILY, "Address family not supported by the resolver" },
	{ TCPCHAT_EAI_MEMORY, "Out of memory in the resolver" },
	{ TCPCHAT_EAI_OTHER, "Name resolution failed" },
};

TCPCHAT_EXPORT const char *tcpchat_strerror(int err)
{
	size_t i;

	if (err == 0)
		return "Success";
	for (i = 0; i < TCPCHAT__ARRAY_SIZE(own_errors); i++)
		if (own_errors[i].code == err)
			return own_errors[i].text;
	/* Our own codes all lie below -2000; errno values are far smaller. */
	if (err < 0 && err > -2000) {
#ifdef HAVE_STRERRORDESC_NP
		/* A static text, or NULL for an errno the C library does not
		 * know; strerror() would format those into a per-thread buffer. */
		const char *text = strerrordesc_np(-err);
		if (text)
			return text;
#else
		return strerror(-err);
#endif
	}
	return "Unknown error";
}

TCPCHAT_EXPORT const char *tcpchat_version(void)
{
	return PACKAGE_VERSION;
}
