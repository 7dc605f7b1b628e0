/*
 * The TLS server context, loaded by the master.  The master reads the
 * certificate and the private key while it still may (the key file can
 * stay readable by root alone); every worker inherits the loaded
 * context at fork and never opens the files.  A reload loads a fresh
 * context and keeps the old one if that fails.
 */
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon.h"
#include "log.h"

/* The first error OpenSSL queued, for the message, then clear them. */
static void
tls_error(FILE *err, const char *what, const char *path)
{
	char		 buf[256] = "unknown error";
	unsigned long	 e;

	if ((e = ERR_get_error()) != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	fprintf(err, "%s %s: %s\n", what, path, buf);
}

/*
 * A server context with cfg's certificate chain and key, or NULL after a
 * line on err saying why.  NULL without an error when cfg has no TLS.
 */
void *
tls_load(const struct config *cfg, FILE *err, int *bad)
{
	SSL_CTX	*ctx;

	if (cfg->c_tls_cert[0] == '\0')
		return NULL;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_error(err, "tls", "context");
		(*bad)++;
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->c_tls_cert) != 1) {
		tls_error(err, "tls-cert", cfg->c_tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->c_tls_key,
	    SSL_FILETYPE_PEM) != 1) {
		tls_error(err, "tls-key", cfg->c_tls_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(err, "tls-key", cfg->c_tls_key);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	(*bad)++;
	return NULL;
}

void
tls_free(void *ctx)
{
	SSL_CTX_free(ctx);
}
