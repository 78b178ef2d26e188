/* ctest: timing (handshake deadlines: never beside a QEMU guest) */
/* The target's handshake gate: a silent connection is dropped at the
 * deadline, a full table evicts its oldest handshake, an agent gets
 * through while stallers fill the table, and an agent whose handshake was
 * dropped tries again. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/gate.h"
#include "rehost/net.h"
#include "rehost/tls.h"

static char keydir[] = "/tmp/rehost-test-gate.XXXXXX";
static struct rh_tls_ctx *target_ctx, *agent_ctx;

static int setup(void **state)
{
	(void)state;
	/* As rehost does: a write to a dropped connection is an error, not
	 * a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(keydir) == NULL)
		return -1;
	if (rh_tls_keygen(keydir) < 0 || rh_tls_ctx_new(RH_TLS_TARGET, keydir, &target_ctx) < 0 ||
	    rh_tls_ctx_new(RH_TLS_AGENT, keydir, &agent_ctx) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	static const char *const files[] = { "ca.pem", "ca.key", "target.pem", "target.key",
					     "agent.pem", "agent.key" };
	char p[256];

	(void)state;
	rh_tls_ctx_free(target_ctx);
	rh_tls_ctx_free(agent_ctx);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", keydir, files[i]);
		unlink(p);
	}
	rmdir(keydir);
	return 0;
}

/* A plain TCP connection that sends nothing. */
static int connect_silent(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	return fd;
}

/* Whether the target closed fd (EOF or reset within timeout_ms). */
static bool closed_by_peer(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static struct rh_gate *gate_on(unsigned max, unsigned timeout_ms, int *lfd, uint16_t *port)
{
	struct rh_gate_opts o = { .max_pending = max, .timeout_ms = timeout_ms };
	struct rh_gate *g = NULL;

	*lfd = rh_net_listen("127.0.0.1:0", 0, port);
	assert_true(*lfd >= 0);
	assert_int_equal(rh_gate_new(target_ctx, *lfd, &o, &g), 0);
	return g;
}

static void test_deadline(void **state)
{
	struct rh_tls_conn *c = NULL;
	uint16_t port;
	int lfd, fd;
	struct rh_gate *g = gate_on(8, 300, &lfd, &port);

	(void)state;
	fd = connect_silent(port);
	assert_int_equal(rh_gate_wait(g, -1, 100, &c), 0);
	assert_int_equal(rh_gate_pending(g), 1);
	assert_false(closed_by_peer(fd, 0));
	/* The deadline counts from the accept, whatever the peer does. */
	assert_int_equal(rh_gate_wait(g, -1, 400, &c), 0);
	assert_null(c);
	assert_int_equal(rh_gate_pending(g), 0);
	assert_true(closed_by_peer(fd, 1000));
	close(fd);
	rh_gate_free(g);
	close(lfd);
}

static void test_evicts_oldest(void **state)
{
	struct rh_tls_conn *c = NULL;
	uint16_t port;
	int lfd, fd[3];
	struct rh_gate *g = gate_on(2, 10000, &lfd, &port);

	(void)state;
	for (int i = 0; i < 3; i++)
		fd[i] = connect_silent(port);
	assert_int_equal(rh_gate_wait(g, -1, 200, &c), 0);
	assert_int_equal(rh_gate_pending(g), 2);
	assert_true(closed_by_peer(fd[0], 1000));
	assert_false(closed_by_peer(fd[1], 0));
	assert_false(closed_by_peer(fd[2], 0));
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	rh_gate_free(g);
	close(lfd);
}

struct dial_arg {
	uint16_t port;
	int rc;
};

static void *dial_thread(void *p)
{
	struct dial_arg *a = p;
	struct rh_tls_conn *c = NULL;
	char addr[32];

	snprintf(addr, sizeof addr, "127.0.0.1:%u", a->port);
	a->rc = rh_tls_dial(agent_ctx, addr, 0, 2000, 3, &c);
	if (a->rc == 0) {
		char byte;

		/* Hold the connection until the target has taken it. */
		a->rc = rh_tls_read(c, &byte, 1);
	}
	rh_tls_close(c);
	return NULL;
}

static void test_agent_through_stallers(void **state)
{
	struct rh_tls_conn *c = NULL;
	struct dial_arg a = { 0 };
	pthread_t t;
	uint16_t port;
	int lfd, fd[10], rc = 0;
	struct rh_gate *g = gate_on(4, 5000, &lfd, &port);

	(void)state;
	for (int i = 0; i < 10; i++)
		fd[i] = connect_silent(port);
	assert_int_equal(rh_gate_wait(g, -1, 100, &c), 0);
	assert_int_equal(rh_gate_pending(g), 4);
	a.port = port;
	assert_int_equal(pthread_create(&t, NULL, dial_thread, &a), 0);
	for (int i = 0; i < 50 && rc == 0; i++)
		rc = rh_gate_wait(g, -1, 100, &c);
	assert_int_equal(rc, 1);
	assert_non_null(c);
	assert_string_equal(rh_tls_peer_name(c), "rehost-agent");
	assert_int_equal(rh_tls_write(c, "x", 1), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	rh_tls_close(c);
	for (int i = 0; i < 10; i++)
		close(fd[i]);
	rh_gate_free(g);
	close(lfd);
}

/* rh_tls_dial: a handshake the target drops is tried again. */
static void test_dial_retries(void **state)
{
	struct rh_tls_conn *c = NULL;
	struct dial_arg a = { 0 };
	struct pollfd p;
	pthread_t t;
	uint16_t port;
	int lfd, fd, rc = 0;
	struct rh_gate *g;

	(void)state;
	lfd = rh_net_listen("127.0.0.1:0", 0, &port);
	assert_true(lfd >= 0);
	a.port = port;
	assert_int_equal(pthread_create(&t, NULL, dial_thread, &a), 0);
	/* The first attempt: taken and dropped, as a flooded target does. */
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(rh_gate_new(target_ctx, lfd, NULL, &g), 0);
	for (int i = 0; i < 50 && rc == 0; i++)
		rc = rh_gate_wait(g, -1, 100, &c);
	assert_int_equal(rc, 1);
	assert_int_equal(rh_tls_write(c, "x", 1), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	rh_tls_close(c);
	rh_gate_free(g);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_evicts_oldest),
		cmocka_unit_test(test_agent_through_stallers),
		cmocka_unit_test(test_dial_retries),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
