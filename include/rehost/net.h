/* TCP helpers: listening on ADDR:PORT (port 0 = any free port) and
 * connecting with a timeout, with errors mapped to the catalogue. */
#ifndef REHOST_NET_H
#define REHOST_NET_H

#include <stdint.h>

/* Split "HOST:PORT", "[V6]:PORT" or "HOST" (default_port) into host (cap
 * bytes) and *port. Returns 0 or RH_ERR_INVAL with a detail. */
int rh_net_split_addr(const char *addr, int default_port, char *host, unsigned long cap,
		      uint16_t *port);

/* Listen on addr; *port_out receives the bound port. Returns an fd or a
 * negative RH_ERR_*. */
int rh_net_listen(const char *addr, int default_port, uint16_t *port_out);

/* Connect to addr within timeout_ms. Returns an fd (with 60 s send and
 * receive timeouts set) or RH_ERR_CONNECT / RH_ERR_TIMEOUT (SMS.1807). */
int rh_net_connect(const char *addr, int default_port, int timeout_ms);

/* Write port to path atomically (tmp + rename) so readers never see a
 * partial number. Returns 0 or RH_ERR_IO. */
int rh_net_write_port_file(const char *path, uint16_t port);

#endif
