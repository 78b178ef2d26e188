/* TCP listen/connect with bounded waits. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/net.h"
#include "rehost/num.h"

int rh_net_split_addr(const char *addr, int default_port, char *host, unsigned long cap,
		      uint16_t *port)
{
	const char *colon, *h = addr, *hend;
	int64_t p = default_port;

	*port = 0;
	if (addr == NULL || *addr == '\0')
		return rh_seterr(RH_ERR_INVAL, "empty address (expected HOST:PORT)");
	if (*addr == '[') {
		hend = strchr(addr, ']');
		if (hend == NULL)
			return rh_seterr(RH_ERR_INVAL, "address '%s': missing ']'", addr);
		h = addr + 1;
		colon = hend[1] == ':' ? hend + 1 : NULL;
		if (hend[1] != '\0' && colon == NULL)
			return rh_seterr(RH_ERR_INVAL, "address '%s': junk after ']'", addr);
	} else {
		colon = strrchr(addr, ':');
		if (colon != NULL && strchr(addr, ':') != colon)
			colon = NULL; /* bare IPv6 without brackets: no port */
		hend = colon ? colon : addr + strlen(addr);
	}
	if (colon != NULL && rh_parse_i64(colon + 1, 0, 65535, &p) < 0)
		return rh_seterr(RH_ERR_INVAL, "address '%s': port must be 0 to 65535", addr);
	if ((unsigned long)(hend - h) >= cap)
		return rh_seterr(RH_ERR_INVAL, "address '%s': host name too long", addr);
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int resolve(const char *addr, int default_port, bool passive, struct addrinfo **res,
		   char *host, size_t cap)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	char portstr[8];
	uint16_t port;
	int rc;

	rc = rh_net_split_addr(addr, default_port, host, cap, &port);
	if (rc < 0)
		return rc;
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof portstr, "%u", port);
	rc = getaddrinfo(*host ? host : NULL, portstr, &hints, res);
	if (rc != 0)
		return rh_seterr(passive ? RH_ERR_INVAL : RH_ERR_CONNECT, "cannot resolve '%s': %s",
				 host, gai_strerror(rc));
	return 0;
}

int rh_net_listen(const char *addr, int default_port, uint16_t *port_out)
{
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[256];
	int fd = -1, one = 1, rc;

	rc = resolve(addr, default_port, true, &res, host, sizeof host);
	if (rc < 0)
		return rc;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = rh_seterr_errno(errno, "socket");
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* A deep backlog: a burst of connections (a flood, or many agents)
	 * must not make the kernel drop a legitimate SYN, which costs the
	 * agent a second or more of retransmission. */
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		rc = rh_seterr_errno(errno, "cannot listen on %s", addr);
		goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = rh_seterr_errno(errno, "getsockname");
		goto out;
	}
	*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	rc = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return rc;
}

int rh_net_connect(const char *addr, int default_port, int timeout_ms)
{
	struct addrinfo *res = NULL, *ai;
	struct timeval tv = { .tv_sec = 60 };
	char host[256];
	int fd = -1, rc, err = ECONNREFUSED, one = 1;

	rc = resolve(addr, default_port, false, &res, host, sizeof host);
	if (rc < 0)
		return rc;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t el = sizeof err;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			err = errno;
			goto next;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		rc = poll(&pfd, 1, timeout_ms);
		if (rc == 0) {
			err = ETIMEDOUT;
			goto next;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
			if (rc < 0)
				err = errno;
			goto next;
		}
		/* Connected: back to blocking I/O with bounded waits. */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		freeaddrinfo(res);
		return fd;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return rh_seterr_sms(err == ETIMEDOUT ? RH_ERR_TIMEOUT : RH_ERR_CONNECT, "SMS.1807",
			     "cannot connect to target %s: %s", addr, strerror(err));
}

int rh_net_write_port_file(const char *path, uint16_t port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return rh_seterr_errno(errno, "cannot write port file %s", tmp);
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return rh_seterr_errno(errno, "cannot write port file %s", path);
	return 0;
}
